"""The kernel manager `hydra run` uses: local IPC sockets instead of unencrypted TCP.

ipykernel 7 warns "Kernel is running over TCP without encryption" on every start; a kernel
that only ever talks to its parent on this machine has no reason to open TCP ports at all.
"""

from __future__ import annotations

from jupyter_client.manager import AsyncKernelManager
from traitlets import default


class IPCKernelManager(AsyncKernelManager):
    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"

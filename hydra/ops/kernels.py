"""The kernel manager `hydra run` uses: local IPC sockets in a private folder, not TCP.

ipykernel 7 warns "Kernel is running over TCP without encryption" on every start; a kernel
that only ever talks to its parent on this machine has no reason to open TCP ports at all.
jupyter_client names IPC sockets "kernel-ipc-N" in the current directory and picks N by
looking at which files exist, so two kernels started at once from one directory (a cron run
and a run by hand, two test suites) could race for the same sockets and talk to each other's
kernel ("Invalid Signature"). Each manager therefore gets a private socket folder.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import default


class IPCKernelManager(AsyncKernelManager):
    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"

    @default("ip")
    def _default_ip(self) -> str:
        self._socket_dir = Path(tempfile.mkdtemp(prefix="hydra-kernel-"))
        return str(self._socket_dir / "kernel-ipc")

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        """ipykernel's launcher replaced by hydra.ops.kernel_main (the same kernel, without
        Python's teardown after its exit handlers); any other kernel's command as it is."""
        cmd = super().format_kernel_cmd(extra_arguments)
        if cmd[1:3] == ["-m", "ipykernel_launcher"]:
            cmd[2] = "hydra.ops.kernel_main"
        return cmd

    async def _async_cleanup_resources(self, restart: bool = False) -> Any:
        result = await super()._async_cleanup_resources(restart=restart)
        folder = getattr(self, "_socket_dir", None)
        if folder is not None and not restart:
            shutil.rmtree(folder, ignore_errors=True)
        return result

"""An orphaned kernel must not trade on.

jupyter_client starts a kernel with JPY_PARENT_PID set to the process that started it
(papermill under `hydra run`, or the Jupyter server), and ipykernel polls for the parent's
death once a second, then exits. Measured on ipykernel 7.4: the poller compares os.getppid()
with that pid, so it does fire when the parent is SIGKILLed (the kernel is re-parented to init
or to a subreaper), but only at its next one-second tick, and not at all when JPY_PARENT_PID is
missing or the kernel was started with ppid 1. So the order path checks synchronously before
every order: a kernel whose parent is gone sends nothing more.
"""

from __future__ import annotations

import os

from hydra.domain.errors import HydraError

_PARENT = int(os.environ.get("JPY_PARENT_PID") or 0)


class OrphanedError(HydraError, RuntimeError):
    """The process that started this kernel is gone: no more orders from here."""


def orphan_reason(parent: int = _PARENT) -> str | None:
    """Why this process must not send orders (None: it may). Only kernels are checked."""
    if parent <= 1:
        return None
    now = os.getppid()
    if now != parent:
        return (f"the process that started this kernel (pid {parent}) is gone (parent is now "
                f"pid {now}): an orphaned kernel sends no orders; rerun the date to resume")
    return None


def refuse_if_orphaned() -> None:
    why = orphan_reason()
    if why:
        raise OrphanedError(why)

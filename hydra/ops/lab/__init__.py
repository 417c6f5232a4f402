"""`hydra lab`: JupyterLab for the operator, with the audit trail served read-only.

The server listens on 127.0.0.1 only and requires a token. Its root is a small workspace in the
data directory that links the source notebooks (notebooks/), the audit trail (runs/) and a
scratch/ folder for interactive reruns. Executed notebooks are records: JupyterLab has no
read-only mode and a server running as root ignores file permissions, so the contents manager
below refuses (403) every save, rename, delete, upload and checkpoint under the audit trail.
A rerun is saved as a new notebook in scratch/, never over an executed one. No notebook
starts a kernel when it opens (JupyterLab's notebook_starts_kernel is off): a record opens
with no dialog, and the operator picks a kernel for a copy in scratch/ to rerun it. Sessions
are refused server-side for anything outside scratch/ as well.

    guards     the read-only audit trail and the scratch-only kernels
    workspace  settings, the workspace folder, a run copied for a rerun
    server     the token, the server's command line, the launch

May import: the leaves and domain.
"""

from __future__ import annotations

from hydra.ops.lab.guards import (
    KERNEL_REFUSAL,
    REFUSAL,
    LabError,
    ReadOnlyRunsContentsManager,
    ScratchOnlySessionManager,
)
from hydra.ops.lab.server import (
    launch,
    new_token,
    server_argv,
)
from hydra.ops.lab.workspace import (
    LAB_SETTINGS,
    copy_for_rerun,
    prepare_settings,
    prepare_workspace,
)

__all__ = [
    "KERNEL_REFUSAL",
    "LAB_SETTINGS",
    "REFUSAL",
    "LabError",
    "ReadOnlyRunsContentsManager",
    "ScratchOnlySessionManager",
    "copy_for_rerun",
    "launch",
    "new_token",
    "prepare_settings",
    "prepare_workspace",
    "server_argv",
]

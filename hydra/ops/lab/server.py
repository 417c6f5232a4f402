"""The JupyterLab server `hydra lab` starts: its token, its command line (the guards wired in)
and the launch."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from hydra.ops.lab.guards import LabError
from hydra.ops.lab.workspace import prepare_settings, prepare_workspace
from hydra.paths import NOTEBOOKS_DIR, DataPaths


def new_token() -> str:
    return secrets.token_urlsafe(24)


def server_argv(workspace: Path, runs_dir: Path, *, port: int, token: str,
                open_browser: bool = False,
                settings: dict[str, Path] | None = None) -> list[str]:
    """JupyterLab's command-line settings (they win over any jupyter config file)."""
    if not token:
        raise LabError("hydra lab needs a non-empty token (an empty one turns authentication off)")
    argv = [
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={workspace}",
        f"--ServerApp.open_browser={open_browser}",
        "--ServerApp.allow_remote_access=False",
        "--ServerApp.terminals_enabled=False",  # a shell would bypass the read-only trail
        "--ServerApp.contents_manager_class=hydra.ops.lab.guards.ReadOnlyRunsContentsManager",
        f"--ReadOnlyRunsContentsManager.read_only_dirs={runs_dir.resolve()}",
        f"--ReadOnlyRunsContentsManager.read_only_dirs={NOTEBOOKS_DIR.resolve()}",
        "--ServerApp.session_manager_class=hydra.ops.lab.guards.ScratchOnlySessionManager",
        f"--IdentityProvider.token={token}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        # no kernel is started (nor asked for) when a notebook opens: a record opens with no
        # dialog at all; a rerun in scratch/ starts its kernel when the operator picks one
        "--LabApp.notebook_starts_kernel=False",
    ]
    for name, folder in (settings or {}).items():
        argv.append(f"--LabApp.{name}={folder}")
    if os.geteuid() == 0:
        argv.append("--ServerApp.allow_root=True")  # JupyterLab refuses root without it
    return argv


def launch(paths: DataPaths, *, port: int, token: str, open_browser: bool = False) -> None:
    """Run JupyterLab in this process until it is stopped (Ctrl-C twice, or SIGTERM)."""
    from jupyterlab.labapp import LabApp

    ws = prepare_workspace(paths)
    LabApp.launch_instance(argv=server_argv(ws, paths.runs_dir, port=port, token=token,
                                            open_browser=open_browser,
                                            settings=prepare_settings(paths)))

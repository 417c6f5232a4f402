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
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from jupyter_server.services.sessions.sessionmanager import SessionManager
from tornado import web
from traitlets import List, Unicode

from hydra.domain.errors import HydraError
from hydra.paths import NOTEBOOKS_DIR, DataPaths

REFUSAL = ("{path} is in the audit trail, which is read-only: executed notebooks are records. "
           "To rerun one, use File > Save Notebook As... into scratch/ (or `hydra lab --rerun "
           "RUN_ID`), then pick a kernel for the copy (Kernel > Change Kernel...) and run it.")


class LabError(HydraError, RuntimeError):
    pass


class ReadOnlyRunsContentsManager(AsyncLargeFileManager):
    """JupyterLab's default contents manager, refusing every write under `read_only_dirs`."""

    read_only_dirs = List(Unicode(), config=True,
                          help="Folders (real paths) that are served read-only.")

    def protected(self, path: str) -> bool:
        """Whether an API path lands (through links, '..' and all) in a read-only folder."""
        real = Path(os.path.realpath(self._get_os_path(path.strip("/"))))
        for folder in self.read_only_dirs:
            root = Path(os.path.realpath(folder))
            if real == root or root in real.parents:
                return True
        return False

    def _refuse(self, path: str) -> None:
        if self.protected(path):
            raise web.HTTPError(403, REFUSAL.format(path=path or "/"))

    def is_writable(self, path: str) -> bool:
        return not self.protected(path) and super().is_writable(path)

    async def save(self, model: dict[str, Any], path: str = "") -> dict[str, Any]:
        self._refuse(path)
        return await super().save(model, path)

    async def delete_file(self, path: str) -> None:
        self._refuse(path)
        return await super().delete_file(path)

    async def rename_file(self, old_path: str, new_path: str) -> None:
        self._refuse(old_path)
        self._refuse(new_path)
        return await super().rename_file(old_path, new_path)

    async def create_checkpoint(self, path: str) -> dict[str, Any]:
        self._refuse(path)
        return await super().create_checkpoint(path)

    async def restore_checkpoint(self, checkpoint_id: str, path: str) -> None:
        self._refuse(path)
        return await super().restore_checkpoint(checkpoint_id, path)

    async def delete_checkpoint(self, checkpoint_id: str, path: str) -> None:
        self._refuse(path)
        return await super().delete_checkpoint(checkpoint_id, path)

    async def list_checkpoints(self, path: str) -> list[dict[str, Any]]:
        """None under the trail: listing would create an .ipynb_checkpoints/ folder there."""
        if self.protected(path):
            return []
        return await super().list_checkpoints(path)


KERNEL_REFUSAL = ("{path} is not in scratch/: records and source notebooks run no kernel here. "
                  "Use File > Save Notebook As... into scratch/ and run the copy there.")


class ScratchOnlySessionManager(SessionManager):
    """Kernels only for notebooks in scratch/: opening a record must not start one."""

    async def create_session(self, path: str | None = None, name: Any = None,
                             type: str | None = None, kernel_name: Any = None,
                             kernel_id: str | None = None) -> dict[str, Any]:
        parts = Path(path or "").parts
        if not parts or parts[0] != "scratch" or ".." in parts:
            raise web.HTTPError(403, KERNEL_REFUSAL.format(path=path or "/"))
        return await super().create_session(path=path, name=name, type=type,
                                             kernel_name=kernel_name, kernel_id=kernel_id)


# JupyterLab's own settings (names checked against its 4.x settings schemas): no news popup or
# update check, no autosave of anything, no kernel started for a notebook without one asked for,
# and the name column gets the file panel's width so two runs of one date read apart.
LAB_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false",
                                                     "checkForUpdates": False},
    "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
    "@jupyterlab/notebook-extension:tracker": {"autoStartDefaultKernel": False},
    "@jupyterlab/filebrowser-extension:browser": {"showLastModifiedColumn": False,
                                                   "showFileSizeColumn": False},
}


def prepare_settings(paths: DataPaths) -> dict[str, Path]:
    """The lab's settings, user settings and workspaces outside its root (not in the panel).

    Workspaces start empty at every launch, so no stale tab from an earlier session reopens.
    """
    state = paths.root / "lab-state"
    dirs = {"app_settings_dir": state / "app-settings",
            "user_settings_dir": state / "user-settings",
            "workspaces_dir": state / "workspaces"}
    shutil.rmtree(dirs["workspaces_dir"], ignore_errors=True)
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    (dirs["app_settings_dir"] / "overrides.json").write_text(json.dumps(LAB_SETTINGS, indent=1))
    return dirs


_WORKSPACE_README = """# Hydra lab workspace

- `notebooks/`: the source notebooks (a link to the checkout cron runs from), read-only. To run
  one by hand, File > Save Notebook As... into scratch/ and run the copy.
- `runs/`: the audit trail (a link to the data directory's runs), one folder per trade date,
  each record named <UTC start time>Z-<run id>.ipynb. Executed notebooks are records: this
  server refuses to save, rename or delete anything here, and opening one starts no kernel.
- `scratch/`: your interactive reruns. To rerun an executed notebook: File > Save Notebook
  As... into scratch/ (or start the lab with `hydra lab --rerun RUN_ID`, which copies it there
  and opens the copy), then pick a kernel (Kernel > Change Kernel... > Python 3, or the
  "No Kernel" button at the top right) and Run > Run All Cells. No notebook starts a kernel
  by itself here. A rerun of a trade date that already traded sends no order.
"""


def _link(link: Path, target: Path) -> None:
    if link.is_symlink():
        if Path(os.readlink(link)) == target:
            return
        link.unlink()
    elif link.exists():
        raise LabError(f"{link} exists and is not a link; move it away and start again")
    link.symlink_to(target, target_is_directory=True)


def prepare_workspace(paths: DataPaths) -> Path:
    """<data_dir>/lab with notebooks/ and runs/ linked in, and scratch/ for reruns."""
    ws = paths.root / "lab"
    (ws / "scratch").mkdir(parents=True, exist_ok=True)
    paths.runs_dir.mkdir(parents=True, exist_ok=True)
    _link(ws / "notebooks", NOTEBOOKS_DIR.resolve())
    _link(ws / "runs", paths.runs_dir.resolve())
    (ws / "README.md").write_text(_WORKSPACE_README)
    return ws


def copy_for_rerun(paths: DataPaths, output_path: str, run_id: str) -> Path:
    """A writable copy of an executed notebook in scratch/, to rerun without touching the record."""
    source = paths.root / output_path
    if not source.is_file():
        raise LabError(f"run {run_id}'s notebook {source} does not exist")
    ws = prepare_workspace(paths)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = ws / "scratch" / f"rerun-{run_id}-{stamp}.ipynb"
    shutil.copyfile(source, target)
    target.chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
    return target


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
        "--ServerApp.contents_manager_class=hydra.ops.lab.ReadOnlyRunsContentsManager",
        f"--ReadOnlyRunsContentsManager.read_only_dirs={runs_dir.resolve()}",
        f"--ReadOnlyRunsContentsManager.read_only_dirs={NOTEBOOKS_DIR.resolve()}",
        "--ServerApp.session_manager_class=hydra.ops.lab.ScratchOnlySessionManager",
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

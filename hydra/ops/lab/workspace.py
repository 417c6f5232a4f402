"""The lab's workspace: JupyterLab's settings, the folder it opens (runs/ linked read-only,
scratch/), and a run copied into scratch/ for a rerun."""

from __future__ import annotations

import json
import os
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hydra.ops.lab.guards import LabError
from hydra.paths import NOTEBOOKS_DIR, DataPaths

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

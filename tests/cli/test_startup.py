"""`hydra runs list` starts without the heavy stack (pandas, matplotlib, papermill, ib_insync,
scrapbook, nbformat, asyncio): the listing is a SQLite query, and every module imported at
start-up is paid by every operator command (benchmarks/runs_list.py times it). A real process
over a real run index, as an operator runs it; `-X importtime` lists every module it loaded.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from hydra.ops import notebook_runs as runs
from hydra.paths import DataPaths

HEAVY = ("pandas", "numpy", "matplotlib", "papermill", "ib_insync", "scrapbook", "nbformat",
         "nbclient", "pyarrow", "scipy", "sklearn", "asyncio",
         "pydantic")  # typer 0.29 validates every parameter with it: pyproject caps typer
HYDRA = Path(sys.executable).parent / "hydra"


def imported_by(*args: str, data_dir: Path) -> tuple[set[str], str]:
    """Every module the command loaded, by full name and by top-level package."""
    env = {**os.environ, "HYDRA_DATA_DIR": str(data_dir)}
    proc = subprocess.run([sys.executable, "-X", "importtime", str(HYDRA), *args], env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    names = set(re.findall(r"^import time:.*\|\s*(\S+)$", proc.stderr, flags=re.M))
    return names | {n.split(".")[0] for n in names}, proc.stdout


def index_one_run(root: Path) -> None:
    index = runs.RunIndex(DataPaths(root).run_index)
    when = datetime(2026, 11, 24, 16, tzinfo=UTC).isoformat(timespec="seconds")
    index.add(runs.RunRecord(
        run_id="0123456789", job="daily-cycle", notebook="notebooks/daily_cycle.ipynb",
        as_of="2026-11-24", parameters={}, started_at=when, ended_at=when, status="succeeded",
        reason="", output_path="runs/x.ipynb", sha256=None, hydra_version="test",
        git_commit=None, summary={"status": "no_trade", "signal": "FLAT"}))
    index.close()


def test_runs_list_imports_none_of_the_heavy_stack(tmp_path):
    index_one_run(tmp_path)
    modules, out = imported_by("runs", "list", data_dir=tmp_path)
    assert "0123456789" in out  # it really listed the run (and so ran the whole command)
    assert "hydra" in modules and "sqlite3" in modules  # the parse saw real imports
    assert not modules & set(HEAVY), f"`hydra runs list` imported {sorted(modules & set(HEAVY))}"
    # nor Hydra's own code a listing does not use: the rehearsal gateway's wire code (the
    # help of `sim-gateway` lists its faults only), the brokers, the schedule's calendar,
    # the notebook runner and the audit
    unneeded = ("hydra.gateway.", "hydra.broker.", "hydra.ops.schedule",
                "hydra.ops.notebook_runs.execution", "hydra.ops.notebook_runs.audit")
    assert not {m for m in modules if m.startswith(unneeded)} - {"hydra.gateway.faults"}


def test_the_check_sees_a_heavy_import(tmp_path):
    """The check above can fail: the same parse sees pandas where a command does load it."""
    modules, _ = imported_by("fill-report", data_dir=tmp_path)
    assert "pandas" in modules

"""notebooks/review.ipynb reads history across runs from the run index."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import scrapbook as sb

from tests.kit import REPO, run_hydra

pytestmark = pytest.mark.slow


def test_review_totals_match_the_indexed_runs(data_dir, tmp_path, traded_run):
    # two trading days: the session's `hydra run` of 2026-11-24 (tests/shared_data.py: pinned
    # LONG, 2 contracts), copied, then 2026-11-25 at 1 contract (it sells one)
    assert traded_run.info["returncode"] == 0, traded_run.info["stderr"]
    traded_run.copy_to(data_dir)
    proc = run_hydra("run", "daily-cycle", "--as-of", "2026-11-25", "-p", "contracts=1",
                     data_dir=data_dir)
    assert proc.returncode == 0, proc.stderr
    run_hydra("run", "daily-cycle", "--as-of", "2026-11-26", data_dir=data_dir)  # skipped
    out = tmp_path / "review.ipynb"
    papermill = str(Path(sys.executable).parent / "papermill")
    proc = subprocess.run([papermill, str(REPO / "notebooks" / "review.ipynb"), str(out),
                           "-p", "data_dir", str(data_dir), "--cwd", str(REPO)],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    review = sb.read_notebook(str(out)).scraps["review"].data
    with sqlite3.connect(data_dir / "runs" / "index.sqlite") as con:
        summaries = [json.loads(s) for (s,) in con.execute(
            "SELECT summary FROM runs WHERE summary IS NOT NULL")]
    assert review["runs"] == 3
    assert review["by_status"] == {"succeeded": 2, "skipped": 1}
    assert review["trade_dates"] == 2
    assert review["fills"] == sum(s["fills"] for s in summaries)
    assert review["orders_sent"] == sum(s["orders_sent"] for s in summaries)
    assert review["last_net_liquidation"] == pytest.approx(
        next(s for s in summaries if s["as_of"] == "2026-11-25")["net_liquidation"])

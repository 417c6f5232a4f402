"""The reconciliation notebook end to end, as cron runs it: `hydra run reconciliation` through
papermill into the audit trail, scraps read back with scrapbook, on real simulated history."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import nbformat
import pytest
import scrapbook as sb

from hydra.cycle.replay import replay
from hydra.paths import DataPaths
from hydra.reconcile import fill_report
from tests.kit import run_hydra

pytestmark = pytest.mark.slow

END = "2026-11-24"
TWAP_CONFIG = "[execution]\ntwap_participation = 0.0001\n[risk]\nmax_orders_per_minute = 1000\n"


def mixed_history(root: Path) -> Path:
    """Seven weeks of real cycles: limit-patience first, then every order sliced by TWAP."""
    replay(start=date(2026, 10, 5), end=date(2026, 10, 30), contracts=3, data_dir=root)
    (root / "hydra.toml").write_text(TWAP_CONFIG)
    replay(start=date(2026, 11, 2), end=date.fromisoformat(END), contracts=3, data_dir=root)
    return root


@pytest.fixture
def data(mixed_history_run, tmp_path) -> Path:
    """This test's copy of mixed_history, made once a session (tests/reconcile/conftest.py)."""
    return mixed_history_run.copy_to(tmp_path / "data")


def index_rows(data_dir: Path) -> list[dict]:
    with sqlite3.connect(DataPaths(data_dir).run_index) as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute("SELECT * FROM runs ORDER BY started_at")]


def outputs_text(nb) -> str:
    parts = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            data = o.get("data", {})
            parts.append(data.get("text/plain", "") + data.get("text/markdown", ""))
            parts.append(o.get("text", "") + o.get("evalue", ""))
    return "\n".join(parts)


def test_run_reconciliation_records_the_report_and_its_scraps(data):
    proc = run_hydra("run", "reconciliation", "--as-of", END, data_dir=data)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    [row] = index_rows(data)
    assert row["status"] == "succeeded" and row["job"] == "reconciliation"
    out = data / row["output_path"]
    assert out.parent == data / "runs" / "reconciliation" / "2026" / "11" / "24"

    scraps = sb.read_notebook(str(out)).scraps
    summary, breaks = scraps["reconciliation"].data, scraps["breaks"].data
    assert breaks == 0 and summary["breaks"] == 0
    assert summary["run_id"] == row["run_id"] and summary["until"] == END
    # the notebook and the CLI share one implementation: same numbers in-process
    same = fill_report.build(as_of=END, data_dir=str(data), run_id=row["run_id"]).summary
    assert summary == same
    # enough fills on both routes for numbers, and the record says what they mean
    assert summary["status"] == "reconciled"
    slip = summary["slippage"]
    assert slip["routes"]["limit-patience"]["sufficient"]
    assert slip["routes"]["twap"]["sufficient"]
    ticks = slip["overall"]["stats"]["ticks"]
    assert ticks["bias"] == pytest.approx(ticks["mean_actual"] - ticks["mean_predicted"])
    assert summary["bias_colour"] in ("green", "yellow", "red")
    b = summary["broker_check"]
    assert b["matched"] == b["journal_fills"] == summary["fills"]["fills"] > 20

    nb = nbformat.read(out, as_version=4)
    first = outputs_text(nbformat.from_dict({"cells": nb.cells[:4]}))
    assert "RECONCILED" in first and "INCOMPLETE" not in first  # the banner was updated
    text = outputs_text(nb)
    assert "Zero breaks" in text and "bias" in text
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 4  # predicted vs actual, over time, cumulative cost, position


def test_a_break_fails_the_run_after_recording_everything(data):
    with sqlite3.connect(DataPaths(data).journal_db) as con:
        [(lost,)] = con.execute("SELECT exec_id FROM fills ORDER BY fill_time DESC LIMIT 1")
        con.execute("DELETE FROM fills WHERE exec_id = ?", (lost,))
    proc = run_hydra("run", "reconciliation", "--as-of", END, data_dir=data)
    assert proc.returncode == 1, proc.stderr + proc.stdout
    [row] = index_rows(data)
    assert row["status"] == "failed" and "BreaksFound" in row["reason"]
    assert "missing_in_journal" in row["reason"]
    scraps = sb.read_notebook(str(data / row["output_path"])).scraps
    assert scraps["breaks"].data == 2  # the lost fill, and the position it leaves short
    listed = scraps["reconciliation"].data["broker_check"]["break_list"]
    assert {b["kind"] for b in listed} == {"missing_in_journal", "position_mismatch"}
    assert any(b["exec_id"] == lost for b in listed)


def test_empty_data_dir_says_no_fills_and_succeeds(tmp_path):
    empty = tmp_path / "empty"
    proc = run_hydra("run", "reconciliation", "--as-of", END, "-p", "since", "2026-11-01",
                     data_dir=empty)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    [row] = index_rows(empty)
    nb = nbformat.read(empty / row["output_path"], as_version=4)
    summary = sb.read_notebook(str(empty / row["output_path"])).scraps["reconciliation"].data
    assert summary["status"] == "no_fills" and summary["since"] == "2026-11-01"
    text = outputs_text(nb)
    assert "No fills." in text and "insufficient data" in text
    assert "no simulated account" in text
    assert not DataPaths(empty).journal_db.exists() and not DataPaths(empty).sim_db.exists()

"""`hydra fill-report` as an operator types it: the installed CLI on real simulated history."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from hydra.paths import DataPaths
from tests.kit import run_hydra
from tests.reconcile.test_notebook import END


@pytest.fixture(scope="module")
def history(mixed_history_run, tmp_path_factory) -> Path:
    """The module's copy of mixed_history, made once a session (tests/reconcile/conftest.py)."""
    return mixed_history_run.copy_to(tmp_path_factory.mktemp("cli") / "data")


def journal_count(data_dir: Path) -> int:
    with sqlite3.connect(DataPaths(data_dir).journal_db) as con:
        return con.execute("SELECT COUNT(*) FROM fills").fetchone()[0]


def test_empty_journal_says_so_plainly(tmp_path):
    empty = tmp_path / "empty"
    proc = run_hydra("fill-report", "--until", END, "--reconcile", data_dir=empty)
    assert proc.returncode == 0, proc.stderr
    assert "No fills" in proc.stdout and "no fill journal yet" in proc.stdout
    assert "insufficient data" in proc.stdout
    assert "zero breaks: nothing to compare" in proc.stdout
    assert not empty.exists()  # a report never creates a data directory


def test_fill_table_with_totals_and_limit(history):
    n = journal_count(history)
    proc = run_hydra("fill-report", "--until", END, "--limit", "3", data_dir=history)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"(the 3 most recent of {n} fills; --limit 0 lists all)" in out
    assert out.count("HYD-ZO-") == 3
    assert f"Totals: {n} fill(s)" in out and "notional USD " in out and "commissions USD " in out
    assert "Slippage" not in out and "Broker reconciliation" not in out  # only with --reconcile


def test_reconcile_prints_metrics_verdicts_and_zero_breaks(history):
    proc = run_hydra("fill-report", "--until", END, "--reconcile", data_dir=history)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for words in ("slippage in ticks per contract", "slippage in bps per contract",
                  "slippage in usd per contract", "multiplier", "rmse", "p95 act",
                  "limit-patience", "twap"):
        assert words in out, words
    assert any(f"({c})" in out for c in ("GREEN", "YELLOW", "RED"))
    assert "calibrated" in out
    assert "zero breaks" in out and "RECONCILED" in out


def test_below_the_minimum_sample_it_says_insufficient_data(history):
    proc = run_hydra("fill-report", "--since", END, "--until", END, "--reconcile",
                     data_dir=history)
    assert proc.returncode == 0, proc.stderr
    assert "overall: insufficient data" in proc.stdout
    assert "slippage in ticks" not in proc.stdout  # no numbers below the minimum


def test_a_break_is_listed_and_exits_1(history, tmp_path):
    data = Path(shutil.copytree(history, tmp_path / "data"))
    with sqlite3.connect(DataPaths(data).journal_db) as con:
        [(lost,)] = con.execute("SELECT exec_id FROM fills ORDER BY fill_time LIMIT 1")
        con.execute("DELETE FROM fills WHERE exec_id = ?", (lost,))
    proc = run_hydra("fill-report", "--until", END, "--reconcile", "--broker", "sim",
                     data_dir=data)
    assert proc.returncode == 1, proc.stderr
    assert "2 BREAK(S)" in proc.stdout and "missing_in_journal" in proc.stdout
    assert lost in proc.stdout and "BREAKS:" in proc.stdout
    # the same journal without the broker check lists fills and does not fail
    assert run_hydra("fill-report", "--until", END, "--reconcile", "--broker", "none",
                     data_dir=data).returncode == 0


def test_bad_input_is_refused_with_what_to_fix(history):
    proc = run_hydra("fill-report", "--until", "2026-13-01", "--symbol", "XX", "--reconcile",
                     "--broker", "abc", data_dir=history)
    assert proc.returncode == 2
    for words in ("until must be a date", "unknown market 'XX'", "broker must be one of"):
        assert words in proc.stderr, words


def test_default_range_covers_fills_the_simulator_dated_ahead_of_today(tmp_path):
    """With no end date, a fill on a simulated trade date after today is still reported."""
    from dataclasses import replace

    from hydra.execution.journal import Journal
    from hydra.reconcile import fill_report
    from tests.execution.test_journal import FILL

    paths = DataPaths(tmp_path / "data")
    with Journal(paths.journal_db) as journal:
        journal.record_fill(replace(FILL, as_of="2099-01-02"))
    rep = fill_report.open_report(data_dir=str(paths.root), broker="none", market="ZO")
    assert str(rep.params.until) == "2099-01-02"
    assert len(fill_report.fill_list(rep).fills) == 1
    bounded = fill_report.open_report(data_dir=str(paths.root), broker="none", market="ZO",
                                      until="2026-11-24")
    assert len(fill_report.fill_list(bounded).fills) == 0  # an explicit end is kept

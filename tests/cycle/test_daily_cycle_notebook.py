"""End to end as an operator (or cron) meets it: `hydra run` and plain papermill, real notebooks."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import scrapbook as sb

from tests.kit import REPO, TRADE_DATE, broker_orders, pin_signal, run_hydra

pytestmark = pytest.mark.slow


def index_rows(data_dir: Path) -> list[dict]:
    with sqlite3.connect(data_dir / "runs" / "index.sqlite") as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute("SELECT * FROM runs ORDER BY started_at")]


def journal_fills(data_dir: Path) -> list[dict]:
    with sqlite3.connect(data_dir / "journal" / "journal.sqlite") as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute("SELECT * FROM fills ORDER BY exec_id")]


@pytest.fixture
def traded(data_dir, traded_run) -> Path:
    """This test's copy of the session's one `hydra run` of TRADE_DATE (tests/shared_data.py:
    pinned LONG, 2 contracts), checked to have succeeded."""
    ran = traded_run.info
    assert ran["returncode"] == 0, ran["stderr"] + ran["stdout"]
    return traded_run.copy_to(data_dir)


def test_run_writes_indexed_notebook_whose_scraps_match_the_journal(traded, traded_run):
    data_dir = traded  # a copy of the run: the paths it printed name the template
    stdout = traded_run.info["stdout"]
    [row] = index_rows(data_dir)
    out = data_dir / row["output_path"]
    # where it is and what happened, on the command's output
    assert str(traded_run.template / row["output_path"]) in stdout
    assert "signal=" in stdout and "fills=" in stdout
    assert row["status"] == "succeeded" and row["sha256"]
    assert out.parent == data_dir / "runs" / "daily_cycle" / "2026" / "11" / "24"
    assert out.name.endswith(f"-{row['run_id']}.ipynb")
    params = json.loads(row["parameters"])
    assert params["contracts"] == 2 and params["as_of"] == TRADE_DATE
    assert not out.stat().st_mode & stat.S_IWUSR  # the record is read-only

    summary = sb.read_notebook(str(out)).scraps["summary"].data
    for key in ("as_of", "market", "signal", "target_position", "position_before",
                "position_after", "orders_sent", "fills", "blocked"):
        assert key in summary
    assert summary["as_of"] == TRADE_DATE and summary["market"] == "ZO"
    fills = journal_fills(data_dir)
    assert summary["fills"] == len(fills)
    assert summary["filled_contracts"] == sum(f["quantity"] for f in fills)
    assert summary["orders_sent"] == 1  # one parent order ...
    assert summary["child_orders"] == len(broker_orders(data_dir))  # ... worked by children
    assert summary["position_after"] == summary["target_position"]
    assert json.loads(row["summary"]) == summary

    # the first screen of the executed notebook says what happened (banner updated in place)
    nb = nbformat.read(out, as_version=4)
    first_outputs = [o for c in nb.cells[:4] if c.cell_type == "code" for o in c.outputs]
    banner = " ".join(o.get("data", {}).get("text/plain", "") for o in first_outputs)
    assert summary["status"].replace("_", " ").upper() in banner
    assert "INCOMPLETE" not in banner
    assert nb.metadata["hydra"]["status"] == "succeeded"
    # a plot was drawn
    assert any("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for o in c.outputs)


def test_rerun_for_the_same_date_sends_no_order(traded):
    data_dir = traded  # the first run (traded_run: it traded), then the same command again
    orders = broker_orders(data_dir)
    fills = journal_fills(data_dir)
    assert orders and fills
    second = run_hydra("run", "daily-cycle", "--as-of", TRADE_DATE, "-p", "contracts", "2",
                       data_dir=data_dir)
    assert second.returncode == 0, second.stderr
    assert broker_orders(data_dir) == orders
    assert journal_fills(data_dir) == fills
    rows = index_rows(data_dir)
    assert len(rows) == 2 and rows[0]["output_path"] != rows[1]["output_path"]
    s1, s2 = (json.loads(r["summary"]) for r in rows)
    assert s2["orders_sent"] == 0
    assert s1["orders_sent"]  # the first run traded (pinned LONG), so the rerun had work to skip
    assert s2["status"] == "already_done"
    assert "already done" in second.stdout
    assert s2["position_after"] == s1["position_after"]


def test_invalid_parameter_fails_loudly_keeps_notebook_and_sends_nothing(data_dir):
    # a value the notebook's first cell refuses (not a paper or live port) fails the run there
    proc = run_hydra("run", "daily-cycle", "--as-of", TRADE_DATE, "-p", "broker=ib",
                     "-p", "port=9", data_dir=data_dir)
    assert proc.returncode == 1
    assert "FAILED" in proc.stderr
    [row] = index_rows(data_dir)
    assert row["status"] == "failed"
    assert "refused before connecting" in row["reason"]
    out = data_dir / row["output_path"]
    assert out.exists() and row["sha256"]
    nb = nbformat.read(out, as_version=4)
    assert "papermill-error-cell-tag" in nb.cells[0].metadata.get("tags", [])
    assert "hydra-run-failed" in nb.cells[1].metadata.get("tags", [])
    assert broker_orders(data_dir) == []
    # the banner says what failed and that nothing reached the broker
    banner = nb.cells[1].source
    assert "refused before connecting" in banner
    assert f"Orders: no order was sent for ZO-{TRADE_DATE.replace('-', '')} by this run" in banner


@pytest.mark.parametrize("market", [[], ["-p", "market=zo"]], ids=["default", "lower-case"])
def test_a_run_that_fails_after_its_orders_says_which_were_sent(data_dir, market):
    """The kernel dies once every order is done (the fault point `during_summary`): the parent
    marks the run failed and the banner lists the orders this run sent, as the broker has them
    (also when the market was typed in lower case: the cycle trades it as ZO)."""
    pin_signal(data_dir, +1)  # the scenario needs orders on TRADE_DATE
    proc = run_hydra("run", "daily-cycle", "--as-of", TRADE_DATE, "-p", "contracts=2", *market,
                     data_dir=data_dir, env={"HYDRA_KILL_AT": "during_summary"})
    assert proc.returncode == 1, proc.stderr
    [row] = index_rows(data_dir)
    assert row["status"] == "failed" and "dead kernel" in row["reason"]
    nb = nbformat.read(data_dir / row["output_path"], as_version=4)
    [cell] = [c for c in nb.cells if "hydra-run-failed" in c.metadata.get("tags", [])]
    sent = broker_orders(data_dir)
    assert sent  # the cycle did trade before its kernel died
    n = len(sent)
    said = f"{n} order{'s were' if n > 1 else ' was'} sent for ZO-{TRADE_DATE.replace('-', '')}"
    assert f"Orders: {said} by this run: " in cell.source
    assert all(ref in cell.source for ref, _status, _filled in sent)
    assert "disagree" not in cell.source
    assert nb.metadata["hydra"]["orders"].startswith(said)


@pytest.mark.parametrize(("param", "message"), [
    ("contracts two", "contracts must be int, got 'two'"),
    ("contracts=-1", "contracts must be >= 0, got -1"),
    ("broker=foo", "broker must be one of"),
])
def test_a_badly_typed_or_out_of_range_value_is_refused_before_any_notebook_runs(
        data_dir, param, message):
    proc = run_hydra("run", "daily-cycle", "--as-of", TRADE_DATE, "-p", *param.split(),
                     data_dir=data_dir, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert message in " ".join(proc.stderr.split())
    assert not (data_dir / "runs" / "index.sqlite").exists()


def test_unknown_parameter_and_bad_date_are_usage_errors(data_dir):
    proc = run_hydra("run", "daily-cycle", "-p", "contrats=2", data_dir=data_dir)
    assert proc.returncode == 2 and "unknown parameter 'contrats'" in proc.stderr
    proc = run_hydra("run", "daily-cycle", "--as-of", "26-11-2026", data_dir=data_dir)
    assert proc.returncode == 2 and "--as-of must be a date" in proc.stderr
    assert not (data_dir / "runs" / "index.sqlite").exists()


def test_plain_papermill_runs_the_same_cycle(data_dir, tmp_path):
    out = tmp_path / "mine.ipynb"
    env = dict(os.environ, HYDRA_DATA_DIR=str(tmp_path / "elsewhere"))
    papermill = str(Path(sys.executable).parent / "papermill")
    proc = subprocess.run(
        [papermill, str(REPO / "notebooks" / "daily_cycle.ipynb"), str(out),
         "-p", "as_of", TRADE_DATE, "-p", "data_dir", str(data_dir), "--cwd", str(REPO)],
        capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = sb.read_notebook(str(out)).scraps["summary"].data
    assert summary["as_of"] == TRADE_DATE
    assert summary["child_orders"] == len(broker_orders(data_dir))
    # its rerun through the CLI sees the same cycle and does not trade again
    again = run_hydra("run", "daily-cycle", "--as-of", TRADE_DATE, data_dir=data_dir)
    assert again.returncode == 0
    assert json.loads(index_rows(data_dir)[0]["summary"])["orders_sent"] == 0


def test_runs_list_shows_the_index(traded):
    data_dir = traded  # a copy of traded_run's data dir: one `hydra run` on record
    proc = run_hydra("runs", "list", data_dir=data_dir)
    assert proc.returncode == 0
    assert "daily-cycle" in proc.stdout and "succeeded" in proc.stdout
    assert TRADE_DATE in proc.stdout

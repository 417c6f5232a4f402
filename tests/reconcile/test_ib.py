"""The reconciliation over the IB path: a real `hydra sim-gateway` speaking the TWS API, a real
cycle with broker ib through it, then the report reading executions and positions over IB."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hydra import cycle
from hydra.paths import DataPaths
from hydra.reconcile import fill_report
from tests.kit import HYDRA, REPO, TRADE_DATE, read_line, stop_process

pytestmark = pytest.mark.slow

# The gateway's clock runs 50x and the adapter sleeps in its simulated seconds (it follows the
# speed the gateway announces: hydra.broker.ib.rehearsal). Every window is many polls long: a
# poll is 5 simulated seconds (0.1 wall), a patience step 60 (1.2 wall seconds), and the
# crossing order and every cancel get up to 600 (12 wall seconds; each returns as soon as the
# broker answers, which the simulator does at once).
X50_EXECUTION = """
[execution]
wait_seconds = 60
cross_wait_seconds = 600
cancel_timeout_seconds = 600
poll_seconds = 5
"""


@pytest.fixture
def gateway(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """`hydra sim-gateway` on a free port, 50 simulated seconds per second."""
    (data_dir / "hydra.toml").write_text(X50_EXECUTION)
    proc = subprocess.Popen([HYDRA, "sim-gateway", "--port", "0", "--as-of", TRADE_DATE,
                             "--speed", "50"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "HYDRA_DATA_DIR": str(data_dir)},
                            cwd=REPO)
    try:
        banner = read_line(proc, 60)
        assert "listening on 127.0.0.1:" in banner, banner
        port = int(banner.split("127.0.0.1:")[1].split()[0])
        monkeypatch.setenv("HYDRA_PAPER_PORTS", str(port))  # a free port, declared paper
        yield port
    finally:
        stop_process(proc, signal.SIGINT)


def test_ib_reconciliation_matches_and_then_finds_a_lost_fill(data_dir, gateway):
    s = cycle.run_in_process(as_of=TRADE_DATE, data_dir=str(data_dir), broker="ib",
                             port=gateway, contracts=2)
    assert s["status"] == "traded" and s["broker"] == "ib", s
    rep = fill_report.build(as_of=TRADE_DATE, data_dir=str(data_dir), broker="ib",
                            port=gateway, client_id=31)
    b = rep.broker
    assert b.broker == "ib" and b.status == "compared"
    assert b.break_count == 0, b.breaks
    assert b.matched == rep.fills.totals.fills >= 1
    assert "IB reports executions since" in b.message
    assert b.positions["status"].tolist() == ["ok"] and b.positions["broker"].tolist() == [2]

    with sqlite3.connect(DataPaths(data_dir).journal_db) as con:
        con.execute("DELETE FROM fills")
    rep = fill_report.build(as_of=TRADE_DATE, data_dir=str(data_dir), broker="ib",
                            port=gateway, client_id=31)
    kinds = {x.kind for x in rep.broker.breaks}
    assert kinds == {"missing_in_journal", "position_mismatch"}

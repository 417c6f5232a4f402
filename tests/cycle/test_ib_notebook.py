"""The whole IB path as an operator rehearses it: `hydra sim-gateway`, then the daily-cycle
notebook through papermill with broker=ib, then `hydra sync-fills`, all real processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import scrapbook as sb

from hydra.broker.sim.broker import SimBroker
from hydra.domain.broker import OrderRequest
from hydra.reference.clock import SimClock
from tests.kit import HYDRA, REPO, TRADE_DATE, read_line, run_hydra, stop_process

pytestmark = pytest.mark.slow

FAST_EXECUTION = """
[execution]
wait_seconds = 2
cross_wait_seconds = 5
poll_seconds = 0.5
cancel_timeout_seconds = 5
"""




@pytest.fixture
def gateway(data_dir: Path) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """`hydra sim-gateway` on a free port, its simulated clock at the trade date's 10:00 CT,
    on an account that already holds 5 contracts (so the cycle must trade whatever the
    signal)."""
    chicago = ZoneInfo("America/Chicago")
    db = data_dir / "broker" / "sim.sqlite"
    with SimBroker(db, SimClock(datetime(2026, 11, 23, 10, 0, tzinfo=chicago))) as sim:
        c = sim.contract_details("ZO", date(2026, 11, 23))
        sim.place_order(OrderRequest(c, "BUY", 5, "MKT", None, "SEED-1"))
    (data_dir / "hydra.toml").write_text(FAST_EXECUTION)
    env = {**os.environ, "HYDRA_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen([HYDRA, "sim-gateway", "--port", "0", "--as-of", TRADE_DATE],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=REPO)
    try:
        banner = read_line(proc, 60)
        assert "listening on 127.0.0.1:" in banner, banner + (proc.stderr.read() if
                                                              proc.poll() is not None else "")
        assert "account DUSIM0001" in banner and "2026-11-24 10:00" in banner
        port = int(banner.split("127.0.0.1:")[1].split()[0])
        yield port, proc
    finally:
        stop_process(proc, signal.SIGINT)


def test_daily_cycle_with_broker_ib_against_the_sim_gateway(
        data_dir: Path, gateway: tuple[int, subprocess.Popen[str]]):
    port, proc = gateway
    env = {"HYDRA_PAPER_PORTS": str(port)}
    before = run_hydra("sync-fills", "--port", str(port), data_dir=data_dir, env=env)
    assert before.returncode == 0, before.stderr + before.stdout
    assert "ib account DUSIM0001: 0 Hydra execution(s) reported, 0 newly journaled" in \
        " ".join(before.stdout.split())

    t0 = time.monotonic()
    run = run_hydra("run", "daily-cycle", "--as-of", TRADE_DATE, "-p", "broker", "ib",
                    "-p", "port", str(port), data_dir=data_dir, env=env, timeout=300)
    assert run.returncode == 0, run.stderr + run.stdout
    assert time.monotonic() - t0 < 240
    with sqlite3.connect(data_dir / "runs" / "index.sqlite") as con:
        [(out, params)] = con.execute("SELECT output_path, parameters FROM runs").fetchall()
    assert json.loads(params)["broker"] == "ib"
    summary = sb.read_notebook(str(data_dir / out)).scraps["summary"].data
    assert (summary["broker"], summary["account_id"]) == ("ib", "DUSIM0001")
    assert summary["position_before"] == 5 and summary["orders_sent"] >= 1
    assert summary["fills"] >= 1 and summary["status"] == "traded"
    assert summary["broker_time"].startswith("2026-11-24T16:"), "IB's (simulated) time"

    with sqlite3.connect(data_dir / "journal" / "journal.sqlite") as con:
        con.row_factory = sqlite3.Row
        fills = [dict(r) for r in con.execute("SELECT * FROM fills ORDER BY exec_id")]
    with sqlite3.connect(data_dir / "broker" / "sim.sqlite") as con:
        at_broker = dict(con.execute(
            "SELECT exec_id, commission FROM executions WHERE order_ref LIKE 'HYD-%'"))
    assert len(fills) == summary["fills"] == len(at_broker)
    assert {f["exec_id"]: f["commission"] for f in fills} == at_broker, \
        "every fill journaled once, with the commission from commissionReport"
    assert all(f["broker"] == "ib" and f["account_id"] == "DUSIM0001" for f in fills)
    assert summary["filled_contracts"] == sum(f["quantity"] for f in fills)

    after = run_hydra("sync-fills", "--port", str(port), data_dir=data_dir, env=env)
    assert after.returncode == 0, after.stderr
    assert f"{len(fills)} Hydra execution(s) reported, 0 newly journaled" in \
        " ".join(after.stdout.split())
    # the gateway served the data dir's simulated account, and goes on moving its clock: the
    # report's default reads that account straight from its file, at the account's own time,
    # and it is the account the journal recorded through the gateway: every fill matches.
    # SEED-1 (placed outside Hydra) is the one break, as it should be.
    check = run_hydra("fill-report", "--until", TRADE_DATE, "--reconcile", data_dir=data_dir)
    out = " ".join(check.stdout.split())
    assert check.returncode == 1, check.stderr + check.stdout
    n = len(fills)
    assert f"compared {n} journal fill(s), {n} Hydra execution(s) at the broker, {n} matched" \
        in out, check.stdout
    assert "2 BREAK(S): 1 foreign_execution, 1 position_mismatch" in out, check.stdout
    assert "SEED-1" in out and "foreign executions net +5" in out, check.stdout
    assert "left out of the comparison" not in out, check.stdout
    assert proc.poll() is None, "the gateway is still serving"


def test_sync_fills_names_the_endpoint_when_nothing_listens(data_dir: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (data_dir / "hydra.toml").write_text("[ib]\nconnect_attempts = 1\n")
    proc = run_hydra("sync-fills", "--port", str(port), data_dir=data_dir,
                     env={"HYDRA_PAPER_PORTS": str(port)})
    assert proc.returncode == 1
    text = " ".join(proc.stderr.split())
    assert f"127.0.0.1:{port}" in text and "client id 18" in text
    assert "nothing is listening" in text


def test_sync_fills_refuses_a_live_port_without_both_confirmations(data_dir: Path):
    proc = run_hydra("sync-fills", "--port", "4001", "--yes-i-mean-live", data_dir=data_dir)
    assert proc.returncode == 2 and "LIVE" in proc.stderr and "HYDRA_LIVE_CONFIRMED" in \
        proc.stderr

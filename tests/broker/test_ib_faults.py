"""Broker-reply faults through the IB path: `hydra sim-gateway --fault NAME` as a real process,
real ib_insync over a loopback socket, the real daily cycle with broker=ib.

For every fault the cycle stops before any (further) order with a message naming the problem
and what to do, records nothing wrong, loses nothing recorded and leaves no child working;
a lost link (1100) that comes back (1101/1102) is waited for, resynced and the cycle goes on.
Every wait is bounded; the gateway's clock runs at wall speed from 10:00 CT (the prior day's
set-up at 3x). The TWAP's 3 s slices are shorter than the gateway's 4 s outage, so the next
slice meets it and must wait.
"""

from __future__ import annotations

import logging
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hydra import cycle
from hydra.broker.sim.broker import SimBroker
from hydra.domain.broker import DONE_STATES, BrokerError, OrderRequest
from hydra.reference.clock import SimClock
from tests.kit import (
    TRADE_DATE,
    broker_orders,
    run_hydra,
    sim_positions,
    start_sim_gateway,
    stop_process,
)

pytestmark = pytest.mark.slow

FAST = """
[execution]
twap_participation = 0.0001
twap_slices = 3
twap_window_seconds = 9
wait_seconds = 1
cross_wait_seconds = 2
poll_seconds = 0.2
cancel_timeout_seconds = 3

[ib]
connect_attempts = 2
connect_timeout_seconds = 5
retry_backoff_seconds = 0.1
quote_wait_seconds = 1
link_wait_seconds = 10

[risk]
max_notional_fraction = 2.0
max_gross_notional_fraction = 3.0
"""
PRIOR_DAY = "2026-11-23"
CONTRACTS = 5  # the prior day ends at +2; the signal is long today: buy 3, in 3 TWAP slices


@dataclass
class Gateway:
    port: int
    proc: subprocess.Popen[str]
    log: str = ""  # the gateway's stderr, once stopped


@contextmanager
def gateway(d: Path, monkeypatch: pytest.MonkeyPatch, as_of: str, faults: str = "",
            speed: float = 1.0) -> Iterator[Gateway]:
    """`hydra sim-gateway` over `d`, faults named through HYDRA_SIM_GATEWAY_FAULTS."""
    with monkeypatch.context() as m:
        m.setenv("HYDRA_SIM_GATEWAY_FAULTS", faults)
        proc, port = start_sim_gateway(d, as_of, speed=speed)
    gw = Gateway(int(port), proc)
    monkeypatch.setenv("HYDRA_PAPER_PORTS", port)
    try:
        yield gw
    finally:
        stop_process(proc, signal.SIGINT)
        assert proc.stderr is not None
        gw.log = proc.stderr.read()


def run_ib(d: Path, gw: Gateway) -> dict:
    return cycle.run_in_process(data_dir=str(d), as_of=TRADE_DATE, broker="ib", port=gw.port,
                                contracts=CONTRACTS)


@pytest.fixture(scope="module")
def traded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An account that held 5 contracts and traded a day through the gateway (on record).
    The prior day has no fault to meet: its gateway runs at 3x (the adapter follows it), its
    9 s TWAP in 3 wall seconds."""
    d = tmp_path_factory.mktemp("traded") / "data"
    chicago = ZoneInfo("America/Chicago")
    with SimBroker(d / "broker" / "sim.sqlite", SimClock(datetime(2026, 11, 20, 10, 0,
                                                                  tzinfo=chicago))) as sim:
        c = sim.contract_details("ZO", date(2026, 11, 20))
        sim.place_order(OrderRequest(c, "BUY", 5, "MKT", None, "SEED-1"))
    (d / "hydra.toml").write_text(FAST)
    with pytest.MonkeyPatch.context() as mp, gateway(d, mp, PRIOR_DAY, speed=3.0) as gw:
        s = cycle.run_in_process(data_dir=str(d), as_of=PRIOR_DAY, broker="ib", port=gw.port,
                                 contracts=2)
    assert s["fills"] > 0 and s["status"] == "traded"
    return d


@dataclass(frozen=True)
class Books:
    orders: list[tuple]
    positions: dict[str, int]
    fills: list[tuple]


def books(d: Path) -> Books:
    with sqlite3.connect(d / "journal" / "journal.sqlite") as con:
        fills = con.execute("SELECT exec_id, order_ref, quantity, price, commission FROM fills "
                            "ORDER BY exec_id").fetchall()
    return Books(broker_orders(d), sim_positions(d), fills)


def assert_clean(d: Path, before: Books) -> Books:
    """Nothing recorded is lost, every Hydra fill at the broker is journaled once and
    correctly, and no order is left working at the broker."""
    after = books(d)
    assert set(before.fills) <= set(after.fills), "a journaled fill was lost"
    with sqlite3.connect(d / "broker" / "sim.sqlite") as con:
        at_broker = sorted(con.execute(
            "SELECT exec_id, order_ref, quantity, price, commission FROM executions "
            "WHERE order_ref LIKE 'HYD-%' ORDER BY exec_id").fetchall())
    assert sorted(after.fills) == at_broker, "journal and broker disagree on the fills"
    working = [o for o in after.orders if o[1] not in DONE_STATES]
    assert working == [], f"orders left working at the broker: {working}"
    return after


@pytest.fixture
def account(traded: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(traded, tmp_path / "data"))


def leg_text(summary: dict) -> str:
    return " | ".join(summary["order_outcomes"] + [leg["reason"] or "" for leg in
                                                   summary["legs"]])


# ------------------------------------------------------------------------ order rejections
@pytest.mark.parametrize("code,hint", [
    (201, "fix that at IB before rerunning"),
    (110, "check the tick in hydra/conf/markets.toml against IB's minTick and market rule"),
    (321, "read its cause (a read-only API, an invalid account or field)"),
])
def test_a_rejected_order_stops_the_leg_before_another_is_sent(account, monkeypatch, code,
                                                               hint):
    before = books(account)
    with gateway(account, monkeypatch, TRADE_DATE, f"reject-{code}") as gw:
        s = run_ib(account, gw)
    text = leg_text(s)
    assert s["legs"], cycle.one_line(s)
    assert f"broker rejected HYD-ZO-{TRADE_DATE.replace('-', '')}-1-s1-a1: IB error {code}:" \
        in text and hint in text, text
    assert s["child_orders"] == 1 and s["fills"] == 0 and s["status"] != "traded"
    assert gw.log.count(f"fault reject-{code}: rejected order") == 1, "one order, no retry"
    after = assert_clean(account, before)
    assert (after.orders, after.positions) == (before.orders, before.positions)
    with sqlite3.connect(account / "journal" / "journal.sqlite") as con:
        [(status, message)] = con.execute(
            "SELECT status, message FROM orders WHERE as_of = ?", (TRADE_DATE,)).fetchall()
    assert status == "rejected" and f"IB error {code}" in message


def test_a_rejection_is_what_the_operator_reads_from_hydra_run(account, monkeypatch):
    """The same through `hydra run daily-cycle -p broker ib` (papermill), as cron runs it."""
    before = books(account)
    with gateway(account, monkeypatch, TRADE_DATE, "reject-201") as gw:
        run = run_hydra("run", "daily-cycle", "--as-of", TRADE_DATE, "-p", "broker", "ib",
                        "-p", "port", str(gw.port), "-p", "contracts", str(CONTRACTS),
                        data_dir=account, env={"HYDRA_PAPER_PORTS": str(gw.port)}, timeout=300)
    out = " ".join((run.stdout + run.stderr).split())
    assert run.returncode == 0 and "status=execution_stopped" in out, out
    assert "legs: open BUY 3 ZOH7 rejected (broker rejected HYD-ZO-20261124-1-s1-a1: IB error " \
        "201" in out and "orders=1 fills=0" in out, "the CLI line says why the leg stopped"
    notebook = (account / out.split("executed notebook: ")[1].split()[0]).read_text()
    assert "broker rejected HYD-ZO-20261124-1-s1-a1: IB error 201: Order rejected - reason:" \
        in notebook and "fix that at IB before rerunning" in notebook, "the notebook says why"
    assert gw.log.count("fault reject-201: rejected order") == 1
    after = assert_clean(account, before)
    assert (after.orders, after.positions) == (before.orders, before.positions)


def test_a_client_id_in_use_is_named_with_what_to_do_and_not_retried(account, monkeypatch):
    before = books(account)
    with gateway(account, monkeypatch, TRADE_DATE, "client-id-326") as gw:
        t0 = time.monotonic()
        with pytest.raises(BrokerError) as err:
            run_ib(account, gw)
        took = time.monotonic() - t0
    text = str(err.value)
    assert "error 326: client id 17 is already in use by another API session" in text, text
    assert "run with another client id (-p client_id N); nothing was sent" in text
    assert took < 5, "the same client id is not retried (connect_attempts = 2)"
    assert books(account) == before


def test_an_order_ib_cancels_unasked_stops_the_leg(account, monkeypatch):
    before = books(account)
    with gateway(account, monkeypatch, TRADE_DATE, "cancel-202") as gw:
        s = run_ib(account, gw)
    text = leg_text(s)
    assert "was cancelled outside Hydra: IB cancelled it without Hydra asking (IB error 202: " \
        "Order Canceled - reason:cancelled by the system" in text, text
    assert "see the order's log in TWS" in text
    assert gw.log.count("fault cancel-202: IB cancels order") == 1, "no order after it"
    assert s["status"] != "traded"
    assert_clean(account, before)


# ------------------------------------------------------------------- contract definitions
@pytest.mark.parametrize("fault,message", [
    ("details-missing", "IB has no contract details for conId"),
    ("details-ambiguous", "are ambiguous: 2 FUT contracts match (conIds"),
    ("wrong-min-tick", "minTick 0.005 x priceMagnifier 100 = 0.5, but the registry's tick is "
                       "0.25"),
    ("wrong-market-rule", "increment 0.005 (from price 0) is neither the registry's tick 0.25 "
                          "nor that tick in minTick units (0.25 / priceMagnifier 100 = 0.0025)"),
])
def test_a_contract_ib_defines_wrongly_stops_the_cycle_before_any_order(account, monkeypatch,
                                                                        fault, message):
    before = books(account)
    with gateway(account, monkeypatch, TRADE_DATE, fault) as gw, \
            pytest.raises(BrokerError) as err:
        run_ib(account, gw)
    text = str(err.value)
    assert message in text, text
    assert "hydra/conf/markets.toml" in text or "nothing was sent" in text, text
    assert "placed while" not in gw.log
    assert books(account) == before


# ---------------------------------------------------------------------------------- quotes
@pytest.mark.parametrize("fault,problem", [
    ("quotes-nan", "no usable quote for ZOH7: no bid"),
    ("quotes-minus-one", "no usable quote for ZOH7: no bid"),
    ("quotes-zero", "no usable quote for ZOH7: no bid"),
])
def test_quotes_that_are_not_prices_send_nothing(account, monkeypatch, fault, problem):
    before = books(account)
    with gateway(account, monkeypatch, TRADE_DATE, fault) as gw:
        s = run_ib(account, gw)
    assert problem in leg_text(s) + " ".join(s["blocked"]), s
    assert s["orders_sent"] == 0 and s["child_orders"] == 0
    assert books(account) == before


# ------------------------------------------------------------------------------ the link
@pytest.mark.parametrize("code", [1101, 1102])
def test_a_lost_link_is_waited_for_resynced_and_the_cycle_goes_on(account, monkeypatch,
                                                                  caplog, code):
    caplog.set_level(logging.WARNING, logger="hydra.broker.ib")
    before = books(account)
    with gateway(account, monkeypatch, TRADE_DATE, f"link-lost-{code}") as gw:
        s = run_ib(account, gw)
    assert "fault: error 1100 sent to every client" in gw.log
    assert f"fault: error {code} sent to every client" in gw.log, "restored mid-TWAP"
    assert "placed while the link to IB is down" not in gw.log, "nothing sent while down"
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "IB Gateway lost its connection to IB (error 1100: Connectivity between IB and " \
        "Trader Workstation has been lost.): no order will be sent until it is restored" in said
    assert "IB Gateway lost its connection to IB (error 1100: Connectivity between IB and " \
        f"Trader Workstation has been lost.) and it was restored (error {code}: " in said
    assert f"after IB error {code}: resynced open/completed orders, positions and" in said
    assert ("market data resubscribed" in said) == (code == 1101)
    assert s["routes"] == ["twap"] and s["status"] == "traded", s["order_outcomes"]
    after = assert_clean(account, before)
    assert sum(q for _, ref, q, _, _ in after.fills if TRADE_DATE.replace("-", "") in ref) == \
        s["filled_contracts"] == abs(s["position_before"] - s["target_position"])


def test_a_broken_server_link_sends_nothing_and_stops_when_not_restored(account, monkeypatch,
                                                                        caplog):
    """2110 (TWS <-> IB's servers broken) is treated as 1100: no order while it lasts; when it
    is not restored within [ib] link_wait_seconds the cycle stops and says so."""
    caplog.set_level(logging.WARNING, logger="hydra.broker.ib")
    toml = account / "hydra.toml"
    toml.write_text(toml.read_text().replace("link_wait_seconds = 10", "link_wait_seconds = 4"))
    before = books(account)
    with gateway(account, monkeypatch, TRADE_DATE, "link-broken-2110") as gw, \
            pytest.raises(BrokerError) as err:
        run_ib(account, gw)
    text = str(err.value)
    assert "reports its connection to IB's servers is down (error 2110: Connectivity between " \
        "Trader Workstation and server is broken." in text, text
    assert "not restored within 4 s: stopped before" in text and "nothing further sent" in text
    assert "rerun the cycle: it resumes from the journal" in text
    assert "placed while the link to IB is down" not in gw.log
    assert "IB Gateway lost its connection to IB (error 2110" in " ".join(
        r.getMessage() for r in caplog.records)
    after = assert_clean(account, before)
    with sqlite3.connect(account / "journal" / "journal.sqlite") as con:
        [(status, message)] = con.execute(
            "SELECT status, message FROM orders WHERE as_of = ?", (TRADE_DATE,)).fetchall()
    assert status == "error" and "error 2110" in message
    assert after.fills != before.fills, "the slice filled before the break is journaled"

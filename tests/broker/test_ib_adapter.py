"""The IB adapter over a real loopback socket: unmodified ib_insync against hydra's gateway.

Every test starts `TwsServer` (the simulated broker spoken over the TWS API) on 127.0.0.1 with
a free port and a simulated clock at a fixed date, and drives `IBBroker` exactly as the daily
cycle does. Waits are bounded; nothing depends on the wall-clock date.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from hydra.broker.ib.adapter import IBBroker, market_rule_agrees
from hydra.broker.ib.event_loop import THREAD_NAME
from hydra.broker.sim.broker import SimBroker
from hydra.config import IBConfig
from hydra.domain.broker import BrokerError, ContractDetails, OrderRequest
from hydra.execution import fillsync
from hydra.execution.journal import Journal
from hydra.gateway import server as tws_server
from hydra.gateway.protocol import In
from hydra.gateway.server import GatewayOptions, TwsServer
from hydra.reference.clock import SimClock
from hydra.reference.contracts import front_contract
from hydra.reference.markets import get_market

CHI = ZoneInfo("America/Chicago")
DAY = date(2026, 11, 24)  # a Tuesday with a normal CBOT session; ZOH7 is the front month
START = datetime(2026, 11, 24, 10, 0, tzinfo=CHI)
SEED = 7
SETTINGS = IBConfig(connect_timeout_seconds=3.0, connect_attempts=1, retry_backoff_seconds=0.1,
                    request_timeout_seconds=10.0, market_data_type=3, quote_wait_seconds=2.0,
                    account="")


def wait_until(cond: Callable[[], object], timeout: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or cond}")
        time.sleep(0.02)


def loop_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == THREAD_NAME and t.is_alive()]


def start_gateway(db: Path, clock: SimClock, account: str = "DUSIM0001",
                  **options: object) -> TwsServer:
    sim = SimBroker(db, clock, seed=SEED, account_id=account)
    opts = GatewayOptions(poll_seconds=0.05, **options)  # type: ignore[arg-type]
    return TwsServer(sim, options=opts).start()


def seed_position(db: Path, quantity: int) -> None:
    """A position bought the day before, straight in the simulated account."""
    with SimBroker(db, SimClock(datetime(2026, 11, 23, 10, 0, tzinfo=CHI)), seed=SEED) as sim:
        c = sim.contract_details("ZO", date(2026, 11, 23))
        sim.place_order(OrderRequest(c, "BUY", quantity, "MKT", None, "SEED-1"))


@pytest.fixture
def clock() -> SimClock:
    return SimClock(START)


@pytest.fixture
def gateway(tmp_path: Path, clock: SimClock, monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[TwsServer]:
    srv = start_gateway(tmp_path / "sim.sqlite", clock)
    monkeypatch.setenv("HYDRA_PAPER_PORTS", str(srv.port))
    yield srv
    srv.stop()


@pytest.fixture
def ib(gateway: TwsServer) -> Iterator[IBBroker]:
    b = IBBroker(port=gateway.port, client_id=21, settings=SETTINGS)
    b.connect()
    yield b
    b.close()


def sim_call(gw: TwsServer, fn: Callable[[SimBroker], object]) -> object:
    return gw.call(lambda: fn(gw.sim))


def zo(ib: IBBroker) -> ContractDetails:
    return ib.contract_details("ZO", DAY)


def events_for(ib: IBBroker, ref: str) -> list[str]:
    return [f"{kind} {detail}" for kind, r, detail in list(ib.events) if r == ref]


# -------------------------------------------------------------------------- connecting
def test_connect_runs_the_startup_sync_and_reads_ib_time(gateway: TwsServer, ib: IBBroker):
    asked = {msg for client, msg in gateway.requests if client == 21}
    startup = {In.START_API, In.REQ_POSITIONS, In.REQ_OPEN_ORDERS, In.REQ_COMPLETED_ORDERS,
               In.REQ_ACCT_DATA, In.REQ_ACCOUNT_UPDATES_MULTI, In.REQ_EXECUTIONS}
    assert startup <= asked, "ib_insync's connect sequence"
    assert {In.REQ_MARKET_DATA_TYPE, In.REQ_CURRENT_TIME, In.REQ_PNL} <= asked, "the adapter's"
    assert ib.is_connected() and gateway.connected_clients() == [21]
    assert ib.verdict.allowed and ib.verdict.mode == "paper"
    assert ib.verdict.account == ib.account_id == "DUSIM0001"
    assert abs((ib.now() - START).total_seconds()) < 2, "IB's (simulated) time, not the wall's"
    first = ib.now()
    assert ib.now() >= first


def test_account_state_and_positions_match_the_simulated_account(
        tmp_path: Path, clock: SimClock, monkeypatch: pytest.MonkeyPatch):
    db = tmp_path / "sim.sqlite"
    seed_position(db, 3)
    with start_gateway(db, clock) as gw:
        monkeypatch.setenv("HYDRA_PAPER_PORTS", str(gw.port))
        b = IBBroker(port=gw.port, client_id=22, settings=SETTINGS)
        b.connect()
        try:
            got = b.account_state()
            want = sim_call(gw, lambda s: s.account_state())
            [pos] = b.positions()
            [sim_pos] = sim_call(gw, lambda s: s.positions())
        finally:
            b.close()
    assert got.account_id == "DUSIM0001" and got.currency == "USD"
    for name in ("net_liquidation", "cash", "unrealized_pnl", "daily_pnl"):
        assert getattr(got, name) == pytest.approx(getattr(want, name), abs=0.01), name
    assert got.daily_pnl != 0, "yesterday's position moved: reqPnL reports today's P&L"
    assert (pos.local_symbol, pos.con_id, pos.quantity) == ("ZOH7", sim_pos.con_id, 3)
    assert pos.point_value == 50.0, "multiplier 5000 / priceMagnifier 100"
    assert pos.avg_price == pytest.approx(sim_pos.avg_price)
    assert pos.market_price == pytest.approx(sim_pos.market_price)
    assert pos.unrealized_pnl == pytest.approx(sim_pos.unrealized_pnl, abs=0.01)


# --------------------------------------------------------------------------- contracts
def test_contract_details_give_the_dated_front_month_with_tick_and_multiplier(
        gateway: TwsServer, ib: IBBroker):
    c = zo(ib)
    expected = front_contract(get_market("ZO"), DAY)
    assert c == expected, "same month, conId, tick, multiplier, dates as the simulator"
    assert (c.local_symbol, c.tick, c.multiplier, c.price_magnifier) == ("ZOH7", 0.25, 5000, 100)
    assert c.tick_value == 12.50
    hogs = ib.contract_details("HE", DAY)
    assert (hogs.exchange, hogs.tick, hogs.multiplier) == ("CME", 0.025, 40000)
    later = date(2027, 2, 22)  # inside ZOH7's roll window: the next month trades
    rolled = ib.contract_details("ZO", later)
    assert rolled.local_symbol == front_contract(get_market("ZO"), later).local_symbol == "ZOK7"
    assert ib.contract_by_local_symbol("ZOK7") == rolled
    assert ib.contract_by_local_symbol("ZOH7") == c


def test_a_tick_disagreement_with_the_registry_is_refused(
        gateway: TwsServer, ib: IBBroker, monkeypatch: pytest.MonkeyPatch):
    real = tws_server.to_ib

    def wrong_tick(c, market, sec_type="FUT"):
        return replace(real(c, market, sec_type), min_tick=0.025)  # 2.5 cents: 10x too big

    monkeypatch.setattr(tws_server, "to_ib", wrong_tick)
    with pytest.raises(BrokerError, match=r"disagrees with hydra/conf/markets\.toml") as err:
        zo(ib)
    assert "minTick 0.025 x priceMagnifier 100 = 2.5" in str(err.value)


# ------------------------------------------------------------------------ market data
def test_quotes_live_then_between_sessions(gateway: TwsServer, ib: IBBroker, clock: SimClock):
    c = zo(ib)
    q = ib.quote(c)
    m = sim_call(gateway, lambda s: s.market("ZO").quote_at(clock.now()))
    assert (q.bid, q.ask, q.bid_size, q.ask_size) == (m.bid, m.ask, m.bid_size, m.ask_size)
    assert q.data_type == "live" and q.in_session and q.mid == m.mid
    clock.advance_to(datetime(2026, 11, 24, 16, 0, tzinfo=CHI))  # after the 13:20 close
    gateway.sync()
    def closed_quote() -> object:
        q = ib.quote(c)
        return q if q.bid is None and not q.in_session else None

    wait_until(closed_quote, what="IB's -1 bid after the close")
    closed = ib.quote(c)
    assert closed.bid is None and closed.ask is None and closed.mid is None, "-1 is missing"
    assert closed.last is not None and not closed.in_session


def test_delayed_data_is_labelled_delayed(tmp_path: Path, clock: SimClock,
                                          monkeypatch: pytest.MonkeyPatch):
    with start_gateway(tmp_path / "sim.sqlite", clock, market_data="delayed") as gw:
        monkeypatch.setenv("HYDRA_PAPER_PORTS", str(gw.port))
        b = IBBroker(port=gw.port, client_id=23, settings=SETTINGS)
        b.connect()
        try:
            q = b.quote(zo(b))
        finally:
            b.close()
        old = sim_call(gw, lambda s: s.market("ZO").quote_at(clock.now() - timedelta(minutes=15)))
    assert q.data_type == "delayed"
    assert (q.bid, q.ask) == (old.bid, old.ask), "15 minutes old"


def test_daily_bars_are_completed_sessions_only(gateway: TwsServer, ib: IBBroker):
    c = zo(ib)
    bars = ib.daily_bars(c, 60)
    want = sim_call(gateway, lambda s: s.daily_bars(s.contract_details("ZO", DAY), 60))
    assert bars == want
    assert bars[-1].date == date(2026, 11, 23), "the session in progress is not a bar yet"
    assert len(ib.daily_bars(c, 500)) == 500, "a long history comes as a '2 Y' request"


# ------------------------------------------------------------------------------ orders
def test_an_order_with_order_ref_reports_status_fill_and_commission_as_events(
        gateway: TwsServer, ib: IBBroker, tmp_path: Path):
    c = zo(ib)
    q = ib.quote(c)
    ref = "HYD-ZO-20261124-1-s1-a1"
    before = len(gateway.requests)
    status = ib.place_order(OrderRequest(c, "BUY", 2, "LMT", q.ask, ref))
    assert status.order_ref == ref and status.order_id.isdigit(), "permId"
    wait_until(lambda: any(e.startswith("commissionReport") for e in events_for(ib, ref)),
               what="fill and commission")
    seen = events_for(ib, ref)
    # IB's order: execDetails, then the status change, then commissionReport
    order = [next(i for i, e in enumerate(seen) if e.startswith(k))
             for k in ("placeOrder", "orderStatus Submitted", "execDetails",
                       "orderStatus Filled", "commissionReport")]
    assert order == sorted(order), seen
    assert In.REQ_EXECUTIONS not in [m for _, m in list(gateway.requests)[before:]], \
        "the fill and its commission came as events, not from a reqExecutions sweep"
    final = ib.order_status(status.order_id)
    assert (final.status, final.filled, final.avg_fill_price) == ("Filled", 2, q.ask)
    [ex] = ib.executions(ref)
    assert (ex.side, ex.quantity, ex.price, ex.local_symbol) == ("BUY", 2, q.ask, "ZOH7")
    assert ex.commission == pytest.approx(4.70) and ex.order_id == status.order_id
    assert ex.account_id == "DUSIM0001" and ex.time.tzinfo is not None
    journal = Journal(tmp_path / "journal.sqlite")
    try:
        assert fillsync.sync_fills(ib, journal, "HYD-ZO-20261124-") == 1
        assert fillsync.sync_fills(ib, journal, "HYD-ZO-20261124-") == 0, "idempotent"
    finally:
        journal.close()
    assert [(p.local_symbol, p.quantity) for p in ib.positions()] == [("ZOH7", 2)]
    assert [o.order_ref for o in ib.orders("HYD-ZO-20261124-")] == [ref]


def test_bad_orders_stop_before_sending_and_gateway_rejections_are_inactive(
        gateway: TwsServer, ib: IBBroker):
    c = zo(ib)
    with pytest.raises(BrokerError, match="not on ZOH7's tick grid"):
        ib.place_order(OrderRequest(c, "BUY", 1, "LMT", 500.1, "HYD-ZO-20261124-9"))
    with pytest.raises(BrokerError, match="positive whole number"):
        ib.place_order(OrderRequest(c, "BUY", 0, "LMT", 500.0, "HYD-ZO-20261124-9"))
    assert In.PLACE_ORDER not in {m for _, m in gateway.requests}, "nothing reached IB"
    gateway.call(lambda: setattr(gateway, "options",
                                 replace(gateway.options, read_only=True)))
    st = ib.place_order(OrderRequest(c, "BUY", 1, "LMT", 500.0, "HYD-ZO-20261124-9"))
    assert st.status == "Inactive" and "ReadOnlyApi=no" in st.message


def _resting_order(gw: TwsServer, clock: SimClock) -> tuple[str, float, datetime]:
    """(side, limit, when): a passive limit the market trades through within two hours."""
    path = sim_call(gw, lambda s: s.market("ZO").day_path(DAY))
    i = path.index_at(clock.now())
    asks, bids = path.ask[i + 5: i + 120], path.bid[i + 5: i + 120]
    if asks.min() < path.bid[i]:  # the market dips: a BUY below today's bid fills then
        j = int(np.argmin(asks))
        return "BUY", float(asks[j]), path.time(i + 5 + j)
    assert bids.max() > path.ask[i], "the seeded market must move for this test"
    j = int(np.argmax(bids))  # it rallies: a SELL above today's offer fills then
    return "SELL", float(bids[j]), path.time(i + 5 + j)


def test_a_fill_while_disconnected_is_recovered_after_reconnect(
        gateway: TwsServer, ib: IBBroker, clock: SimClock, tmp_path: Path):
    c = zo(ib)
    side, price, when = _resting_order(gateway, clock)
    ref = "HYD-ZO-20261124-1-s1-a1"
    working = ib.place_order(OrderRequest(c, side, 1, "LMT", price, ref))
    assert working.status == "Submitted" and working.filled == 0
    assert gateway.drop_clients() == 1
    wait_until(lambda: not ib.is_connected(), what="the drop to be noticed")
    clock.advance_to(when + timedelta(minutes=30))
    gateway.sync()  # the simulator fills the order while nobody is connected
    assert gateway.connected_clients() == []
    filled_at_ib = sim_call(gateway, lambda s: s.order_status(working.order_id))
    assert filled_at_ib.status == "Filled"

    status = ib.order_status(working.order_id)  # reconnects and resynchronises first
    assert (status.status, status.filled) == ("Filled", 1)
    kinds = [k for k, _, _ in ib.events]
    assert "reconnecting" in kinds and "reconnected" in kinds
    assert [cl for cl, m in gateway.requests if m == In.START_API] == [21, 21], "same client id"
    [ex] = ib.executions(ref)
    assert ex.price == price and ex.commission == pytest.approx(2.35)
    journal = Journal(tmp_path / "journal.sqlite")
    try:
        assert fillsync.sync_fills(ib, journal) == 1
        assert journal.has_fill(ex.exec_id)
    finally:
        journal.close()
    assert [(o.order_ref, o.status) for o in ib.orders(ref)] == [(ref, "Filled")]


def test_a_late_fill_arrives_as_an_event_and_cancels_are_confirmed(
        gateway: TwsServer, ib: IBBroker, clock: SimClock):
    c = zo(ib)
    side, price, when = _resting_order(gateway, clock)
    away = -40 if side == "BUY" else 40
    late = ib.place_order(OrderRequest(c, side, 1, "LMT", price, "HYD-ZO-20261124-1-s1-a1"))
    far = ib.place_order(OrderRequest(c, side, 1, "LMT", price + away,
                                      "HYD-ZO-20261124-2-s1-a1"))
    assert late.status == far.status == "Submitted"
    # the cycle's window has ended; the market comes to the order later
    clock.advance_to(when + timedelta(minutes=30))
    wait_until(lambda: any(e.startswith("execDetails")
                           for e in events_for(ib, "HYD-ZO-20261124-1-s1-a1")),
               what="the late fill's execDetails event")
    # TWS sends execDetails before the orderStatus that says Filled
    wait_until(lambda: ib.order_status(late.order_id).status == "Filled",
               what="the late fill's Filled status")
    cancelled = ib.cancel_order(far.order_id)
    assert cancelled.status == "Cancelled" and cancelled.filled == 0
    again = ib.cancel_order(far.order_id)
    assert "nothing to cancel" in again.message


def test_an_order_is_placed_once_ib_has_given_its_status_not_just_its_perm_id(
        tmp_path: Path, clock: SimClock, monkeypatch: pytest.MonkeyPatch):
    """A busy gateway (or a loaded machine) can deliver openOrder, which carries the permId,
    well before the orderStatus: the order is acknowledged then, but its state is not known
    yet, and place_order must not answer ib_insync's own placeholder (PendingSubmit)."""
    gw = start_gateway(tmp_path / "sim.sqlite", clock, faults="status-late")
    monkeypatch.setenv("HYDRA_PAPER_PORTS", str(gw.port))
    b = IBBroker(port=gw.port, client_id=21, settings=SETTINGS)
    try:
        b.connect()
        side, price, _ = _resting_order(gw, clock)
        ref = "HYD-ZO-20261124-1-s1-a1"
        placed = b.place_order(OrderRequest(zo(b), side, 1, "LMT", price, ref))
        assert (placed.status, placed.filled) == ("Submitted", 0)
        assert [o.status for o in b.orders(ref)] == ["Submitted"]
        crossing = price + (40 if side == "BUY" else -40)  # through the market: fills at once
        taken = b.place_order(OrderRequest(zo(b), side, 1, "LMT", crossing,
                                           "HYD-ZO-20261124-2-s1-a1"))
        assert taken.status in ("Submitted", "Filled"), "IB's status, never the placeholder"
        wait_until(lambda: b.order_status(taken.order_id).status == "Filled",
                   what="the crossing order's fill")
        assert b.order_status(taken.order_id).filled == 1
    finally:
        b.close()
        gw.stop()


# ---------------------------------------------------------------- failures and safety
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_nothing_listening_fails_fast_naming_host_port_and_client_id(
        monkeypatch: pytest.MonkeyPatch):
    port = _free_port()
    monkeypatch.setenv("HYDRA_PAPER_PORTS", str(port))
    b = IBBroker(port=port, client_id=31, settings=replace(SETTINGS, connect_attempts=2))
    t0 = time.monotonic()
    with pytest.raises(BrokerError) as err:
        b.connect()
    text = str(err.value)
    assert f"127.0.0.1:{port}" in text and "client id 31" in text and "2 attempt(s)" in text
    assert "nothing is listening" in text and "hydra sim-gateway" in text
    assert time.monotonic() - t0 < 3
    assert loop_threads() == [] and not b.is_connected()


def test_a_stalled_handshake_times_out_and_leaves_nothing_behind(
        tmp_path: Path, clock: SimClock, monkeypatch: pytest.MonkeyPatch):
    with start_gateway(tmp_path / "sim.sqlite", clock, handshake_delay=1.0) as gw:
        monkeypatch.setenv("HYDRA_PAPER_PORTS", str(gw.port))
        quick = replace(SETTINGS, connect_timeout_seconds=0.3)
        with pytest.raises(BrokerError, match="accepted the connection but the API session"):
            IBBroker(port=gw.port, client_id=32, settings=quick).connect()
        assert loop_threads() == []
        # past the stall: the gateway answered the stalled handshake and saw the client gone
        # (its session ended); a connect left running would have started client id 32 there
        wait_until(lambda: gw.call(lambda: not gw._sessions) or gw.connected_clients(),
                   what="the stalled session to end")
        assert gw.connected_clients() == [], "no background connect took client id 32"
        gw.call(lambda: setattr(gw, "options", replace(gw.options, handshake_delay=0.0)))
        b = IBBroker(port=gw.port, client_id=32, settings=SETTINGS)
        b.connect()
        try:
            assert gw.connected_clients() == [32]
        finally:
            b.close()
    assert loop_threads() == []


def test_a_client_id_in_use_is_reported(gateway: TwsServer, ib: IBBroker):
    quick = replace(SETTINGS, connect_timeout_seconds=0.5)
    with pytest.raises(BrokerError, match=r"326.*already in use"):
        IBBroker(port=gateway.port, client_id=21, settings=quick).connect()
    assert ib.is_connected() and gateway.connected_clients() == [21]


def test_the_adapter_works_inside_a_running_event_loop(gateway: TwsServer):
    """A notebook cell runs inside the kernel's event loop; plain ib_insync calls fail there."""
    async def cell() -> tuple[str, float]:
        b = IBBroker(port=gateway.port, client_id=24, settings=SETTINGS)
        b.connect()
        try:
            return b.account_state().account_id, b.quote(zo(b)).mid or 0.0
        finally:
            b.close()

    account, mid = asyncio.run(cell())
    assert account == "DUSIM0001" and mid > 0
    assert loop_threads() == []


def test_live_ports_are_refused_before_any_connection(monkeypatch: pytest.MonkeyPatch):
    for port in (4001, 7496):
        b = IBBroker(port=port, settings=SETTINGS, confirm_live=True)
        with pytest.raises(BrokerError, match=f"port {port} is a LIVE trading port"):
            b.connect()
        assert loop_threads() == []
    monkeypatch.setenv("HYDRA_LIVE_CONFIRMED", "true")
    assert not IBBroker(port=4001, settings=SETTINGS).verdict.allowed, "flag still needed"
    both = IBBroker(port=4001, settings=SETTINGS, confirm_live=True).verdict
    assert both.allowed and both.mode == "live"
    monkeypatch.setenv("HYDRA_PAPER_PORTS", "4001")
    assert not IBBroker(port=4001, settings=SETTINGS).verdict.allowed, "live stays live"


def test_a_non_paper_account_is_refused_before_any_order(
        tmp_path: Path, clock: SimClock, monkeypatch: pytest.MonkeyPatch):
    with start_gateway(tmp_path / "sim.sqlite", clock, account="U7654321") as gw:
        monkeypatch.setenv("HYDRA_PAPER_PORTS", str(gw.port))
        b = IBBroker(port=gw.port, client_id=25, settings=SETTINGS)
        with pytest.raises(BrokerError) as err:
            b.connect()
        assert "U7654321 is not an IB paper account" in str(err.value)
        assert "refused before any order" in str(err.value)
        assert not b.is_connected() and loop_threads() == []
        wait_until(lambda: gw.connected_clients() == [], what="the refused session to close")
        assert In.PLACE_ORDER not in {m for _, m in gw.requests}
        with pytest.raises(BrokerError, match="not connected"):
            b.place_order(OrderRequest(front_contract(get_market("ZO"), DAY), "BUY", 1, "MKT",
                                       None, "HYD-ZO-20261124-1"))


@pytest.mark.parametrize("increment,tick,magnifier,ok", [
    (0.0025, 0.25, 100, True),   # the rule in minTick (exchange) units, as IB's clients read it
    (0.25, 0.25, 100, True),     # the rule in order-price units
    (0.005, 0.25, 100, False),   # twice the grid: every other Hydra price would be off it
    (0.5, 0.25, 100, False),
    (0.025, 0.25, 100, False),   # a tenth of the grid in order units is not our grid
    (0.00025, 0.00025, 1, True),
    (0.0005, 0.00025, 1, False),
])
def test_a_market_rule_agrees_with_the_registry_in_either_unit_and_only_on_its_grid(
        increment, tick, magnifier, ok):
    assert market_rule_agrees(increment, tick, magnifier) is ok

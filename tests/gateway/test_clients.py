"""The simulated gateway with clients this project did not write: IB's `ibapi` and ib_async.

ibapi 9.81.1 asks for server versions 100..157, so every message must be in its version-157
layout; its decoder drops a message whose field count is off ("diff len fields and params")
and raises on a contractData frame laid out for a newer version. The same steps as the
ib_insync tests: contract details, quotes, bars, an order to its fill and commission, an
off-tick order (110), a cancel (202), executions after a reconnect, positions, account
summary and PnL. Loopback only, seeded simulator, every wait bounded.

ib_async 2.1 (157..178, so it gets 176) runs in a venv of its own, built once and cached in
.venv-ibasync (its aeventkit overwrites ib_insync's eventkit in a shared one), as a subprocess
driving tests/clients/ib_steps.py.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.execution import ExecutionFilter
from ibapi.order import Order
from ibapi.wrapper import EWrapper

from hydra.broker.sim.broker import SimBroker
from hydra.gateway.server import GatewayOptions, TwsServer
from hydra.reference.clock import SimClock
from hydra.reference.contracts import front_contract
from hydra.reference.markets import get_market

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
START = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("America/Chicago"))
WAIT = 10.0
ROOT = Path(__file__).resolve().parents[2]
IB_ASYNC = "ib_async==2.1.0"
IB_ASYNC_VENV = ROOT / ".venv-ibasync"
OFFLINE = ("NewConnectionError", "Max retries exceeded", "Temporary failure in name resolution",
           "Network is unreachable", "Connection refused", "ConnectTimeout")


class App(EWrapper, EClient):
    """Records every callback as (name, args) so a test can wait for the one it needs."""

    def __init__(self) -> None:
        EWrapper.__init__(self)
        EClient.__init__(self, self)
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def __getattribute__(self, name: str) -> Any:
        attr = object.__getattribute__(self, name)
        if callable(attr) and name in _RECORDED:
            def record(*args: Any) -> Any:
                with object.__getattribute__(self, "lock"):
                    object.__getattribute__(self, "events").append((name, args))
                return None
            return record
        return attr

    def start(self, port: int, client_id: int) -> None:
        self.connect("127.0.0.1", port, client_id)
        self.thread = threading.Thread(target=self.run, name="ibapi-reader", daemon=True)
        self.thread.start()
        self.wait("nextValidId")

    def stop(self) -> None:
        self.disconnect()
        if self.thread is not None:
            self.thread.join(WAIT)
            assert not self.thread.is_alive(), "ibapi's reader thread did not stop"

    def seen(self, name: str, pred: Callable[[tuple[Any, ...]], bool] = lambda a: True
             ) -> list[tuple[Any, ...]]:
        with self.lock:
            return [a for n, a in self.events if n == name and pred(a)]

    def wait(self, name: str, pred: Callable[[tuple[Any, ...]], bool] = lambda a: True,
             timeout: float = WAIT) -> list[tuple[Any, ...]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := self.seen(name, pred):
                return found
            time.sleep(0.01)
        with self.lock:
            tail = self.events[-15:]
        raise AssertionError(f"no {name} from the gateway within {timeout}s; last: {tail}")

    def errors(self, code: int) -> list[tuple[Any, ...]]:
        return self.seen("error", lambda a: a[1] == code)


_RECORDED = {
    "nextValidId", "managedAccounts", "error", "contractDetails", "contractDetailsEnd",
    "tickPrice", "tickSize", "tickSnapshotEnd", "marketDataType", "tickReqParams",
    "historicalData", "historicalDataEnd", "orderStatus", "openOrder", "openOrderEnd",
    "execDetails", "execDetailsEnd", "commissionReport", "position", "positionEnd",
    "accountSummary", "accountSummaryEnd", "pnl", "completedOrder", "completedOrdersEnd",
    "marketRule", "pnlSingle",
}


@pytest.fixture(autouse=True)
def no_dropped_messages(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """ibapi logs and drops a message whose field count is off: that is a failure here."""
    caplog.set_level(logging.ERROR, logger="ibapi")
    yield
    dropped = [r.getMessage()[:300] for r in caplog.records if r.name.startswith("ibapi")]
    assert dropped == [], f"ibapi could not decode: {dropped}"


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[TwsServer]:
    sim = SimBroker(tmp_path / "sim.sqlite", SimClock(START), seed=7)
    with TwsServer(sim, options=GatewayOptions(poll_seconds=0.05)) as srv:
        yield srv


@pytest.fixture
def app(gateway: TwsServer) -> Iterator[App]:
    a = App()
    a.start(gateway.port, 5)
    yield a
    a.stop()


def zo_fut() -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = "ZO", "FUT", "CBOT", "USD"
    return c


def limit(action: str, qty: int, price: float, ref: str) -> Order:
    o = Order()
    o.action, o.totalQuantity, o.orderType, o.lmtPrice, o.orderRef = (
        action, qty, "LMT", price, ref)
    o.tif = "DAY"
    o.eTradeOnly = o.firmQuoteOnly = False  # 9.81.1 defaults these to True; TWS 10 refuses
    return o


def test_ibapi_negotiates_157_and_decodes_contract_details(app: App, gateway: TwsServer):
    assert app.serverVersion() == 157
    app.reqContractDetails(1, zo_fut())
    app.wait("contractDetailsEnd", lambda a: a[0] == 1)
    assert app.seen("error") == [] or all(e[1] >= 2100 for e in app.seen("error"))
    details = [a[1] for a in app.seen("contractDetails", lambda a: a[0] == 1)]
    front = front_contract(get_market("ZO"), START.date())
    d = next(d for d in details if d.contractMonth == front.contract_month)
    assert (d.contract.conId, d.minTick, d.priceMagnifier) == (front.con_id, 0.0025, 100)
    by_id = Contract()
    by_id.conId, by_id.exchange = front.con_id, "CBOT"
    app.reqContractDetails(2, by_id)
    app.wait("contractDetailsEnd", lambda a: a[0] == 2)
    [(_, again)] = app.seen("contractDetails", lambda a: a[0] == 2)
    assert again.contract.localSymbol == d.contract.localSymbol
    # sessions as IB writes them, from the CBOT grains calendar: Thanksgiving closed, an
    # early close the day after
    assert d.timeZoneId == "US/Central"
    assert d.tradingHours.startswith("20261123:1900-20261124:0745;20261124:0830-20261124:1320")
    assert "20261125:1900" not in d.tradingHours, "no overnight session into Thanksgiving"
    assert "20261126:CLOSED" in d.liquidHours and "20261127:0830-20261127:1200" in \
        d.liquidHours
    app.reqMarketRule(int(d.marketRuleIds))
    [(rule_id, increments)] = app.wait("marketRule")
    assert rule_id == int(d.marketRuleIds)
    # in minTick units, as IB's own clients read a rule (x priceMagnifier 100 = the 0.25 grid)
    assert [(i.lowEdge, i.increment) for i in increments] == [(0.0, 0.0025)]
    assert d.minTick == 0.0025 and d.priceMagnifier == 100


def _front(app: App) -> Contract:
    app.reqContractDetails(90, zo_fut())
    app.wait("contractDetailsEnd", lambda a: a[0] == 90)
    front = front_contract(get_market("ZO"), START.date())
    c = Contract()
    c.conId, c.exchange = front.con_id, "CBOT"
    return c


def test_ibapi_quotes_and_bars(app: App):
    c = _front(app)
    for req, md_type in ((10, 1), (11, 3)):
        app.reqMarketDataType(md_type)
        app.reqMktData(req, c, "", True, False, [])
        app.wait("tickSnapshotEnd", lambda a, r=req: a[0] == r)
        ticks = {a[1]: a[2] for a in app.seen("tickPrice", lambda a, r=req: a[0] == r)}
        bid, ask = ticks.get(1, ticks.get(66)), ticks.get(2, ticks.get(67))
        assert bid is not None and ask is not None and 0 < bid < ask, ticks
    app.reqHistoricalData(20, c, "", "10 D", "1 day", "TRADES", 1, 1, False, [])
    app.wait("historicalDataEnd", lambda a: a[0] == 20)
    daily = [a[1] for a in app.seen("historicalData", lambda a: a[0] == 20)]
    assert len(daily) >= 5 and all(b.low <= b.close <= b.high for b in daily)
    app.reqHistoricalData(21, c, "", "3600 S", "5 mins", "TRADES", 1, 2, False, [])
    app.wait("historicalDataEnd", lambda a: a[0] == 21)
    assert len(app.seen("historicalData", lambda a: a[0] == 21)) == 13


def _quote(app: App, c: Contract, req: int) -> tuple[float, float]:
    app.reqMarketDataType(1)
    app.reqMktData(req, c, "", True, False, [])
    app.wait("tickSnapshotEnd", lambda a: a[0] == req)
    ticks = {a[1]: a[2] for a in app.seen("tickPrice", lambda a: a[0] == req)}
    return ticks[1], ticks[2]


def test_ibapi_order_fill_commission_errors_and_reconnect(app: App, gateway: TwsServer):
    c = _front(app)
    bid, ask = _quote(app, c, 30)
    [(oid,)] = app.seen("nextValidId")[-1:]
    app.placeOrder(oid, c, limit("BUY", 2, ask, "HYD-IBAPI-1"))
    app.wait("orderStatus", lambda a: a[0] == oid and a[1] == "Filled")
    [(_, _, ex)] = app.wait("execDetails", lambda a: a[2].orderId == oid)
    assert ex.orderRef == "HYD-IBAPI-1" and ex.shares == 2 and ex.price == ask
    [(report,)] = app.wait("commissionReport", lambda a: a[0].execId == ex.execId)
    assert report.commission > 0 and report.currency == "USD"
    # as IB reports them: the time zone named as in contract details, liquidity removed by a
    # marketable order, the unset realizedPNL / yield as Double.MAX_VALUE, no redemption date
    assert ex.time.endswith(" US/Central") and ex.lastLiquidity == 2
    assert (report.realizedPNL, report.yield_, report.yieldRedemptionDate) == \
        (1.7976931348623157e308, 1.7976931348623157e308, 0)

    app.placeOrder(oid + 1, c, limit("BUY", 1, round(bid - 0.001, 4), "HYD-IBAPI-2"))
    app.wait("error", lambda a: a[0] == oid + 1 and a[1] == 110)

    app.placeOrder(oid + 2, c, limit("BUY", 1, round(bid - 0.25, 4), "HYD-IBAPI-3"))
    app.wait("orderStatus", lambda a: a[0] == oid + 2 and a[1] == "Submitted")
    app.cancelOrder(oid + 2)
    app.wait("error", lambda a: a[0] == oid + 2 and a[1] == 202)
    app.wait("orderStatus", lambda a: a[0] == oid + 2 and a[1] == "Cancelled")

    app.placeOrder(oid + 2, c, limit("BUY", 1, round(bid - 0.25, 4), "HYD-IBAPI-4"))
    app.wait("error", lambda a: a[0] == oid + 2 and a[1] == 103)

    legacy = limit("BUY", 1, ask, "HYD-IBAPI-5")
    legacy.eTradeOnly = True  # ibapi 9.81.1's default, which TWS 10 rejects
    app.placeOrder(oid + 3, c, legacy)
    app.wait("error", lambda a: a[0] == oid + 3 and a[1] == 10268)

    app.stop()
    deadline = time.monotonic() + WAIT
    while 5 in gateway.connected_clients() and time.monotonic() < deadline:
        time.sleep(0.01)  # the gateway frees the client id when it sees the socket close
    again = App()
    again.start(gateway.port, 5)
    try:
        again.reqExecutions(40, ExecutionFilter())
        again.wait("execDetailsEnd", lambda a: a[0] == 40)
        execs = [a[2] for a in again.seen("execDetails", lambda a: a[0] == 40)]
        assert [e.orderRef for e in execs] == ["HYD-IBAPI-1"]
        again.reqPositions()
        again.wait("positionEnd")
        held = [a for a in again.seen("position") if a[1].conId == c.conId]
        assert held and held[-1][2] == 2
        again.reqAccountSummary(41, "All", "NetLiquidation,TotalCashValue,BuyingPower")
        again.wait("accountSummaryEnd", lambda a: a[0] == 41)
        tags = {a[2] for a in again.seen("accountSummary", lambda a: a[0] == 41)}
        assert {"NetLiquidation", "TotalCashValue"} <= tags
        account = again.seen("managedAccounts")[0][0].split(",")[0]
        again.reqPnL(42, account, "")
        again.wait("pnl", lambda a: a[0] == 42)
        again.reqPnLSingle(43, account, "", c.conId)
        _, pos, daily, _, _, value = again.wait("pnlSingle", lambda a: a[0] == 43)[0]
        assert pos == 2 and value > 0 and daily == again.seen("pnl")[-1][1]
        again.reqCompletedOrders(False)
        again.wait("completedOrdersEnd")
        assert again.seen("completedOrder")
    finally:
        again.stop()


@pytest.fixture(scope="session")
def ib_async_python() -> Path:
    """A venv with ib_async only, built once (about 10 s) and reused while its stamp says so."""
    python = IB_ASYNC_VENV / "bin" / "python"
    stamp = IB_ASYNC_VENV / f".{IB_ASYNC}"
    if stamp.exists() and python.exists():
        return python
    building = IB_ASYNC_VENV.with_name(f"{IB_ASYNC_VENV.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(building)], check=True, timeout=120)
    pip = subprocess.run([str(building / "bin" / "python"), "-m", "pip", "install", "-q",
                          "--disable-pip-version-check", IB_ASYNC],
                         capture_output=True, text=True, timeout=300)
    if pip.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        output = pip.stdout + pip.stderr
        if any(sign in output for sign in OFFLINE):
            pytest.skip(f"the package registry is unreachable, cannot install {IB_ASYNC}: "
                        f"{output.strip().splitlines()[-1]}")
        raise AssertionError(f"pip install {IB_ASYNC} failed:\n{output[-2000:]}")
    (building / f".{IB_ASYNC}").touch()
    shutil.rmtree(IB_ASYNC_VENV, ignore_errors=True)
    building.rename(IB_ASYNC_VENV)
    return python


def _client_run(python: Path, script: str, port: int, lib: str) -> dict:
    """One client script of tests/clients/ against the gateway: the JSON it prints last."""
    run = subprocess.run([str(python), str(ROOT / "tests" / "clients" / script), str(port), lib],
                         capture_output=True, text=True, timeout=90)
    assert run.returncode == 0, f"{lib} {script} failed:\n{run.stderr[-3000:]}"
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("lib", ["ib_async", "ib_insync"])
def test_ib_async_and_ib_insync_run_every_step(lib: str, gateway: TwsServer,
                                               request: pytest.FixtureRequest):
    python = request.getfixturevalue("ib_async_python") if lib == "ib_async" else \
        Path(sys.executable)
    out = _client_run(python, "ib_steps.py", gateway.port, lib)
    assert out["server_version"] == 176 and out["n_details"] >= 8
    assert out["time_zone"] == "US/Central" and len(out["by_con_id"]) == 1
    assert "20261128:CLOSED" in out["trading_hours"] and out["increments"] == [[0.0, 0.0025]]
    assert "20261125:1900" not in out["trading_hours"], "no overnight session into Thanksgiving"
    assert 0 < out["live"][0] < out["live"][1] and 0 < out["delayed"][0] < out["delayed"][1]
    assert out["bars"][0] >= 5 and out["bars"][1] == 13
    assert out["fill"][:2] == ["Filled", 2] and out["fill"][2] > 0
    assert {110, 202} <= set(out["errors"])
    assert out["refs_after_reconnect"] == ["HYD-ASYNC-1"] and out["positions"] == [2]
    assert {"NetLiquidation", "TotalCashValue"} <= set(out["summary_tags"])
    assert out["completed"] >= 2 and out["pnl_single"][0] == 2


def test_ibapi_a_resting_order_filled_later_added_liquidity(app: App, gateway: TwsServer):
    c = _front(app)
    path = gateway.call(lambda: gateway.sim.market("ZO").day_path(START.date()))
    i = path.index_at(START)
    asks, bids = path.ask[i + 5: i + 120], path.bid[i + 5: i + 120]
    if asks.min() < path.bid[i]:  # the seeded market dips: a BUY below the bid fills then
        j = int(np.argmin(asks))
        side, price = "BUY", float(asks[j])
    else:
        assert bids.max() > path.ask[i], "the seeded market must move for this test"
        j = int(np.argmax(bids))
        side, price = "SELL", float(bids[j])
    [(oid,)] = app.seen("nextValidId")[-1:]
    app.placeOrder(oid, c, limit(side, 1, price, "HYD-IBAPI-PASSIVE"))
    app.wait("orderStatus", lambda a: a[0] == oid and a[1] == "Submitted")
    gateway.sim.clock.advance_to(path.time(i + 5 + j) + timedelta(minutes=30))
    gateway.sync()
    [(_, _, ex)] = app.wait("execDetails", lambda a: a[2].orderId == oid)
    assert ex.lastLiquidity == 1 and ex.price == price


# ------------------------------------------------------------------ IB's wire, as IB sends it
def test_a_fill_arrives_in_the_order_tws_sends_it(app: App):
    """Wire captures of TWS show a fill as execDetails, then openOrder and orderStatus for the
    status change, then commissionReport (rust-ibapi #811, ibsync #11): a client that keys a
    commission to a fill it has not seen yet would drop it, so the order is asserted."""
    c = _front(app)
    _, ask = _quote(app, c, 50)
    [(oid,)] = app.seen("nextValidId")[-1:]
    with app.lock:
        start = len(app.events)
    app.placeOrder(oid, c, limit("BUY", 1, ask, "HYD-IBAPI-ORDER"))
    [(_, _, ex)] = app.wait("execDetails", lambda a: a[2].orderId == oid)
    app.wait("commissionReport", lambda a: a[0].execId == ex.execId)
    with app.lock:
        events = app.events[start:]
    mine = []
    for name, args in events:
        if name == "openOrder" and args[0] == oid:
            mine.append(f"openOrder {args[3].status}")
        elif name == "orderStatus" and args[0] == oid:
            mine.append(f"orderStatus {args[1]}")
        elif name == "execDetails" and args[2].orderId == oid:
            mine.append("execDetails")
        elif name == "commissionReport" and args[0].execId == ex.execId:
            mine.append("commissionReport")
    assert mine == ["openOrder Submitted", "orderStatus Submitted", "execDetails",
                    "openOrder Filled", "orderStatus Filled", "commissionReport"]


@pytest.fixture
def delayed_gateway(tmp_path: Path) -> Iterator[tuple[TwsServer, list[tuple[int, list]]]]:
    """A gateway for an account without market data subscriptions (delayed data only), with
    every message it sends recorded as (session number, fields) as it goes on the wire."""
    from hydra.gateway import server as tws_server

    sent: list[tuple[int, list]] = []
    real_send = tws_server.Session.send

    def record(self: tws_server.Session, fields: Any) -> None:
        fields = list(fields)
        sent.append((self.number, fields))
        real_send(self, fields)

    sim = SimBroker(tmp_path / "sim.sqlite", SimClock(START), seed=7)
    tws_server.Session.send = record  # type: ignore[method-assign]
    try:
        with TwsServer(sim, options=GatewayOptions(market_data="delayed",
                                                   poll_seconds=0.05)) as srv:
            yield srv, sent
    finally:
        tws_server.Session.send = real_send  # type: ignore[method-assign]


def test_ibapi_sees_delayed_ticks_and_the_delayed_market_data_type(delayed_gateway):
    gateway, sent = delayed_gateway
    app = App()
    app.start(gateway.port, 5)
    try:
        c = _front(app)
        app.reqMarketDataType(3)
        app.reqMktData(60, c, "", False, False, [])
        app.wait("marketDataType", lambda a: a == (60, 3))
        for tick in (66, 67, 68, 75):
            app.wait("tickPrice", lambda a, t=tick: a[0] == 60 and a[1] == t)
        for tick in (69, 70, 71):
            app.wait("tickSize", lambda a, t=tick: a[0] == 60 and a[1] == t and a[2] > 0)
        live = {1, 2, 4, 9, 0, 3, 5}
        assert not app.seen("tickPrice", lambda a: a[0] == 60 and a[1] in live)
        assert not app.seen("tickSize", lambda a: a[0] == 60 and a[1] in live)
    finally:
        app.stop()
    # as TWS does, each size also goes out as its own tickSize message (ibapi would otherwise
    # only see the ones it derives from tickPrice; ib_insync keeps a size only from either)
    own = {int(f[3]) for _, f in sent if f[0] == 2 and str(f[2]) == "60"}  # TICK_SIZE
    assert own >= {69, 70, 71}


@pytest.mark.parametrize("lib", ["ib_insync", "ib_async"])
def test_ib_insync_and_ib_async_tickers_are_marked_delayed(lib: str, delayed_gateway,
                                                           request: pytest.FixtureRequest):
    gateway, _ = delayed_gateway
    python = request.getfixturevalue("ib_async_python") if lib == "ib_async" else \
        Path(sys.executable)
    out = _client_run(python, "delayed_quote.py", gateway.port, lib)
    assert out["marketDataType"] == 3, out
    assert 0 < out["bid"] < out["ask"] and out["last"] > 0 and out["close"] > 0, out
    assert out["bidSize"] > 0 and out["askSize"] > 0 and out["lastSize"] > 0, out
    assert out["errors"] == [], out


def test_contract_details_carry_agg_group_unset_as_tws_writes_it(gateway: TwsServer):
    """TWS writes an unset aggGroup as 2147483647, which ibapi's decoder reads as
    UNSET_INTEGER; an empty field would decode as aggGroup 0, a real (wrong) group."""
    from ibapi.common import UNSET_INTEGER
    from ibapi.decoder import Decoder as IbDecoder

    from hydra.gateway import messages as m
    from hydra.gateway.protocol import MIN_CLIENT_VERSION, SERVER_VERSION, encode

    front = front_contract(get_market("ZO"), START.date())
    ib = gateway.call(lambda: gateway._register(front))
    got: list[Any] = []

    class Rec(EWrapper):
        def contractDetails(self, req_id: int, details: Any) -> None:
            got.append(details)

    body = encode(m.for_version(m.contract_data(1, ib), MIN_CLIENT_VERSION))[4:]
    IbDecoder(Rec(), MIN_CLIENT_VERSION).interpret(tuple(body.split(b"\0")[:-1]))
    [details] = got
    assert details.aggGroup == UNSET_INTEGER and details.contract.conId == front.con_id
    # the newest layout carries the same field where ib_insync reads it (server version 176)
    fields = m.for_version(m.contract_data(1, ib), SERVER_VERSION)
    assert encode(fields)[4:].split(b"\0")[31] == b"2147483647"  # as in a recorded TWS frame

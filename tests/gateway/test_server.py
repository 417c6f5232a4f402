"""The simulated gateway behaves like IB Gateway where a client would notice the difference.

Driven with plain ib_insync (no Hydra adapter), on its own event loop thread.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from ib_insync import IB, ContFuture, Contract, Future, LimitOrder, StopOrder

from hydra.broker.ib.event_loop import LoopThread
from hydra.broker.sim.broker import SimBroker
from hydra.gateway.server import GatewayOptions, TwsServer, ib_local_symbol
from hydra.reference.clock import SimClock
from hydra.reference.contracts import front_contract
from hydra.reference.markets import get_market

START = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("America/Chicago"))


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[TwsServer]:
    sim = SimBroker(tmp_path / "sim.sqlite", SimClock(START), seed=7)
    with TwsServer(sim, options=GatewayOptions(poll_seconds=0.05)) as srv:
        yield srv


@pytest.fixture
def client(gateway: TwsServer) -> Iterator[tuple[LoopThread, Any]]:
    loop = LoopThread("test-ib-client")
    loop.start()
    ib = loop.call(IB)
    loop.run(lambda: ib.connectAsync("127.0.0.1", gateway.port, clientId=3, timeout=5), 10)
    logging.getLogger("ib_insync").setLevel(logging.CRITICAL)
    yield loop, ib
    loop.call(ib.disconnect)
    loop.stop()
    logging.getLogger("ib_insync").setLevel(logging.NOTSET)


def test_only_loopback_is_served(tmp_path: Path):
    sim = SimBroker(tmp_path / "sim.sqlite", SimClock(START), seed=7)
    with pytest.raises(ValueError, match="loopback"):
        TwsServer(sim, host="0.0.0.0")


def test_contract_lookups_answer_like_ib(client: tuple[LoopThread, Any]):
    loop, ib = client
    details = loop.run(lambda: ib.reqContractDetailsAsync(Future("ZO", exchange="CBOT")), 10)
    front = front_contract(get_market("ZO"), START.date())
    assert all(d.contract.secType == "FUT" for d in details) and len(details) >= 8
    by_month = {d.contractMonth: d for d in details}
    d = by_month[front.contract_month]
    assert (d.contract.conId, d.contract.localSymbol) == (front.con_id, ib_local_symbol(front))
    assert (d.minTick, d.priceMagnifier, d.contract.multiplier) == (0.0025, 100, "5000")
    cont = loop.run(lambda: ib.reqContractDetailsAsync(ContFuture("ZO", "CBOT")), 10)
    assert [c.contract.secType for c in cont] == ["CONTFUT"]
    globex = loop.run(lambda: ib.reqContractDetailsAsync(Future("HE", exchange="GLOBEX")), 10)
    assert globex == [], "hogs are on CME at IB, not GLOBEX"


def test_orders_on_contfut_or_unsimulated_types_are_rejected(client: tuple[LoopThread, Any],
                                                             gateway: TwsServer):
    loop, ib = client
    [cont] = loop.run(lambda: ib.reqContractDetailsAsync(ContFuture("ZO", "CBOT")), 10)
    contfut = Contract(secType="CONTFUT", conId=cont.contract.conId, exchange="CBOT")
    trades = [loop.call(lambda: ib.placeOrder(contfut, LimitOrder("BUY", 1, 500.0))),
              loop.call(lambda: ib.placeOrder(Future(conId=cont.contract.conId,
                                                     exchange="CBOT"), StopOrder("BUY", 1, 600)))]
    errors: list[tuple[int, int, str]] = []
    loop.call(lambda: ib.errorEvent.connect(lambda r, c, m, _: errors.append((r, c, m))))
    gateway.sync()

    async def settle() -> None:
        import asyncio
        for _ in range(100):
            if len(errors) >= 2 or all(t.isDone() for t in trades):
                return
            await asyncio.sleep(0.02)

    loop.run(settle, 5)
    assert gateway.call(lambda: gateway.sim.orders()) == [], "nothing reached the simulator"
    assert all(t.orderStatus.status == "Cancelled" for t in trades)
    messages = " ".join(entry.message for t in trades for entry in t.log)
    assert "data only" in messages and "Unsupported order type STP" in messages


def test_an_unsupported_request_fails_at_once_instead_of_hanging(
        client: tuple[LoopThread, Any]):
    import time

    from ib_insync import RequestError

    loop, ib = client
    ib.RaiseRequestErrors = True
    contract = loop.run(lambda: ib.qualifyContractsAsync(Future("ZO", "202703", "CBOT")), 10)[0]
    started = time.monotonic()
    with pytest.raises(RequestError, match="does not support API message 87"):
        loop.run(lambda: ib.reqHeadTimeStampAsync(contract, "TRADES", True, 1), 10)
    assert time.monotonic() - started < 5


def test_intraday_bars_come_from_the_same_path_as_the_quotes(client: tuple[LoopThread, Any]):
    loop, ib = client
    contract = loop.run(lambda: ib.qualifyContractsAsync(Future("ZO", "202703", "CBOT")), 10)[0]
    bars = loop.run(lambda: ib.reqHistoricalDataAsync(
        contract, "", "3600 S", "5 mins", "TRADES", True, formatDate=2), 10)
    assert len(bars) == 13  # 09:00..10:00 CT: twelve whole bars and the one in progress
    times = [b.date for b in bars]
    assert times == sorted(times) and all(t.minute % 5 == 0 for t in times)
    assert all(b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for b in bars)
    assert all(abs(p / 0.25 - round(p / 0.25)) < 1e-9 for b in bars for p in (b.high, b.low))
    ticker = loop.run(lambda: ib.reqTickersAsync(contract), 10)[0]
    assert bars[-1].close == ticker.last
    hourly = loop.run(lambda: ib.reqHistoricalDataAsync(
        contract, "", "1 D", "1 hour", "TRADES", False, formatDate=2), 10)
    assert len(hourly) > len(bars) / 12  # overnight hours too without useRTH


def test_a_client_older_than_157_is_refused_with_the_reason(
        gateway: TwsServer, caplog: pytest.LogCaptureFixture):
    import socket
    import struct

    caplog.set_level(logging.WARNING, logger="hydra")
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:
        text = b"v100..150"
        sock.sendall(b"API\0" + struct.pack(">I", len(text)) + text)
        assert sock.recv(1024) == b"", "the gateway closes instead of answering a version"
    gateway.sync()
    assert any("100..150 do not overlap this server's 157..176" in r.getMessage()
               for r in caplog.records)

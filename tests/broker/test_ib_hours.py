"""IB's trading-hours strings: written by the sim gateway, checked by Hydra's IB adapter.

A broker whose sessions disagree with the exchange calendar (a holiday or early close one
side does not know) must stop the cycle at contract resolution, before any order.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from hydra.broker.ib.adapter import IBBroker
from hydra.broker.ib.hours import ib_hours, parse_ib_hours
from hydra.broker.ib.translate import check_sessions
from hydra.broker.sim.broker import SimBroker
from hydra.config import IBConfig
from hydra.domain.broker import BrokerError
from hydra.gateway import server as tws_server
from hydra.gateway.server import GatewayOptions, TwsServer
from hydra.reference.clock import SimClock
from hydra.reference.markets import get_market

ZO = get_market("ZO")
THANKSGIVING_WEEK = date(2026, 11, 24)
SETTINGS = IBConfig(connect_timeout_seconds=3.0, connect_attempts=1, retry_backoff_seconds=0.1,
                    request_timeout_seconds=10.0, market_data_type=3, quote_wait_seconds=2.0,
                    account="")


def test_hours_follow_the_calendar_with_holidays_and_early_closes():
    trading, liquid = ib_hours(ZO, THANKSGIVING_WEEK)
    days = parse_ib_hours(trading, "US/Central")
    assert date(2026, 11, 26) not in days, "Thanksgiving: no session ends that day"
    assert parse_ib_hours(liquid, "US/Central")[date(2026, 11, 26)] == []
    assert "20261128:CLOSED" in trading and "20261129:CLOSED" not in trading, \
        "as IB writes it: a date on which no session opens is CLOSED (Sunday's opens at 19:00)"
    chi = ZoneInfo("America/Chicago")
    assert days[date(2026, 11, 24)] == [
        (datetime(2026, 11, 23, 19, 0, tzinfo=chi), datetime(2026, 11, 24, 7, 45, tzinfo=chi)),
        (datetime(2026, 11, 24, 8, 30, tzinfo=chi), datetime(2026, 11, 24, 13, 20, tzinfo=chi))]
    assert liquid.split(";")[3] == "20261127:0830-20261127:1200", "early close after Thanksgiving"
    assert check_sessions(ZO, SimpleNamespace(tradingHours=trading, timeZoneId="US/Central")) \
        == []


@pytest.mark.parametrize("hours,zone,why", [
    ("", "US/Central", "no trading hours"),
    ("20261126:0830-20261126:1320", "US/Central", "2026-11-26: IB 20261126:0830"),
    ("20261124:0830-20261124:1320", "US/Central", "calendar 20261123:1900"),
    ("20261124:0830-20261124:1320", "Mars/Olympus", "unknown time zone"),
    ("20261124:08:30-13:20", "US/Central", "cannot read"),
])
def test_a_disagreement_is_named(hours: str, zone: str, why: str):
    found = check_sessions(ZO, SimpleNamespace(tradingHours=hours, timeZoneId=zone))
    assert found and why in found[0]


def test_the_adapter_refuses_a_contract_whose_sessions_differ(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    start = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("America/Chicago"))
    sim = SimBroker(tmp_path / "sim.sqlite", SimClock(start), seed=7)

    def open_on_thanksgiving(market, first, days=7):  # a broker that missed the holiday
        trading, liquid = ib_hours(market, first, days)
        return trading.replace("20261125:0830-20261125:1320;",
                               "20261125:0830-20261125:1320;20261125:1900-20261126:0745;"), liquid

    with TwsServer(sim, options=GatewayOptions(poll_seconds=0.05)) as gw:
        monkeypatch.setenv("HYDRA_PAPER_PORTS", str(gw.port))
        broker = IBBroker(port=gw.port, client_id=23, settings=SETTINGS)
        broker.connect()
        try:
            assert broker.contract_details("ZO", THANKSGIVING_WEEK).symbol == "ZO"
            monkeypatch.setattr(tws_server, "ib_hours", open_on_thanksgiving)
            broker._contracts.clear()
            broker._by_local.clear()
            with pytest.raises(BrokerError, match="trading hours: 2026-11-26: IB 20261125:1900"):
                broker.contract_details("ZO", THANKSGIVING_WEEK)
        finally:
            broker.close()


# Recorded from a real TWS (API version >= 164, March 2024) in the public pyfutures project's
# protocol tests: contract details for CME Class III milk futures (DC), US/Central, in the
# week of Good Friday 2024-03-29. IB lists each window under the date it opens.
RECORDED_DC_TRADING = ("20240325:1700-20240326:1600;20240326:1700-20240327:1600;"
                       "20240327:1700-20240328:1355;20240329:CLOSED;20240330:CLOSED;"
                       "20240331:1700-20240401:1600")


def test_hours_recorded_from_a_real_tws_parse_by_trade_date():
    days = parse_ib_hours(RECORDED_DC_TRADING, "US/Central")
    chi = ZoneInfo("America/Chicago")
    assert days[date(2024, 3, 28)] == [(datetime(2024, 3, 27, 17, 0, tzinfo=chi),
                                        datetime(2024, 3, 28, 13, 55, tzinfo=chi))]
    assert days[date(2024, 3, 29)] == [] and days[date(2024, 3, 30)] == []
    assert days[date(2024, 4, 1)][0][0] == datetime(2024, 3, 31, 17, 0, tzinfo=chi)

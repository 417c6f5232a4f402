from datetime import date, time

import pytest

from hydra.reference.contracts import first_notice_date, front_contract, last_trade_date, roll_date
from hydra.reference.markets import UnknownMarketError, get_market, load_registry
from hydra.reference.sessions import is_trading_day, non_trading_reason, session_windows


def test_registry_has_oats_and_two_other_ag_futures():
    reg = load_registry()
    assert {"ZO", "ZC", "HE"} <= set(reg)
    zo = reg["ZO"]
    assert (zo.multiplier, zo.tick, zo.contract_months) == (5000, 0.25, "HKNUZ")
    assert zo.exchange == "CBOT"
    assert zo.tick_value == pytest.approx(12.50)
    assert reg["HE"].tick_value == pytest.approx(10.00)
    assert reg["HE"].exchange == "CME"


def test_unknown_market_names_the_known_ones():
    with pytest.raises(UnknownMarketError, match="ZC, ZO"):
        get_market("XX")


def test_oats_expiry_rules_december_2026():
    zo = get_market("ZO")
    assert last_trade_date(zo, 2026, 12) == date(2026, 12, 14)  # business day before the 15th
    assert first_notice_date(zo, 2026, 12) == date(2026, 11, 30)
    assert roll_date(zo, 2026, 12) == date(2026, 11, 20)  # 5 trading days before (Thanksgiving)
    assert front_contract(zo, date(2026, 11, 19)).local_symbol == "ZOZ6"
    assert front_contract(zo, date(2026, 11, 20)).local_symbol == "ZOH7"


def test_lean_hogs_cash_settled_roll():
    he = get_market("HE")
    assert first_notice_date(he, 2026, 12) is None
    c = front_contract(he, date(2026, 11, 24))
    assert c.local_symbol == "HEZ6" and c.tick == 0.025


@pytest.mark.parametrize("day,why", [
    (date(2026, 11, 26), "Thanksgiving"),
    (date(2026, 4, 3), "Good Friday"),
    (date(2026, 6, 19), "Juneteenth"),
    (date(2026, 11, 28), "weekend"),
])
def test_grains_holidays(day, why):
    zo = get_market("ZO")
    assert not is_trading_day(zo, day)
    assert why in non_trading_reason(zo, day)


def test_registry_sessions_match_the_calendar():
    """The human-readable `sessions` in the registry say what the calendar does."""
    from zoneinfo import ZoneInfo

    for sym, day in (("ZO", date(2026, 11, 24)), ("HE", date(2026, 11, 24))):
        m = get_market(sym)
        tz = ZoneInfo(m.timezone)
        windows = [(a.astimezone(tz).time(), b.astimezone(tz).time())
                   for a, b in session_windows(m, day)]
        described = []
        for s in m.sessions:
            span = s.split()[-1]
            a, b = span.split("-")
            described.append((time.fromisoformat(a), time.fromisoformat(b)))
        assert sorted(windows) == sorted(described), sym


def test_day_after_thanksgiving_closes_early():
    zo = get_market("ZO")
    from zoneinfo import ZoneInfo

    end = session_windows(zo, date(2026, 11, 27))[-1][1].astimezone(ZoneInfo("America/Chicago"))
    assert end.hour == 12

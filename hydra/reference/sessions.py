"""Exchange calendars: trading days, session windows and holidays per market.

pandas_market_calendars is the authority (its CBOT_Agriculture calendar has the grains holidays
right, including Good Friday, Juneteenth, Thanksgiving and the early close the day after); we
only cache its schedule and answer the questions the cycle asks.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from hydra.domain.market import Market
from hydra.reference.markets import MarketsFileError, registry_source

_FIRST, _LAST = "2000-01-01", "2045-12-31"


@cache
def _calendar(name: str):
    import pandas_market_calendars as mcal

    try:
        return mcal.get_calendar(name)
    except RuntimeError as exc:  # its way of saying "no such calendar"
        raise MarketsFileError(
            f"{registry_source()}: calendar {name!r} is not a pandas_market_calendars calendar "
            "(e.g. CBOT_Agriculture, CMEGlobex_Lean_Hog); fix the market's calendar key "
            "(nothing was sent)") from exc


def check_calendar(market: Market) -> None:
    """Fail now, naming the file to fix, if the market's calendar is not one we can read."""
    _calendar(market.calendar)


@cache
def _schedule(name: str) -> pd.DataFrame:
    cal = _calendar(name)
    times = cal.market_times
    sched = cal.schedule(_FIRST, _LAST, start=times[0], end=times[-1])
    sched.index = pd.Index([ts.date() for ts in sched.index], name="trade_date")
    return sched


@cache
def _trading_days(name: str) -> tuple[date, ...]:
    return tuple(_schedule(name).index)


def trading_days(market: Market, start: date, end: date) -> list[date]:
    days = _trading_days(market.calendar)
    return [d for d in days if start <= d <= end]


def is_trading_day(market: Market, day: date) -> bool:
    return day in _schedule(market.calendar).index


def previous_trading_day(market: Market, day: date) -> date:
    days = _trading_days(market.calendar)
    import bisect

    i = bisect.bisect_left(days, day)
    if i == 0:
        raise ValueError(f"no trading day before {day} in the {market.calendar} calendar")
    return days[i - 1]


def next_trading_day(market: Market, day: date) -> date:
    days = _trading_days(market.calendar)
    import bisect

    i = bisect.bisect_right(days, day)
    if i >= len(days):
        raise ValueError(f"no trading day after {day} in the {market.calendar} calendar")
    return days[i]


def add_trading_days(market: Market, day: date, n: int) -> date:
    """`day` moved by n trading days (n < 0 goes back); `day` itself need not trade."""
    d = day
    step = next_trading_day if n > 0 else previous_trading_day
    for _ in range(abs(n)):
        d = step(market, d)
    return d


def session_windows(market: Market, day: date) -> list[tuple[datetime, datetime]]:
    """The (start, end) UTC windows in which `day`'s trade date can trade; [] if it does not."""
    return list(_windows(market.calendar, day))


@cache
def _windows(calendar: str, day: date) -> tuple[tuple[datetime, datetime], ...]:
    """session_windows per calendar and day, remembered: the schedule is read once per process
    and never changes, and the simulator asks for the same days on every call."""
    rows, cols = _window_table(calendar)
    i = rows.get(day)
    if i is None:
        return ()
    start, end = _utc(cols["market_open"][i]), _utc(cols["market_close"][i])
    if "break_start" in cols and cols["break_start"][i] != _NAT and cols["break_end"][i] != _NAT:
        b0, b1 = _utc(cols["break_start"][i]), _utc(cols["break_end"][i])
        if start < b0 < b1 < end:
            return ((start, b0), (b1, end))
    return ((start, end),)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAT = np.iinfo(np.int64).min  # NaT as an integer


@cache
def _window_table(calendar: str) -> tuple[dict[date, int], dict[str, np.ndarray]]:
    """The schedule's rows by trade date and its times as UTC microseconds (one array per
    column): a row's datetimes are built from them on demand, the same ones
    Timestamp.to_pydatetime() gives, without a pandas row lookup per day."""
    sched = _schedule(calendar)
    cols = {c: sched[c].astype("datetime64[us, UTC]").array.asi8 for c in sched.columns
            if c in ("market_open", "market_close", "break_start", "break_end")}
    return {d: i for i, d in enumerate(sched.index)}, cols


def _utc(micros: np.int64) -> datetime:
    return _EPOCH + timedelta(microseconds=int(micros))


def in_session(market: Market, when: datetime) -> bool:
    return current_trade_date(market, when) is not None


def current_trade_date(market: Market, when: datetime) -> date | None:
    """The trade date whose session is open at `when`, or None between sessions."""
    if when.tzinfo is None:
        raise TypeError(f"current_trade_date needs a timezone-aware time, got {when}")
    local = when.astimezone(ZoneInfo(market.timezone)).date()
    for day in (local, local + timedelta(days=1)):
        for start, end in session_windows(market, day):
            if start <= when < end:
                return day
    return None


def non_trading_reason(market: Market, day: date) -> str | None:
    """Why `day` is not a trading day (weekend, named holiday), or None when it trades."""
    if is_trading_day(market, day):
        return None
    if day.weekday() >= 5:
        return f"{day:%A} {day.isoformat()} is a weekend: {market.exchange} is closed"
    cal = _calendar(market.calendar)
    names = cal.regular_holidays.holidays(day, day, return_name=True)
    if len(names):
        holiday = names.iloc[0]
        return f"{day.isoformat()} is an exchange holiday ({holiday}): {market.exchange} is closed"
    return f"{day.isoformat()} is not a trading day in the {market.calendar} calendar"

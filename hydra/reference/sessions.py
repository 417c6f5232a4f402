"""Exchange calendars: trading days, session windows and holidays per market.

pandas_market_calendars is the authority (its CBOT_Agriculture calendar has the grains holidays
right, including Good Friday, Juneteenth, Thanksgiving and the early close the day after); we
only cache its schedule and answer the questions the cycle asks.

Building that schedule for 2000-2045 (and importing pandas_market_calendars) costs ~0.6 s of
CPU, paid by every process that asks a calendar question: each `hydra` command, kernel and
replay. So the table we read from it (trade dates, session times, holiday names) is kept on
disk, one file per calendar, keyed by everything it depends on (the calendar's name, the range,
the versions of pandas_market_calendars, exchange_calendars and pandas, and this file's own
source), written atomically and checked by a digest when read: a stale, foreign or corrupt
file is ignored and rebuilt. Where the cache lives: $HYDRA_CACHE_DIR, else
$XDG_CACHE_HOME/hydra, else ~/.cache/hydra; if it cannot be written we only lose the speed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from hydra.domain.market import Market
from hydra.reference.markets import MarketsFileError, registry_source

_FIRST, _LAST = "2000-01-01", "2045-12-31"
_TIME_COLUMNS = ("market_open", "break_start", "break_end", "market_close")
_CACHE_FORMAT = 1  # bump when the file's layout changes (the source hash also changes then)


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
    """Fail now, naming the file to fix, if the market's calendar is not one we can read
    (a cached table proves it: only a calendar pandas_market_calendars knows is cached)."""
    _table(market.calendar)


@cache
def _schedule(name: str) -> pd.DataFrame:
    """pandas_market_calendars' schedule for our range, indexed by trade date (the authority
    the cached table is built from)."""
    cal = _calendar(name)
    times = cal.market_times
    sched = cal.schedule(_FIRST, _LAST, start=times[0], end=times[-1])
    sched.index = pd.Index([ts.date() for ts in sched.index], name="trade_date")
    return sched


# ------------------------------------------------------------------------ the cached table
@dataclass(frozen=True)
class _Table:
    """What we read from a calendar: its trade dates in order, their row numbers, the session
    times as UTC microseconds per column (NaT as _NAT), and the named regular holidays."""

    days: tuple[date, ...]
    rows: dict[date, int]
    cols: dict[str, np.ndarray]
    holidays: dict[date, str]


def _build(name: str) -> dict[str, np.ndarray]:
    """The table's arrays, from pandas_market_calendars (the slow path)."""
    sched = _schedule(name)
    arrays = {"days": np.array([d.toordinal() for d in sched.index], dtype=np.int64)}
    for c in _TIME_COLUMNS:
        if c in sched.columns:
            arrays[c] = np.asarray(sched[c].astype("datetime64[us, UTC]").array.asi8,
                                   dtype=np.int64)
    regular = _calendar(name).regular_holidays
    named = (regular.holidays(_FIRST, _LAST, return_name=True) if regular is not None
             else pd.Series([], dtype=object))
    first: dict[int, str] = {}
    for ts, holiday in named.items():  # the first name per day, as a one-day query gives it
        first.setdefault(pd.Timestamp(ts).date().toordinal(), str(holiday))
    arrays["holiday_days"] = np.array(list(first), dtype=np.int64)
    arrays["holiday_names"] = np.array(list(first.values()), dtype=np.str_)
    return arrays


def _cache_key(name: str) -> dict[str, object]:
    """Everything the table depends on: any change makes a new key (a new file)."""
    from importlib.metadata import version

    return {
        "format": _CACHE_FORMAT,
        "calendar": name,
        "range": [_FIRST, _LAST],
        "pandas_market_calendars": version("pandas_market_calendars"),
        "exchange_calendars": version("exchange_calendars"),
        "pandas": pd.__version__,
        "code": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
    }


def _cache_dir() -> Path:
    if os.environ.get("HYDRA_CACHE_DIR"):
        return Path(os.environ["HYDRA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hydra"


def _cache_path(name: str, key: dict[str, object]) -> Path:
    tag = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return _cache_dir() / "calendars" / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}-{tag}.npz"


def _digest(key_text: str, arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256(key_text.encode())
    for k in sorted(arrays):
        h.update(k.encode())
        h.update(str(arrays[k].dtype).encode())
        h.update(np.ascontiguousarray(arrays[k]).tobytes())
    return h.hexdigest()


def _read_cache(path: Path, key_text: str) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None when the file is missing, unreadable, for another key, or
    does not match its digest (truncated, edited, half-written by an older version)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception:  # any unreadable file is only a cache miss
        return None
    key, digest = arrays.pop("key", None), arrays.pop("digest", None)
    if key is None or digest is None or str(key) != key_text:
        return None
    if str(digest) != _digest(key_text, arrays) or "days" not in arrays:
        return None
    n = len(arrays["days"])
    if any(len(arrays[c]) != n for c in _TIME_COLUMNS if c in arrays):
        return None
    return arrays


def _write_cache(path: Path, key_text: str, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically (a temporary file in the same folder, then rename): a reader sees the
    old file or the whole new one. Failing to write only costs the next process the rebuild."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, key=np.array(key_text), digest=np.array(_digest(key_text, arrays)),
                         **arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        pass


@cache
def _table(name: str) -> _Table:
    """The calendar's table: from the disk cache when it is valid, else built and cached."""
    key = _cache_key(name)
    key_text = json.dumps(key, sort_keys=True)
    path = _cache_path(name, key)
    arrays = _read_cache(path, key_text)
    if arrays is None:
        arrays = _build(name)  # raises MarketsFileError for an unknown calendar: not cached
        _write_cache(path, key_text, arrays)
    days = tuple(date.fromordinal(int(d)) for d in arrays["days"])
    holidays = {date.fromordinal(int(d)): str(n)
                for d, n in zip(arrays["holiday_days"], arrays["holiday_names"], strict=True)}
    cols = {c: arrays[c] for c in _TIME_COLUMNS if c in arrays}
    return _Table(days, {d: i for i, d in enumerate(days)}, cols, holidays)


def trading_days(market: Market, start: date, end: date) -> list[date]:
    days = _table(market.calendar).days
    return [d for d in days if start <= d <= end]


def is_trading_day(market: Market, day: date) -> bool:
    return day in _table(market.calendar).rows


def previous_trading_day(market: Market, day: date) -> date:
    days = _table(market.calendar).days
    import bisect

    i = bisect.bisect_left(days, day)
    if i == 0:
        raise ValueError(f"no trading day before {day} in the {market.calendar} calendar")
    return days[i - 1]


def next_trading_day(market: Market, day: date) -> date:
    days = _table(market.calendar).days
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
    table = _table(calendar)
    rows, cols = table.rows, table.cols
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
    holiday = _table(market.calendar).holidays.get(day)
    if holiday is not None:
        return f"{day.isoformat()} is an exchange holiday ({holiday}): {market.exchange} is closed"
    return f"{day.isoformat()} is not a trading day in the {market.calendar} calendar"

"""A deterministic simulated futures market: daily closes, minute quotes, a book, volume.

Pure (no I/O, no wall clock): everything about a market on a date follows from
`(seed, symbol, date)`, so a notebook, the CLI and a test on another machine see the same prices.

How it is built, and why:

* Randomness comes only from `np.random.PCG64` seeded with a `SeedSequence` of
  `[seed, crc32(symbol), stream, day ordinal, ...]`, and only `Generator.random()` uniforms are
  used (normals by Box-Muller here), because numpy guarantees neither its other distribution
  algorithms nor Python's `hash()` across versions and processes.
* The daily close path covers every trading day of the market's calendar from 2000-01-03 to
  2045. Log returns follow seeded *regimes*: blocks of 40..160 trading days that are
  "trending" (AR(1) phi=+0.3 plus a signed drift), "mean_reverting" (phi=-0.3) or "random_walk"
  (phi=0), each with a volatility multiplier (calm 0.7x, normal 1x, volatile 1.5x). A weak pull
  of the log level toward log(sim.price) keeps prices within roughly 0.4x..2.5x over decades.
* A trade date's intraday mid path is a Brownian bridge over a one-minute grid of its session
  windows, from the previous close (plus a small overnight gap) to the day's close, with the
  day's volatility spread more into the day session. The daily `Bar` is read off that path
  (mids rounded to the tick), so bars and minute quotes can never disagree.
* Quotes sit on the tick grid around the minute mid with `sim.spread_ticks` (occasionally
  wider), sizes about `sim.depth` (thinner overnight), and a deeper book: level k on each side is
  k ticks further out with about `sim.depth` contracts, so large orders walk the book and pay.

* The *null market* (`SimMarket(..., null=True)`, config `sim.null_market`) is a calibration
  setting: one "random_walk/normal" regime over the whole history and no pull, so daily log
  returns are i.i.d. normal and no model can have an edge. The loop should almost never promote
  on it; anything it does there is a false alarm or a false promotion. The default (False) leaves
  every existing seed's prices unchanged.

Simplification: all contract months of one market share this one underlying price path (no
calendar spreads, no convergence to a delivery price).
"""

from __future__ import annotations

import bisect
import math
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np

from hydra.domain.broker import Bar
from hydra.domain.market import Market
from hydra.reference.markets import get_market
from hydra.reference.sessions import session_windows, trading_days

EPOCH = date(2000, 1, 3)
HORIZON = date(2045, 12, 31)

# Independent random streams, so changing how one thing is drawn never shifts another.
_STREAM_REGIMES = 1
_STREAM_DAILY = 2
_STREAM_INTRADAY = 3
_STREAM_QUOTES = 4
_STREAM_BOOK = 5

_KINDS: dict[str, float] = {"trending": 0.3, "mean_reverting": -0.3, "random_walk": 0.0}
_VOLS: dict[str, float] = {"calm": 0.7, "normal": 1.0, "volatile": 1.5}
_TREND_DRIFT = 0.08  # trending regimes drift by this many daily sigmas per day
_PULL = 0.004  # daily mean reversion of the log level toward log(sim.price)
_BAND = 0.6  # beyond this |log deviation| the pull gets much stronger
_OUTER = 0.15  # ... by this much per unit of deviation beyond the band
_GAP_SIGMAS = 0.15  # overnight gap, in daily sigmas
_DAY_SESSION_WEIGHT = 3.0  # variance weight of a day-session minute vs an overnight one
_DAY_VOLUME_WEIGHT = 4.0  # traded-volume weight of a day-session minute vs an overnight one
_BOOK_LEVELS = 32  # seeded book levels per side; beyond them each level holds sim.depth
_PATH_CACHE = 64  # day paths kept in memory (a ZO day is ~1,000 minutes)

BookSide = Literal["bid", "ask"]


def _rng(seed: int, symbol: str, stream: int, *more: int) -> np.random.Generator:
    key = [seed, zlib.crc32(symbol.encode()), stream, *more]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(key)))


def _normals(rng: np.random.Generator, n: int) -> np.ndarray:
    """Standard normals by Box-Muller from uniforms (stable across numpy versions)."""
    u1, u2 = rng.random(n), rng.random(n)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def round_to_tick(prices: np.ndarray | float, tick: float) -> np.ndarray:
    """Nearest tick, cleaned of binary noise (0.025 * 3401 is not exactly 85.025)."""
    return np.round(np.round(np.asarray(prices, dtype=float) / tick) * tick, 10)


@dataclass(frozen=True)
class Regime:
    """A block of trading days whose returns share autocorrelation, drift and volatility."""

    start: date
    end: date  # inclusive
    kind: str  # "trending" | "mean_reverting" | "random_walk"
    volatility: str  # "calm" | "normal" | "volatile"
    vol_multiplier: float
    phi: float  # AR(1) coefficient of daily returns
    drift: float  # mean daily return in daily sigmas (0 unless trending)

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.volatility}"


@dataclass(frozen=True)
class MinuteQuote:
    """The market during one minute (or, out of session, the last minute before)."""

    trade_date: date
    index: int  # minute index within the trade date's DayPath
    time: datetime  # start of the minute, UTC
    bid: float
    ask: float
    bid_size: int
    ask_size: int
    last: float
    volume: int  # contracts traded in this minute
    in_session: bool

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2


@dataclass(frozen=True, eq=False)
class DayPath:
    """One trade date's minute grid: times, mids, quotes, sizes and traded volume."""

    trade_date: date
    starts: np.ndarray  # int64 epoch seconds (UTC) of each minute's start
    mid: np.ndarray  # float, unrounded
    last: np.ndarray  # mid rounded to the tick: the bar is built from these
    bid: np.ndarray
    ask: np.ndarray
    spread_ticks: np.ndarray
    bid_size: np.ndarray
    ask_size: np.ndarray
    volume: np.ndarray
    day_session: np.ndarray  # bool: minute belongs to the day (last) session window

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def times(self) -> list[datetime]:
        return [self.time(i) for i in range(len(self))]

    def time(self, i: int) -> datetime:
        return datetime.fromtimestamp(int(self.starts[i]), UTC)

    def index_at(self, when: datetime) -> int | None:
        """Index of the minute containing `when`, or None if `when` is in no minute."""
        ts = when.timestamp()
        i = int(np.searchsorted(self.starts, ts, side="right")) - 1
        if i < 0 or ts >= self.starts[i] + 60:
            return None
        return i

    def quote(self, i: int, in_session: bool = True) -> MinuteQuote:
        return MinuteQuote(
            trade_date=self.trade_date,
            index=i,
            time=self.time(i),
            bid=float(self.bid[i]),
            ask=float(self.ask[i]),
            bid_size=int(self.bid_size[i]),
            ask_size=int(self.ask_size[i]),
            last=float(self.last[i]),
            volume=int(self.volume[i]),
            in_session=in_session,
        )

    def bar(self) -> Bar:
        return Bar(
            date=self.trade_date,
            open=float(self.last[0]),
            high=float(self.last.max()),
            low=float(self.last.min()),
            close=float(self.last[-1]),
            volume=int(self.volume.sum()),
        )


class SimMarket:
    """The simulated market of one symbol under one seed (build through `sim_market`)."""

    def __init__(self, market: Market, seed: int, *, null: bool = False) -> None:
        if seed < 0:
            raise ValueError(f"the simulator seed must be a non-negative integer, not {seed}")
        self.market = market
        self.seed = int(seed)
        self.null = bool(null)
        self.tick = market.tick
        self._tz = ZoneInfo(market.timezone)
        self.days: tuple[date, ...] = tuple(trading_days(market, EPOCH, HORIZON))
        self._index = {d: i for i, d in enumerate(self.days)}
        self.regimes: tuple[Regime, ...] = self._make_regimes()
        self._regime_of_day = self._regime_index()
        self._raw_closes = self._make_closes()
        self._closes = round_to_tick(self._raw_closes, self.tick)
        self._windows: dict[date, list[tuple[datetime, datetime]]] = {}
        self._paths: OrderedDict[date, DayPath] = OrderedDict()
        self._bars: dict[date, Bar] = {}
        # day-session minute starts and quote mids of every path built (a few KB a day), so a
        # past intraday mid (the model's 10:00 entry prices) needs no evicted path rebuilt
        self._session_mids: dict[date, tuple[np.ndarray, np.ndarray]] = {}

    # ----------------------------------------------------------------- daily path and regimes

    def _make_regimes(self) -> tuple[Regime, ...]:
        if self.null:  # one regime over the whole history: no autocorrelation, drift or vol shift
            return (Regime(self.days[0], self.days[-1], "random_walk", "normal", 1.0, 0.0, 0.0),)
        rng = _rng(self.seed, self.market.symbol, _STREAM_REGIMES)
        kinds, vols = list(_KINDS), list(_VOLS)
        out: list[Regime] = []
        i, prev_kind = 0, ""
        while i < len(self.days):
            u_len, u_kind, u_vol, u_sign = rng.random(4)
            length = 40 + int(u_len * 121)
            choices = [k for k in kinds if k != prev_kind]  # every switch changes the kind
            kind = choices[int(u_kind * len(choices))]
            vol = vols[int(u_vol * len(vols))]
            drift = (_TREND_DRIFT if u_sign < 0.5 else -_TREND_DRIFT) if kind == "trending" else 0.0
            last = min(i + length, len(self.days)) - 1
            out.append(
                Regime(self.days[i], self.days[last], kind, vol, _VOLS[vol], _KINDS[kind], drift)
            )
            i, prev_kind = last + 1, kind
        return tuple(out)

    def _regime_index(self) -> np.ndarray:
        idx = np.empty(len(self.days), dtype=np.int64)
        pos = 0
        for r_i, r in enumerate(self.regimes):
            n = self._index[r.end] - self._index[r.start] + 1
            idx[pos : pos + n] = r_i
            pos += n
        return idx

    def _make_closes(self) -> np.ndarray:
        """Daily closes: AR(1) returns per regime, with a pull that keeps the level plausible."""
        n = len(self.days)
        z = _normals(_rng(self.seed, self.market.symbol, _STREAM_DAILY), n + 1)
        anchor = math.log(self.market.sim.price)
        x = anchor + 0.05 * float(z[0])  # start near sim.price
        e = 0.0  # the autocorrelated part of the return
        closes = np.empty(n)
        base = self.market.sim.daily_vol
        for t in range(n):
            r = self.regimes[int(self._regime_of_day[t])]
            sigma = base * r.vol_multiplier
            e = r.phi * e + math.sqrt(1.0 - r.phi * r.phi) * sigma * float(z[t + 1])
            dev = x - anchor
            pull = 0.0 if self.null else (
                _PULL * dev + _OUTER * math.copysign(max(0.0, abs(dev) - _BAND), dev))
            x += e + r.drift * sigma - pull
            closes[t] = math.exp(x)
        return closes

    def _day_index(self, day: date) -> int:
        try:
            return self._index[day]
        except KeyError:
            raise ValueError(
                f"{day.isoformat()} is not a {self.market.symbol} trading day in the simulated "
                f"history ({self.days[0]}..{self.days[-1]}, calendar {self.market.calendar})"
            ) from None

    def previous_day(self, day: date) -> date | None:
        """The trading day before `day` in the simulated history (None at its start)."""
        i = bisect.bisect_left(self.days, day)
        return self.days[i - 1] if i > 0 else None

    def regime_at(self, day: date) -> Regime:
        """The regime in force on `day` (a non-trading day takes the previous trading day's)."""
        i = bisect.bisect_right(self.days, day) - 1
        if i < 0:
            raise ValueError(f"{day} is before the simulated history starts ({self.days[0]})")
        return self.regimes[int(self._regime_of_day[i])]

    def regime(self, day: date) -> str:
        """The kind of regime on `day`: "trending", "mean_reverting" or "random_walk"."""
        return self.regime_at(day).kind

    def daily_sigma(self, day: date) -> float:
        return self.market.sim.daily_vol * self.regime_at(day).vol_multiplier

    def close(self, day: date) -> float:
        """`day`'s closing price on the tick grid (equals its bar's close)."""
        return float(self._closes[self._day_index(day)])

    def closes(self, start: date, end: date) -> list[tuple[date, float]]:
        lo, hi = bisect.bisect_left(self.days, start), bisect.bisect_right(self.days, end)
        return [(self.days[i], float(self._closes[i])) for i in range(lo, hi)]

    # ----------------------------------------------------------------------- session calendar

    def windows(self, day: date) -> list[tuple[datetime, datetime]]:
        """`day`'s session windows in UTC ([] on a non-trading day), cached."""
        w = self._windows.get(day)
        if w is None:
            w = session_windows(self.market, day)
            self._windows[day] = w
        return w

    def session_open(self, day: date) -> datetime:
        return self.windows(day)[0][0]

    def session_close(self, day: date) -> datetime:
        return self.windows(day)[-1][1]

    def _local_date(self, when: datetime) -> date:
        return when.astimezone(self._tz).date()

    def _near(self, when: datetime, before: int, after: int) -> list[date]:
        """Trading days within a few calendar days of `when`'s local date, oldest first."""
        local = self._local_date(when)
        lo = bisect.bisect_left(self.days, local - timedelta(days=before))
        hi = bisect.bisect_right(self.days, local + timedelta(days=after))
        return list(self.days[lo:hi])

    def trade_date_at(self, when: datetime) -> date | None:
        """The trade date whose session is open at `when`, or None between sessions."""
        for day in self._near(when, 0, 1):
            if any(s <= when < e for s, e in self.windows(day)):
                return day
        return None

    def last_completed_trade_date(self, when: datetime) -> date | None:
        """The latest trade date whose last session closed at or before `when`."""
        local = self._local_date(when) + timedelta(days=1)
        i = bisect.bisect_right(self.days, local) - 1
        while i >= 0:
            if self.session_close(self.days[i]) <= when:
                return self.days[i]
            i -= 1
        return None

    def latest_started_trade_date(self, when: datetime) -> date | None:
        """The latest trade date whose first session opened at or before `when`."""
        local = self._local_date(when) + timedelta(days=1)
        i = bisect.bisect_right(self.days, local) - 1
        while i >= 0:
            if self.session_open(self.days[i]) <= when:
                return self.days[i]
            i -= 1
        return None

    def next_session(self, when: datetime) -> tuple[date, datetime]:
        """(trade date, start) of the first session window starting at or after `when`."""
        local = self._local_date(when)
        i = bisect.bisect_left(self.days, local)
        while i < len(self.days):
            day = self.days[i]
            for start, _ in self.windows(day):
                if start >= when:
                    return day, start
            i += 1
        raise ValueError(f"no simulated {self.market.symbol} session after {when.isoformat()}")

    def trade_dates_overlapping(self, after: datetime, until: datetime) -> list[date]:
        """Trade dates with session time in (after, until], oldest first."""
        if until <= after:
            return []
        local0 = self._local_date(after)
        local1 = self._local_date(until) + timedelta(days=1)
        lo = bisect.bisect_left(self.days, local0)
        hi = bisect.bisect_right(self.days, local1)
        return [
            d
            for d in self.days[lo:hi]
            if self.session_open(d) <= until and self.session_close(d) > after
        ]

    # ------------------------------------------------------------------------ intraday path

    def day_path(self, day: date) -> DayPath:
        """`day`'s minute grid with mids, quotes, sizes and volume (LRU-cached)."""
        path = self._paths.get(day)
        if path is not None:
            self._paths.move_to_end(day)
            return path
        path = self._build_day_path(day)
        self._paths[day] = path
        day_minutes = path.day_session
        self._session_mids[day] = (path.starts[day_minutes],
                                   (path.bid[day_minutes] + path.ask[day_minutes]) / 2)
        if len(self._paths) > _PATH_CACHE:
            self._paths.popitem(last=False)
        return path

    def _minute_grid(self, day: date) -> tuple[np.ndarray, np.ndarray]:
        windows = self.windows(day)
        starts, is_day = [], []
        for k, (s, e) in enumerate(windows):
            grid = np.arange(int(s.timestamp()), int(e.timestamp()), 60, dtype=np.int64)
            starts.append(grid)
            is_day.append(np.full(len(grid), k == len(windows) - 1))
        return np.concatenate(starts), np.concatenate(is_day)

    def _bridge(self, day: date, i: int, is_day: np.ndarray) -> np.ndarray:
        """Minute mids: a log-price Brownian bridge from the gapped previous close to the close."""
        n = len(is_day)
        sigma = self.daily_sigma(day)
        prev = self._raw_closes[i - 1] if i > 0 else self.market.sim.price
        close = self._raw_closes[i]
        z = _normals(_rng(self.seed, self.market.symbol, _STREAM_INTRADAY, day.toordinal()), n)
        a = math.log(prev) + _GAP_SIGMAS * sigma * float(z[0])
        b = math.log(close)
        if n == 1:
            return np.array([close])
        w = np.where(is_day[1:], _DAY_SESSION_WEIGHT, 1.0)
        var = sigma * sigma * w / w.sum()
        tau = np.concatenate(([0.0], np.cumsum(var)))
        frac = tau / tau[-1]
        walk = np.concatenate(([0.0], np.cumsum(np.sqrt(var) * z[1:])))
        mids = np.exp(a + frac * (b - a) + walk - frac * walk[-1])
        mids[-1] = close  # exactly the daily close, so the bar's close is close(day)
        return mids

    def _build_day_path(self, day: date) -> DayPath:
        i = self._day_index(day)
        starts, is_day = self._minute_grid(day)
        n = len(starts)
        mids = self._bridge(day, i, is_day)
        sim, tick = self.market.sim, self.tick
        u = _rng(self.seed, self.market.symbol, _STREAM_QUOTES, day.toordinal()).random((6, n))
        widen_p = np.where(is_day, 0.04, 0.15)
        spread = sim.spread_ticks + (u[0] < widen_p) * (1 + np.floor(u[1] * 2)).astype(np.int64)
        bid_ticks = np.floor(mids / tick - spread / 2 + 0.5)
        bid = round_to_tick(bid_ticks * tick, tick)
        ask = round_to_tick((bid_ticks + spread) * tick, tick)
        depth = np.where(is_day, float(sim.depth), max(1.0, sim.depth / 2))
        bid_size = np.maximum(1, np.round(depth * (0.5 + u[2]))).astype(np.int64)
        ask_size = np.maximum(1, np.round(depth * (0.5 + u[3]))).astype(np.int64)
        activity = math.sqrt(self.regime_at(day).vol_multiplier)  # busier when volatile
        total = round(sim.adv * activity * (0.7 + 0.6 * u[5, 0]))
        weights = np.where(is_day, _DAY_VOLUME_WEIGHT, 1.0) * (0.5 + u[4])
        cum = np.round(total * np.cumsum(weights) / weights.sum()).astype(np.int64)
        volume = np.diff(cum, prepend=0)
        return DayPath(
            trade_date=day,
            starts=starts,
            mid=mids,
            last=round_to_tick(mids, tick),
            bid=bid,
            ask=ask,
            spread_ticks=spread.astype(np.int64),
            bid_size=bid_size,
            ask_size=ask_size,
            volume=volume,
            day_session=is_day,
        )

    def book(self, day: date, index: int, side: BookSide) -> Iterator[tuple[float, int]]:
        """(price, size) levels on one side of the book at a minute, best first, unending.

        Level 0 is the touch; level k is k ticks further out with about sim.depth contracts.
        Deeper levels are drawn on demand from their own stream, so asking costs nothing
        unless an order actually walks the book.
        """
        path = self.day_path(day)
        touch = float(path.ask[index] if side == "ask" else path.bid[index])
        step = self.tick if side == "ask" else -self.tick
        yield touch, int(path.ask_size[index] if side == "ask" else path.bid_size[index])
        rng = _rng(
            self.seed, self.market.symbol, _STREAM_BOOK, day.toordinal(), index, side == "ask"
        )
        depth = self.market.sim.depth
        sizes = np.maximum(1, np.round(depth * (0.6 + 0.8 * rng.random(_BOOK_LEVELS))))
        k = 1
        while True:
            size = int(sizes[k - 1]) if k <= _BOOK_LEVELS else depth
            yield float(round_to_tick(touch + k * step, self.tick)), size
            k += 1

    # --------------------------------------------------------------------- bars and quotes

    def bar(self, day: date) -> Bar:
        bar = self._bars.get(day)
        if bar is None:
            bar = self.day_path(day).bar()
            self._bars[day] = bar
        return bar

    def bars(self, start: date, end: date) -> list[Bar]:
        """Daily bars for the trading days in [start, end], oldest first."""
        lo, hi = bisect.bisect_left(self.days, start), bisect.bisect_right(self.days, end)
        return [self.bar(d) for d in self.days[lo:hi]]

    def bars_before(self, day: date, count: int) -> list[Bar]:
        """The last `count` bars up to and including `day`, oldest first."""
        hi = bisect.bisect_right(self.days, day)
        return [self.bar(d) for d in self.days[max(0, hi - count) : hi]]

    def quote_at(self, when: datetime) -> MinuteQuote:
        """The minute containing `when`; between sessions, the last minute before it."""
        day = self.trade_date_at(when)
        if day is not None:
            path = self.day_path(day)
            i = path.index_at(when)
            assert i is not None, "an open session always has a minute at `when`"
            return path.quote(i, in_session=True)
        day, i = self._last_minute_before(when)
        return self.day_path(day).quote(i, in_session=False)

    def session_mid_at(self, when: datetime) -> float | None:
        """The quote mid of the day-session minute containing `when` (None outside a day
        session): quote_at(when).mid, without rebuilding a path already seen."""
        day = self.trade_date_at(when)
        if day is None:
            return None
        if day not in self._session_mids:
            self.day_path(day)
        starts, mids = self._session_mids[day]
        ts = when.timestamp()
        i = int(np.searchsorted(starts, ts, side="right")) - 1
        if i < 0 or ts >= starts[i] + 60:
            return None
        return float(mids[i])

    def _last_minute_before(self, when: datetime) -> tuple[date, int]:
        local = self._local_date(when) + timedelta(days=1)
        j = bisect.bisect_right(self.days, local) - 1
        while j >= 0:
            day = self.days[j]
            windows = self.windows(day)
            offsets = np.cumsum([0] + [int((e - s).total_seconds()) // 60 for s, e in windows])
            for k in range(len(windows) - 1, -1, -1):
                start, end = windows[k]
                if start < when:
                    last_start = min(end, when) - timedelta(minutes=1)
                    minutes = int((last_start - start).total_seconds() // 60)
                    return day, int(offsets[k]) + max(0, minutes)
            j -= 1
        raise ValueError(f"{when.isoformat()} is before the simulated {self.market.symbol} history")


@cache
def sim_market(symbol: str, seed: int, null: bool = False) -> SimMarket:
    """The (cached) simulated market for `symbol` under `seed` (`null`: see SimMarket)."""
    return SimMarket(get_market(symbol), seed, null=null)


__all__ = [
    "EPOCH",
    "HORIZON",
    "BookSide",
    "DayPath",
    "MinuteQuote",
    "Regime",
    "SimMarket",
    "round_to_tick",
    "sim_market",
]

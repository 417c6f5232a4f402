"""The one return definition: what a position taken by the daily cycle earns, net of costs.

Why one: the model's labels, its walk-forward scores, its live health and the loop's promotion
and rollback decisions must all judge the same thing the account experiences. The cycle on
trade date T acts at its entry time (exchange-local [sim] cycle_time, 10:00 America/Chicago by
default) on the feature row of the last bar before T (row d). The position it takes is held
until the next cycle's entry, at the same time on the next trading day. So row d's return is

    r(d) = entry(T+1) / entry(T) - 1        T = the trading day after d

and changing the position by one contract costs, per side, the project's cost model
(`hydra.execution.slippage.predicted_price`: half spread + k * sigma * sqrt(Q / ADV)) plus
commission, with sigma (price units) and ADV from the bars up to d, which the cycle knows at
T's entry.
Nothing in a row uses a price after entry(T+1), and its feature uses nothing after d's close.

The label of row d is that return net of one side's cost: 1 (up) when a long entered at T
would pay its cost, 0 (down) when a short would, NaN (neither) when the move does not cover the
cost, so an unchanged price is never called "down". Such rows are scored but not trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from hydra.execution import slippage

ENTRY = "entry"  # the bar-frame column holding each trade date's price at the entry time


@dataclass(frozen=True)
class CostModel:
    """The cost-model inputs that do not change day to day (the rest come from the bars)."""

    tick: float
    point_value: float  # dollars per 1.0 of price
    half_spread: float  # price units: half the market's typical quoted spread
    k: float  # impact coefficient ([slippage] k)
    commission: float  # USD per contract per side
    vol_days: int = 20  # bars for sigma and ADV ([slippage] vol_lookback_days)

    def side_cost(self, sigma_price: float, adv: float, quantity: int = 1) -> float:
        """Cost of trading `quantity` contracts once, per contract, in price units."""
        return (slippage.predicted_price(self.half_spread, sigma_price, quantity, adv, self.k)
                + self.commission / self.point_value)


def entry_time(day: date, local: time, timezone: str) -> datetime:
    """The cycle's entry on `day`: `local` exchange time, as an aware datetime."""
    return datetime.combine(day, local, tzinfo=ZoneInfo(timezone))


def entry_prices(bars: pd.DataFrame) -> pd.Series:
    """Each trade date's price at the entry time; where the store has none (a broker that
    cannot tell a past intraday price), the day's close stands in (see `proxy_days`)."""
    close = bars["close"].astype(float)
    if ENTRY not in bars:
        return close
    return bars[ENTRY].astype(float).fillna(close)


def proxy_days(bars: pd.DataFrame) -> int:
    """How many bars lack a real entry price (their close stands in)."""
    return len(bars) if ENTRY not in bars else int(bars[ENTRY].isna().sum())


@dataclass(frozen=True)
class CycleReturns:
    """Per bar date d (the feature row): the return of the position the next cycle takes."""

    ret: pd.Series  # entry(T+1) / entry(T) - 1 (NaN when T+1 is not yet known)
    cost: pd.Series  # one contract, one side, as a fraction of entry(T)
    label: pd.Series  # 1.0 up, 0.0 down, NaN neither (or unknown)


def period_returns(entry: pd.Series) -> pd.Series:
    """Per trade date T (index of `entry`, consecutive trading days): the return of the
    position the cycle on T takes, entry(T+1) / entry(T) - 1 (NaN for the last)."""
    entry = entry.astype(float)
    return entry.shift(-1) / entry - 1.0


def _rolling(values: np.ndarray, n: int, how: str) -> np.ndarray:
    """Trailing n-value std (ddof 1) or mean ending at each position (NaN before n exist)."""
    out = np.full(len(values), np.nan)
    if len(values) >= n:
        win = np.lib.stride_tricks.sliding_window_view(values, n)
        out[n - 1:] = win.std(axis=1, ddof=1) if how == "std" else win.mean(axis=1)
    return out


def side_costs(bars: pd.DataFrame, cost: CostModel, quantity: int = 1) -> pd.Series:
    """Per bar date d: one side's cost per contract (price units) for the cycle after d, from
    sigma and ADV over the `vol_days` bars up to d (NaN until that many exist)."""
    return pd.Series(_side_cost_array(bars, cost, quantity), index=bars.index, dtype=float)


def _side_cost_array(bars: pd.DataFrame, cost: CostModel, quantity: int) -> np.ndarray:
    """side_costs' values: CostModel.side_cost's formula on the arrays, the same operations
    in the same order (so the same values to the bit: tests/cycle/test_replay_speed_r3.py),
    without a Python call per bar."""
    close = bars["close"].to_numpy(dtype=float)
    sigma = _rolling(np.diff(close, prepend=np.nan), cost.vol_days, "std")
    adv = _rolling(np.maximum(bars["volume"].to_numpy(dtype=float), 1.0), cost.vol_days, "mean")
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    ok = ~np.isnan(sigma) & ~np.isnan(adv)
    out = np.full(len(close), np.nan)
    s, a = sigma[ok], adv[ok]  # adv >= 1: the volumes are clipped to 1
    out[ok] = ((cost.half_spread + cost.k * s * np.sqrt(quantity / a))
               + cost.commission / cost.point_value)
    return out


def cycle_returns(bars: pd.DataFrame, cost: CostModel, quantity: int = 1) -> CycleReturns:
    """The return definition (module docstring) on a frame of consecutive trading-day bars:
    row d holds the period of the trade date after d."""
    ret, frac, label = cycle_return_arrays(bars, cost, quantity)
    idx = bars.index
    return CycleReturns(pd.Series(ret, index=idx), pd.Series(frac, index=idx),
                        pd.Series(label, index=idx))


def cycle_return_arrays(bars: pd.DataFrame, cost: CostModel,
                        quantity: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """cycle_returns' (ret, cost, label) as arrays, row by row with the bars."""
    close = bars["close"].to_numpy(dtype=float)
    if ENTRY in bars:
        entry = bars[ENTRY].to_numpy(dtype=float)
        entry = np.where(np.isnan(entry), close, entry)  # entry_prices: the close stands in
    else:
        entry = close
    start = np.append(entry[1:], np.nan)  # entry(T), T the trading day after d
    ret = np.full(len(entry), np.nan)  # period_returns: entry(T+1) / entry(T) - 1
    if len(entry) > 1:
        ret[:-2] = entry[2:] / entry[1:-1] - 1.0
    frac = _side_cost_array(bars, cost, quantity) / start
    label = np.where(ret > frac, 1.0, np.where(ret < -frac, 0.0, np.nan))
    return ret, frac, label


def position_returns(pos: np.ndarray, ret: np.ndarray, cost: np.ndarray,
                     start_pos: int = 0) -> np.ndarray:
    """Per-day returns of holding `pos` (contracts) over each row's period, net of the cost of
    changing the position to it (|change| x one side's cost)."""
    pos = np.asarray(pos, dtype=float)
    prev = np.concatenate(([start_pos], pos[:-1]))
    return pos * np.asarray(ret, dtype=float) - np.abs(pos - prev) * np.asarray(cost, dtype=float)

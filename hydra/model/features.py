"""Features from daily bars, and their labels: pure functions on a bar frame.

A feature row dated d uses bars up to and including d only (rolling windows look back), so it is
known once d's bar has closed and drives the position the next cycle holds from its entry on
the next trading day to the entry after (the return definition: hydra/model/returns.py).
Returns are scaled by their own recent volatility so the model sees comparable numbers in calm
and volatile regimes; the raw volatility and volume features are there to reveal regime shifts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas._libs.window import aggregations as _window

from hydra.model.returns import CostModel, cycle_return_arrays

VOL_DAYS = 20
FEATURES: tuple[str, ...] = (
    "ret_1", "ret_2", "ret_5", "ret_10", "ret_20",  # log returns over h days / (vol * sqrt(h))
    "vol_20",  # log of the 20-day daily volatility of log returns
    "vol_ratio",  # 5-day / 20-day volatility
    "range_5",  # mean (high - low) / close over 5 days, in daily volatilities
    "volume_z",  # log(volume / its 20-day mean)
)
WARMUP = VOL_DAYS + 1  # bars needed before the first complete feature row


def make_features(bars: pd.DataFrame) -> pd.DataFrame:
    """One row per bar date; rows without a full look-back (or with an infinite value) are
    dropped.

    The arithmetic is numpy on the columns' arrays: the same element-wise operations pandas
    would run, so the same values to the bit (tests/cycle/test_replay_speed.py holds it to a
    plain-pandas version); the rolling windows are pandas' own kernels (their running sums
    decide the last bits). The frame is one block, read back column-major as before: column
    reductions over it see the same memory order, hence the same sums."""
    cols, keep = _feature_columns(bars)
    return pd.DataFrame({f: cols[f][keep] for f in FEATURES}, index=bars.index[keep])


def _feature_columns(bars: pd.DataFrame) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every feature on every bar (NaN/inf where not complete), and the mask of complete rows."""
    close = bars["close"].to_numpy(dtype=float)
    log_close = np.log(close)
    logret = np.empty_like(log_close)
    logret[:1] = np.nan
    np.subtract(log_close[1:], log_close[:-1], out=logret[1:])
    vol = rolling(logret, VOL_DAYS, "std")
    cols: dict[str, np.ndarray] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for h in (1, 2, 5, 10, 20):
            cols[f"ret_{h}"] = np.log(close / _shift(close, h)) / (vol * np.sqrt(h))
        cols["vol_20"] = np.log(vol)
        cols["vol_ratio"] = rolling(logret, 5, "std") / vol
        span = (bars["high"].to_numpy() - bars["low"].to_numpy()) / close
        cols["range_5"] = rolling(span, 5, "mean") / vol
        volume = bars["volume"].to_numpy(dtype=float).clip(min=1.0)
        cols["volume_z"] = np.log(volume / rolling(volume, VOL_DAYS, "mean"))
    keep = np.logical_and.reduce([np.isfinite(cols[f]) for f in FEATURES])
    return cols, keep


def rolling(values: np.ndarray, n: int, how: str) -> np.ndarray:
    """`pd.Series(values).rolling(n).std()` (how="std") or `.mean()`, as an array: the kernels
    pandas' Rolling calls, with its inputs (float64, inf as NaN) and window bounds (fixed,
    min_periods n), so the same values to the bit without a Series and a Rolling per call
    (a replay asks for 10 a day; tests/cycle/test_replay_speed_r3.py compares them)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return x.copy()
    inf = np.isinf(x)
    if inf.any():
        x = np.where(inf, np.nan, x)
    end = np.arange(1, len(x) + 1, dtype=np.int64)
    start = np.clip(end - n, 0, len(x))
    with np.errstate(all="ignore"):
        if how == "std":
            out = np.sqrt(_window.roll_var(x, start, end, n, ddof=1))
            out[out < 0] = 0  # pandas' zsqrt (never true after a sqrt; kept as pandas has it)
            return out
        return _window.roll_mean(x, start, end, n)


def _shift(values: np.ndarray, h: int) -> np.ndarray:
    """Series.shift(h) on an array: h NaNs, then the values moved down."""
    out = np.full(len(values), np.nan)
    out[h:] = values[:len(values) - h] if h < len(values) else values[:0]
    return out


def labelled(bars: pd.DataFrame,
             cost: CostModel) -> tuple[pd.DataFrame, pd.Series, pd.Series, pd.Series]:
    """(features, label, return, cost) for the rows whose period has ended within `bars`:
    label 1.0 up / 0.0 down / NaN neither, return and one side's cost as fractions
    (hydra.model.returns.cycle_returns, the one return definition).

    The feature rows are a subset of the bars' rows, so the returns are taken by position
    rather than reindexed by date (the same values: tests/cycle/test_replay_speed_r3.py)."""
    cols, keep = _feature_columns(bars)
    rows = np.flatnonzero(keep)
    feats = pd.DataFrame({f: cols[f][rows] for f in FEATURES}, index=bars.index[rows])
    ret, frac, label = cycle_return_arrays(bars, cost)
    ret, frac, label = ret[rows], frac[rows], label[rows]
    known = ~np.isnan(ret) & ~np.isnan(frac)
    feats = feats[known]
    idx = feats.index
    return (feats, pd.Series(label[known], index=idx), pd.Series(ret[known], index=idx),
            pd.Series(frac[known], index=idx))

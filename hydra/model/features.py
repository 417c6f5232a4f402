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
from pandas.core.window.rolling import Rolling

from hydra.model.returns import CostModel, cycle_returns

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
    plain-pandas version); the rolling windows stay pandas' (their running sums decide the last
    bits). The frame is one block, read back column-major as before: column reductions over it
    see the same memory order, hence the same sums."""
    close = bars["close"].to_numpy(dtype=float)
    log_close = np.log(close)
    logret = np.empty_like(log_close)
    logret[:1] = np.nan
    np.subtract(log_close[1:], log_close[:-1], out=logret[1:])
    vol = _rolling(logret, VOL_DAYS).std().to_numpy()
    cols: dict[str, np.ndarray] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for h in (1, 2, 5, 10, 20):
            cols[f"ret_{h}"] = np.log(close / _shift(close, h)) / (vol * np.sqrt(h))
        cols["vol_20"] = np.log(vol)
        cols["vol_ratio"] = _rolling(logret, 5).std().to_numpy() / vol
        span = (bars["high"].to_numpy() - bars["low"].to_numpy()) / close
        cols["range_5"] = _rolling(span, 5).mean().to_numpy() / vol
        volume = bars["volume"].to_numpy(dtype=float).clip(min=1.0)
        cols["volume_z"] = np.log(volume / _rolling(volume, VOL_DAYS).mean().to_numpy())
    keep = np.logical_and.reduce([np.isfinite(cols[f]) for f in FEATURES])
    return pd.DataFrame({f: cols[f][keep] for f in FEATURES}, index=bars.index[keep])


def _rolling(values: np.ndarray, n: int) -> Rolling:
    return pd.Series(values).rolling(n)


def _shift(values: np.ndarray, h: int) -> np.ndarray:
    """Series.shift(h) on an array: h NaNs, then the values moved down."""
    out = np.full(len(values), np.nan)
    out[h:] = values[:len(values) - h] if h < len(values) else values[:0]
    return out


def labelled(bars: pd.DataFrame,
             cost: CostModel) -> tuple[pd.DataFrame, pd.Series, pd.Series, pd.Series]:
    """(features, label, return, cost) for the rows whose period has ended within `bars`:
    label 1.0 up / 0.0 down / NaN neither, return and one side's cost as fractions
    (hydra.model.returns.cycle_returns, the one return definition)."""
    feats = make_features(bars)
    cr = cycle_returns(bars, cost)
    fwd, frac = cr.ret.reindex(feats.index), cr.cost.reindex(feats.index)
    known = fwd.notna() & frac.notna()
    feats = feats[known]
    return feats, cr.label.reindex(feats.index), fwd[known], frac[known]

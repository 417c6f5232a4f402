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
    """One row per bar date; rows without a full look-back are dropped."""
    close = bars["close"].astype(float)
    logret = np.log(close).diff()
    vol = logret.rolling(VOL_DAYS).std()
    out = pd.DataFrame(index=bars.index)
    for h in (1, 2, 5, 10, 20):
        out[f"ret_{h}"] = np.log(close / close.shift(h)) / (vol * np.sqrt(h))
    out["vol_20"] = np.log(vol)
    out["vol_ratio"] = logret.rolling(5).std() / vol
    out["range_5"] = ((bars["high"] - bars["low"]) / close).rolling(5).mean() / vol
    volume = bars["volume"].astype(float).clip(lower=1.0)
    out["volume_z"] = np.log(volume / volume.rolling(VOL_DAYS).mean())
    out = out.replace([np.inf, -np.inf], np.nan)
    return out.dropna()[list(FEATURES)]


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

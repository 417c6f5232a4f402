"""No look-ahead: what the model knows for trade date T does not change when data after T does,
and each label is the next cycle's entry-to-entry return (hydra/model/returns.py), no later."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time

import numpy as np
import pandas as pd

from hydra.broker.sim.market import sim_market
from hydra.config import load_config
from hydra.model.classifier import Recipe, fit
from hydra.model.features import labelled, make_features
from hydra.model.returns import cycle_returns, entry_time
from hydra.model.signal import cost_model, load_data, predict
from hydra.model.store import BarStore, bars_to_frame
from hydra.reference.markets import get_market

T = date(2026, 3, 10)
ZO = get_market("ZO")
COST = cost_model(ZO, load_config(None))


def _bars() -> list:
    return sim_market("ZO", 7).bars(date(2025, 1, 2), date(2026, 4, 30))


def _entries(bars: list) -> list[tuple[date, datetime, float]]:
    """Each day's mid at the cycle's entry time (10:00 America/Chicago), as the sim broker
    gives it to the bar store."""
    sm = sim_market("ZO", 7)
    out = []
    for b in bars:
        at = entry_time(b.date, time(10, 0), ZO.timezone)
        out.append((b.date, at, sm.quote_at(at).mid))
    return out


def _tamper(bars: list) -> list:
    """Wild prices and volumes on every bar dated T or later."""
    return [replace(b, close=b.close * 3, high=b.high * 3, low=b.low * 0.2, volume=b.volume * 50)
            if b.date >= T else b for b in bars]


def _tamper_entries(entries: list) -> list:
    """Wild entry prices from T's 10:00 on (what the cycle on T acts at, and everything later)."""
    return [(d, at, p * 3 if d >= T else p) for d, at, p in entries]


def test_features_for_a_day_ignore_later_bars():
    clean, dirty = bars_to_frame(_bars()), bars_to_frame(_tamper(_bars()))
    fa, fb = make_features(clean), make_features(dirty)
    before = [d for d in fa.index if d < T]
    assert len(before) > 200
    pd.testing.assert_frame_equal(fa.loc[before], fb.loc[before])
    after = [d for d in fa.index if d >= T]
    assert not fa.loc[after].equals(fb.loc[after])  # the tampering did reach the features


def test_training_rows_and_prediction_for_T_ignore_prices_from_T_10am_on(tmp_path):
    stamp = datetime(2026, 5, 1, tzinfo=UTC)
    bars = _bars()
    with BarStore(tmp_path / "a.sqlite") as a, BarStore(tmp_path / "b.sqlite") as b:
        a.append("ZO", bars, stamp)
        a.append_entries("ZO", _entries(bars), stamp)
        b.append("ZO", _tamper(bars), stamp)
        b.append_entries("ZO", _tamper_entries(_entries(bars)), stamp)
        da, db = load_data(a, "ZO", T, 400, COST), load_data(b, "ZO", T, 400, COST)
        later = load_data(a, "ZO", date(2026, 4, 20), 400, COST)
    assert da.bars["entry"].notna().all()  # real entry prices, not the close stand-in
    pd.testing.assert_frame_equal(da.X, db.X)
    for name in ("up", "fwd", "cost"):
        pd.testing.assert_series_equal(getattr(da, name), getattr(db, name))
    # the last labelled row d needs the entries of the two trade dates after it, both before T
    assert da.X.index[-1] < da.bars.index[-2] < da.bars.index[-1] < T
    recipe = Recipe(train_days=60)
    ma, mb = fit(recipe, da.X, da.up), fit(recipe, db.X, db.up)
    assert ma.params() == mb.params()
    assert predict(ma, da, 0.02) == predict(mb, db, 0.02)
    # the same rows, once later data exists, have the same returns (nothing was re-defined)
    pd.testing.assert_series_equal(later.fwd.loc[da.fwd.index], da.fwd)


def test_labels_are_the_next_cycles_entry_to_entry_return_net_of_cost():
    bars = _bars()[:120]
    frame = bars_to_frame(bars)
    frame["entry"] = [p for _, _, p in _entries(bars)]
    X, up, fwd, cost = labelled(frame, COST)
    entry = frame["entry"]
    # row d: from the entry on the trading day after d to the entry on the day after that
    expected = (entry.shift(-2) / entry.shift(-1) - 1).loc[X.index]
    assert np.allclose(fwd, expected, rtol=0, atol=1e-15)
    assert frame.index[-2] not in X.index and frame.index[-1] not in X.index
    assert not np.allclose(fwd, (frame["close"].shift(-1) / frame["close"] - 1).loc[X.index])
    # one side's cost is the project's slippage model + commission, as a fraction of entry
    d = X.index[-1]
    closes = frame["close"].loc[:d].tail(COST.vol_days + 1).tolist()
    vols = frame["volume"].loc[:d].tail(COST.vol_days).tolist()
    from hydra.execution import slippage
    price_cost = (slippage.predicted_price(COST.half_spread, slippage.daily_vol_price(closes), 1,
                                           slippage.average_daily_volume(vols), COST.k)
                  + COST.commission / COST.point_value)
    assert abs(cost.loc[d] - price_cost / entry.shift(-1).loc[d]) < 1e-12
    assert (up[fwd > cost] == 1).all() and (up[fwd < -cost] == 0).all()
    assert up[fwd.abs() <= cost].isna().all() and up.isna().any()


def test_an_unchanged_price_is_neither_up_nor_down():
    frame = bars_to_frame(_bars()[:60])
    frame["entry"] = 100.0
    cr = cycle_returns(frame, COST)
    known = cr.ret.notna()
    assert (cr.ret[known] == 0).all()
    assert cr.label[known].isna().all()  # not "down" (0)

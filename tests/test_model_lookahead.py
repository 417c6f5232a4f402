"""No look-ahead: what the model knows for trade date T does not change when data after T does."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pandas as pd

from hydra.broker.market_sim import sim_market
from hydra.model.classifier import Recipe, fit
from hydra.model.features import labelled, make_features
from hydra.model.signal import load_data, predict
from hydra.model.store import BarStore, bars_to_frame

T = date(2026, 3, 10)


def _bars() -> list:
    return sim_market("ZO", 7).bars(date(2025, 1, 2), date(2026, 4, 30))


def _tamper(bars: list) -> list:
    """Wild prices and volumes on every bar dated T or later."""
    return [replace(b, close=b.close * 3, high=b.high * 3, low=b.low * 0.2, volume=b.volume * 50)
            if b.date >= T else b for b in bars]


def test_features_for_a_day_ignore_later_bars():
    clean, dirty = bars_to_frame(_bars()), bars_to_frame(_tamper(_bars()))
    fa, fb = make_features(clean), make_features(dirty)
    before = [d for d in fa.index if d < T]
    assert len(before) > 200
    pd.testing.assert_frame_equal(fa.loc[before], fb.loc[before])
    after = [d for d in fa.index if d >= T]
    assert not fa.loc[after].equals(fb.loc[after])  # the tampering did reach the features


def test_training_rows_and_prediction_for_T_ignore_data_from_T_on(tmp_path):
    stamp = datetime(2026, 5, 1, tzinfo=UTC)
    with BarStore(tmp_path / "a.sqlite") as a, BarStore(tmp_path / "b.sqlite") as b:
        a.append("ZO", _bars(), stamp)
        b.append("ZO", _tamper(_bars()), stamp)
        da, db = load_data(a, "ZO", T, 400), load_data(b, "ZO", T, 400)
    pd.testing.assert_frame_equal(da.X, db.X)
    pd.testing.assert_series_equal(da.up, db.up)
    assert da.X.index[-1] < da.bars.index[-1] < T  # the last row's label needs the last bar
    recipe = Recipe(train_days=60)
    ma, mb = fit(recipe, da.X, da.up), fit(recipe, db.X, db.up)
    assert ma.params() == mb.params()
    assert predict(ma, da, 0.02) == predict(mb, db, 0.02)


def test_labels_use_the_next_bar_only():
    frame = bars_to_frame(_bars()[:80])
    X, _up, fwd = labelled(frame)
    nxt = frame["close"].shift(-1) / frame["close"] - 1
    assert (fwd == nxt.loc[X.index]).all()
    assert frame.index[-1] not in X.index  # no label without a next bar

"""Session 6's replay shortcuts may not change what the cycle sees: the same fills frame."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hydra.domain.broker import Bar
from hydra.execution.journal import Journal
from hydra.model import features, returns
from hydra.model import store as store_mod
from hydra.model.features import labelled, make_features
from hydra.model.returns import CostModel
from hydra.model.store import BarStore
from tests.execution.test_journal import FILL

COST = CostModel(tick=0.25, point_value=50.0, half_spread=0.125, k=0.1, commission=2.35)



def test_cycle_fills_is_the_fills_frame_with_and_without_fills(tmp_path: Path):
    """The empty answer is a copy of pandas' own empty frame (same columns and dtypes), and a
    fill journaled after an empty answer shows at once (the shortcut asks the journal first)."""
    with Journal(tmp_path / "j.sqlite") as j:
        pd.testing.assert_frame_equal(j.cycle_fills("ZO-20261124"),
                                      j.fills(cycle_id="ZO-20261124"))
        empty = j.cycle_fills("ZO-20261124")
        empty["quantity"] = [1] * len(empty)  # a caller's change stays in its copy
        assert list(j.cycle_fills("ZO-20261124").columns) == list(j.fills().columns)
        j.record_fill(FILL)
        got = j.cycle_fills("ZO-20261124")
        assert len(got) == 1
        pd.testing.assert_frame_equal(got, j.fills(cycle_id="ZO-20261124"))
        j.record_fill(replace(FILL, exec_id="0000e0d5.6564c2a2.01.01", cycle_id="ZO-20261125",
                              as_of="2026-11-25"))
        pd.testing.assert_frame_equal(j.cycle_fills("ZO-20261126"),
                                      j.fills(cycle_id="ZO-20261126"))
        assert len(j.cycle_fills("ZO-20261125")) == 1


def _bars(n: int, seed: int) -> pd.DataFrame:
    from tests.cycle.test_replay_speed import _bars as bars
    return bars(n, seed)


@pytest.mark.parametrize("n", [0, 1, 3, 5, 19, 20, 21, 300])
@pytest.mark.parametrize("how", ["std", "mean"])
def test_rolling_is_pandas_rolling_to_the_bit(n: int, how: str):
    rng = np.random.default_rng(n)
    values = rng.normal(0, 0.02, n) * 10 ** rng.uniform(-3, 3, n)
    if n > 4:
        values[2] = np.nan
        values[n // 2] = np.inf  # pandas reads it as NaN
        values[-1] = -np.inf
    for window in (1, 2, 5, 20):
        want = getattr(pd.Series(values).rolling(window), how)().to_numpy()
        got = features.rolling(values, window, how)
        assert got.dtype == np.float64 and got.tobytes() == want.tobytes()
    ints = rng.integers(0, 3000, n)  # volume is int64 before its clip
    assert (features.rolling(ints, 5, how).tobytes()
            == getattr(pd.Series(ints).rolling(5), how)().to_numpy().tobytes())


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("quantity", [1, 3])
def test_side_costs_are_the_cost_models_formula_to_the_bit(seed: int, quantity: int):
    bars = _bars(120, seed)
    got = returns.side_costs(bars, COST, quantity)
    close = bars["close"].to_numpy(dtype=float)
    sigma = returns._rolling(np.diff(close, prepend=np.nan), COST.vol_days, "std")
    adv = returns._rolling(np.maximum(bars["volume"].to_numpy(dtype=float), 1.0),
                           COST.vol_days, "mean")
    for i, (s, a) in enumerate(zip(sigma.tolist(), adv.tolist(), strict=True)):
        if np.isnan(s) or np.isnan(a):
            assert np.isnan(got.iloc[i])
        else:  # the scalar definition, one bar at a time
            assert got.iloc[i] == COST.side_cost(s, a, quantity)
    assert got.index.equals(bars.index)
    with pytest.raises(ValueError, match="quantity"):
        returns.side_costs(bars, COST, 0)


def _labelled_by_dates(bars: pd.DataFrame, cost: CostModel):
    """labelled as first written: the Series of cycle_returns reindexed on the feature rows."""
    close = bars["close"].astype(float)
    entry = bars["entry"].astype(float).fillna(close) if "entry" in bars else close
    start = np.append(entry.to_numpy()[1:], np.nan)
    period = pd.Series(entry.to_numpy()[1:])
    ret = pd.Series(np.append((period.shift(-1) / period - 1.0).to_numpy(), np.nan),
                    index=bars.index)
    frac = returns.side_costs(bars, cost) / start
    label = pd.Series(np.where(ret > frac, 1.0, np.where(ret < -frac, 0.0, np.nan)),
                      index=bars.index)
    feats = make_features(bars)
    fwd, fr = ret.reindex(feats.index), frac.reindex(feats.index)
    known = fwd.notna() & fr.notna()
    feats = feats[known]
    return feats, label.reindex(feats.index), fwd[known], fr[known]


@pytest.mark.parametrize("n", [30, 41, 300])
@pytest.mark.parametrize("with_entry", [True, False])
def test_labelled_is_the_reindexed_frames_to_the_bit(n: int, with_entry: bool):
    bars = _bars(n, n)
    if not with_entry:
        bars = bars.drop(columns="entry")
    got, want = labelled(bars, COST), _labelled_by_dates(bars, COST)
    pd.testing.assert_frame_equal(got[0], want[0], check_exact=True)
    assert got[0].to_numpy().tobytes() == want[0].to_numpy().tobytes()
    assert got[0]._mgr.blocks[0].values.flags.c_contiguous == \
        want[0]._mgr.blocks[0].values.flags.c_contiguous
    for g, w in zip(got[1:], want[1:], strict=True):
        pd.testing.assert_series_equal(g, w, check_exact=True)
        assert g.to_numpy().tobytes() == w.to_numpy().tobytes()
    cr = returns.cycle_returns(bars, COST)
    pd.testing.assert_series_equal(cr.ret, _labelled_by_dates_ret(bars), check_exact=True)


def _labelled_by_dates_ret(bars: pd.DataFrame) -> pd.Series:
    entry = returns.entry_prices(bars).to_numpy()
    return pd.Series(np.append(returns.period_returns(pd.Series(entry[1:])).to_numpy(), np.nan),
                     index=bars.index)


def _store_rows(bars: pd.DataFrame) -> list[Bar]:
    return [Bar(d, float(r.open), float(r.high), float(r.low), float(r.close), int(r.volume))
            for d, r in bars.iterrows()]


def _fresh_read(store: BarStore, as_of: date, limit: int | None) -> pd.DataFrame:
    store_mod._BARS_MEMO.clear()
    return store.bars_before("ZO", as_of, limit=limit)


@pytest.mark.parametrize("limit", [None, 40])
def test_the_next_days_bars_read_equals_a_full_read(tmp_path: Path, limit: int | None,
                                                    monkeypatch: pytest.MonkeyPatch):
    """Day by day as a replay reads (a bar and an entry price appended, as_of one day on), the
    read that reuses yesterday's rows is the full read's frame; a row written since with an
    older date (a backfilled bar, a late entry price) makes the next read a full one."""
    bars = _bars(90, 5)
    rows = _store_rows(bars)
    stamp = datetime(2026, 3, 2, tzinfo=UTC)
    days = list(bars.index)
    full_reads: list[date] = []
    read_rows = BarStore._read_rows

    def counted(self: BarStore, market: str, as_of: date, lim: int | None) -> list:
        full_reads.append(as_of)
        return read_rows(self, market, as_of, lim)

    monkeypatch.setattr(BarStore, "_read_rows", counted)
    with BarStore(tmp_path / "bars.sqlite") as a, BarStore(tmp_path / "bars.sqlite") as b:
        a.append("ZO", rows[:50:2] + rows[1:50:2][:-3], recorded_at=stamp)  # gaps at 45, 47, 49
        for i in range(50, 70):
            a.append("ZO", rows[i:i + 1], recorded_at=stamp)
            a.append_entries("ZO", [(days[i + 1], stamp, 300.0 + i)], recorded_at=stamp)
            del full_reads[:]
            got = a.bars_before("ZO", days[i + 1], limit=limit)
            reads = list(full_reads)
            want = _fresh_read(a, days[i + 1], limit)
            pd.testing.assert_frame_equal(got, want, check_exact=True)
            # the first read, and the one after a write dated before the last read's as_of,
            # read everything; the others only the new rows
            assert reads == ([days[i + 1]] if i in (50, 56, 61) else []), i
            a.bars_before("ZO", days[i + 1], limit=limit)  # remembered again for the next day
            if i == 55:  # another connection backfills a gap: dated before the last read
                b.append("ZO", rows[45:46], recorded_at=stamp)
            if i == 60:  # a late entry price for an old date
                b.append_entries("ZO", [(days[47 - 1], stamp, 1.5)], recorded_at=stamp)
            if i == 65:  # the other market's rows never show
                b.append("ZX", rows[:3], recorded_at=stamp)
        final = a.bars_before("ZO", days[70], limit=limit)
        assert days[45] in final.index
        assert final.loc[days[46], "entry"] == 1.5
        pd.testing.assert_frame_equal(final, _fresh_read(a, days[70], limit), check_exact=True)
        a.bars_before("ZO", days[70], limit=limit)
        earlier = a.bars_before("ZO", days[60], limit=limit)  # an earlier date: its own rows
        pd.testing.assert_frame_equal(earlier, _fresh_read(a, days[60], limit), check_exact=True)

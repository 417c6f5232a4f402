"""What the replay's speed-ups may not change: the same features to the bit, the same bars frame,
no stale model data from the memo, and fsync-per-commit everywhere but inside a replay."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hydra.agent.journal import AgentJournal
from hydra.broker.sim.broker import SimBroker
from hydra.domain.broker import Bar
from hydra.execution.journal import Journal
from hydra.model import signal
from hydra.model.features import FEATURES, VOL_DAYS, make_features
from hydra.model.returns import CostModel
from hydra.model.store import COLUMNS, BarStore
from hydra.reference.clock import SimClock
from hydra.sqlite_tx import without_fsync

COST = CostModel(tick=0.25, point_value=50.0, half_spread=0.125, k=0.1, commission=2.35)
AS_OF = date(2026, 3, 2)


def _bars(n: int = 300, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 350 * np.exp(np.cumsum(rng.normal(0, 0.015, n)))
    high = close * (1 + rng.uniform(0, 0.01, n))
    low = close * (1 - rng.uniform(0, 0.01, n))
    volume = rng.integers(0, 3000, n)
    volume[::37] = 0  # clipped to 1 by the features
    high[::53] = low[::53]  # a zero range
    days = [AS_OF - timedelta(days=n - i) for i in range(n)]
    frame = pd.DataFrame({"open": close, "high": high, "low": low, "close": close,
                          "volume": volume, "entry": close * (1 + rng.normal(0, 0.002, n))},
                         index=pd.Index(days, name="date"))
    frame.iloc[::11, frame.columns.get_loc("entry")] = np.nan  # days without an entry price
    return frame


def _features_plain_pandas(bars: pd.DataFrame) -> pd.DataFrame:
    """make_features as first written, Series by Series: the reference for the fast one."""
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


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the reference divides by 0
@pytest.mark.parametrize("rows", [300, VOL_DAYS + 5, VOL_DAYS + 1, VOL_DAYS, 3])
def test_features_equal_the_plain_pandas_ones_to_the_bit(rows):
    bars = _bars().tail(rows)
    fast, plain = make_features(bars), _features_plain_pandas(bars)
    pd.testing.assert_frame_equal(fast, plain, check_exact=True)
    a, b = fast.to_numpy(dtype=float), plain.to_numpy(dtype=float)
    assert a.tobytes() == b.tobytes()
    # the same memory order, so column sums (the scaler's mean) give the same last bits
    assert a.flags.f_contiguous == b.flags.f_contiguous
    assert np.array_equal(a.mean(axis=0), b.mean(axis=0), equal_nan=True)


def test_model_data_memo_never_serves_stale_bars():
    bars = _bars()
    first = signal.model_data(bars, AS_OF, COST)
    again = signal.model_data(bars.copy(), AS_OF, COST)  # equal bars: served from the memo
    pd.testing.assert_frame_equal(again.X, first.X, check_exact=True)

    again.X.iloc[:, :] = 0.0  # a caller scribbling on what it got cannot reach the next one
    third = signal.model_data(bars, AS_OF, COST)
    pd.testing.assert_frame_equal(third.X, first.X, check_exact=True)

    entry = bars.copy()  # an entry price recorded between the loop and the signal
    entry.iloc[-2, entry.columns.get_loc("entry")] = entry["entry"].iloc[-2] + 1.0
    fresh = signal._model_data(entry, AS_OF, COST)
    got = signal.model_data(entry, AS_OF, COST)
    pd.testing.assert_series_equal(got.fwd, fresh.fwd, check_exact=True)
    assert not got.fwd.equals(first.fwd)

    appended = pd.concat([bars, _bars(301, seed=9).tail(1).set_axis([AS_OF], axis=0)])
    appended.index.name = "date"
    got = signal.model_data(appended, AS_OF, COST)  # a bar appended: features of it too
    assert got.bars.index[-1] == AS_OF and len(got.bars) == len(bars) + 1
    pd.testing.assert_frame_equal(got.X, signal._model_data(appended, AS_OF, COST).X,
                                  check_exact=True)

    later = signal.model_data(bars, AS_OF + timedelta(days=1), COST)  # another trade date
    assert later.as_of == AS_OF + timedelta(days=1)


def _frame_from_rows(rows: list[tuple]) -> pd.DataFrame:
    """BarStore.bars_before's frame as first written: the one pandas infers from the rows."""
    frame = pd.DataFrame(rows, columns=["date", *COLUMNS, "entry"])
    frame["date"] = [date.fromisoformat(d) for d in frame["date"]]
    frame["entry"] = frame["entry"].astype(float)
    return frame.set_index("date")


def test_bars_before_gives_the_frame_pandas_infers(tmp_path: Path):
    bars = _bars(60)
    with BarStore(tmp_path / "bars.sqlite") as store:
        store.append("ZO", [Bar(d, float(r.open), float(r.high), float(r.low), float(r.close),
                                int(r.volume)) for d, r in bars.iterrows()],
                     recorded_at=datetime(2026, 3, 2, tzinfo=UTC))
        store.append_entries("ZO", [(d, datetime(2026, 3, 2, tzinfo=UTC), float(p))
                                    for d, p in bars["entry"].dropna().items()],
                             recorded_at=datetime(2026, 3, 2, tzinfo=UTC))
        for as_of, limit in [(AS_OF, 50), (AS_OF, None), (bars.index[0], None)]:
            sql = ("SELECT b.date, b.open, b.high, b.low, b.close, b.volume, e.price FROM "
                   "bars b LEFT JOIN entries e ON e.market = b.market AND e.date = b.date "
                   "WHERE b.market='ZO' AND b.date<? ORDER BY b.date")
            rows = store._conn.execute(sql, (as_of.isoformat(),)).fetchall()
            want = _frame_from_rows(rows if limit is None else rows[-limit:])
            got = store.bars_before("ZO", as_of, limit=limit)
            pd.testing.assert_frame_equal(got, want, check_exact=True)
            assert list(got.dtypes) == list(want.dtypes) and got.index.dtype == want.index.dtype
        assert store.bars_before("ZO", AS_OF)["entry"].isna().sum() == bars["entry"].isna().sum()


def _synchronous(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA synchronous").fetchone()[0])


def _levels(root: Path) -> dict[str, int]:
    clock = SimClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    with Journal(root / "j.sqlite") as j, BarStore(root / "b.sqlite") as b, \
            AgentJournal(root / "a.sqlite") as a, SimBroker(root / "s.sqlite", clock) as s:
        return {"journal": _synchronous(j._db), "bars": _synchronous(b._conn),
                "agent": _synchronous(a._conn), "sim": _synchronous(s._require())}


def test_only_a_replay_skips_the_fsync_of_each_commit(tmp_path: Path):
    full = {"journal": 2, "bars": 2, "agent": 2, "sim": 2}
    assert _levels(tmp_path) == full  # a daily run: FULL, an fsync per commit
    with without_fsync():
        assert _levels(tmp_path) == dict.fromkeys(full, 0)
        seen: dict[str, int] = {}
        t = threading.Thread(target=lambda: seen.update(_levels(tmp_path)))
        t.start()
        t.join()
        assert seen == full  # another thread (a gateway, a kernel) is never relaxed
    assert _levels(tmp_path) == full


def test_a_replay_relaxes_fsync_only_in_a_data_dir_with_nothing_recorded_yet(tmp_path: Path,
                                                                              monkeypatch):
    """An OS crash under synchronous=OFF can damage a database: acceptable for a fresh history
    (rerun it), not for a data dir whose journal or account already holds records."""
    from hydra.cycle import replay as replay_mod

    relaxed: list[date] = []
    real = replay_mod.without_fsync

    def spy():
        relaxed.append(date.min)
        return real()

    monkeypatch.setattr(replay_mod, "without_fsync", spy)
    replay_mod.replay(start=date(2026, 3, 2), end=date(2026, 3, 3), data_dir=tmp_path)
    assert len(relaxed) == 2, "a fresh data dir: each cycle ran without an fsync per commit"
    relaxed.clear()
    replay_mod.replay(start=date(2026, 3, 4), end=date(2026, 3, 5), data_dir=tmp_path)
    assert relaxed == [], "records were there before: every commit stays durable"


# ------------------------------------------- the loop's drift check and scoring, to the bit


@pytest.mark.parametrize("sizes", [(120, 40), (500, 200), (37, 37), (3, 11), (10_001, 5)])
@pytest.mark.parametrize("ties", [False, True])
def test_ks_statistic_and_f_test_are_scipys_to_the_bit(sizes, ties):
    from scipy.stats import f as f_dist
    from scipy.stats import ks_2samp

    from hydra.agent.drift import effective_n, ks_statistic, variance_ratio

    rng = np.random.default_rng(sum(sizes) + ties)
    a, b = rng.normal(0, 1, sizes[0]), rng.normal(0.3, 1.4, sizes[1])
    if ties:  # the loop's vol and return columns repeat values
        a, b = np.round(a, 1), np.round(b, 1)
    assert ks_statistic(a, b) == float(ks_2samp(a, b).statistic)
    assert ks_statistic(a, a) == float(ks_2samp(a, a).statistic) == 0.0
    ratio, p = variance_ratio(a, b, rho=0.3)
    d1 = max(1.0, effective_n(len(b), 0.3) - 1.0)
    d2 = max(1.0, effective_n(len(a), 0.3) - 1.0)
    want = 2.0 * min(float(f_dist.cdf(ratio, d1, d2)), float(f_dist.sf(ratio, d1, d2)))
    assert p == min(1.0, want)


def _observe_drift_on_frames(model, data, cfg):
    """observe_drift as first written, on drift_frame with pandas row masks."""
    from hydra.agent.drift import drift_report, not_judged
    from hydra.agent.loop import drift_frame

    start, end = date.fromisoformat(model.train_start), date.fromisoformat(model.train_end)
    feats = drift_frame(model, data)
    ref = feats[[start <= d <= end for d in feats.index]]
    cur = feats[[d > end for d in feats.index]].tail(cfg.drift_days)
    if len(cur) < cfg.drift_min_rows or len(ref) < cfg.drift_min_rows:
        return not_judged(len(ref), len(cur), cfg.drift_min_features, cfg.drift_alpha,
                          list(feats.columns))
    return drift_report(ref, cur, alpha=cfg.drift_alpha, min_features=cfg.drift_min_features)


@pytest.mark.parametrize("features", [FEATURES, ("ret_1", "volume_z"), ("vol_20",)])
@pytest.mark.parametrize("window", [(60, 200), (150, 230), (200, 255), (10, 30)])
def test_the_loops_drift_check_is_the_frame_ones(features, window):
    from dataclasses import replace

    from hydra.agent.loop import observe_drift
    from hydra.config import load_config
    from hydra.model.classifier import Recipe, fit

    data = signal.model_data(_bars(300), AS_OF, COST)
    up = data.up.dropna()
    model = fit(Recipe(features=tuple(features), train_days=0), data.X.loc[up.index], up)
    days = list(data.X.index)
    model = replace(model, train_start=days[window[0]].isoformat(),
                    train_end=days[window[1]].isoformat())
    cfg = load_config().agent
    for c in (cfg, replace(cfg, drift_days=0), replace(cfg, drift_days=7, drift_min_rows=5)):
        got, want = observe_drift(model, data, c), _observe_drift_on_frames(model, data, c)
        assert repr(got) == repr(want)  # NaN == NaN in repr; every float to the last digit


def test_feature_matrix_is_pandas_selection_to_the_bit():
    from hydra.model.classifier import feature_matrix

    X = make_features(_bars(300))
    for names in (FEATURES, ("volume_z", "ret_1", "ret_1"), ("vol_20",)):
        got, want = feature_matrix(X, names), X[list(names)].to_numpy(dtype=float)
        assert got.tobytes() == want.tobytes() and got.flags.f_contiguous == want.flags.f_contiguous
        assert (got.sum(axis=0) == want.sum(axis=0)).all()
    dup = pd.concat([X, X[["ret_1"]]], axis=1)  # a duplicated label: pandas' own path
    assert feature_matrix(dup, ("vol_20",)).tobytes() == dup[["vol_20"]].to_numpy().tobytes()


def test_feature_matrix_is_pandas_column_selection_in_the_same_memory_order():
    from hydra.model.classifier import feature_matrix

    feats = make_features(_bars())
    for frame in (feats, feats[feats["ret_1"] > 0], feats.tail(1), feats.iloc[:0],
                  pd.concat([feats.head(30), feats.tail(1)])):
        for names in (("ret_1", "ret_2", "ret_5", "vol_ratio"), FEATURES, ("vol_20",)):
            want = frame[list(names)].to_numpy(dtype=float)
            got = feature_matrix(frame, names)
            assert got.tobytes() == want.tobytes() and got.shape == want.shape
            assert got.flags.f_contiguous == want.flags.f_contiguous
    mixed = feats.assign(label="x")  # a text column elsewhere: pandas' own path
    assert feature_matrix(mixed, ("ret_1",)).tobytes() == feats[["ret_1"]].to_numpy().tobytes()


def test_remembered_defaults_and_session_windows_are_copies(tmp_path: Path):
    """load_config and session_windows remember what they parsed; nothing a caller does to
    what it got may reach the next caller."""
    from hydra import config
    from hydra.reference.markets import get_market
    from hydra.reference.sessions import session_windows

    first = config._defaults()
    first["model"]["features"].append("junk")
    first["risk"]["max_order_contracts"] = -1
    again = config._defaults()
    assert "junk" not in again["model"]["features"]
    assert again["risk"]["max_order_contracts"] == 10
    (tmp_path / "hydra.toml").write_text("[risk]\nmax_order_contracts = 3\n")
    assert config.load_config(tmp_path).risk.max_order_contracts == 3
    assert config.load_config(tmp_path.parent).risk.max_order_contracts == 10

    zo = get_market("ZO")
    got = session_windows(zo, AS_OF)
    got.clear()
    assert session_windows(zo, AS_OF) and session_windows(zo, date(2026, 3, 1)) == []


def test_a_replay_checks_the_data_dir_writable_before_its_first_day_and_once(tmp_path: Path,
                                                                             monkeypatch):
    """A daily run checks every file it writes before any order; a replay checks once, at its
    start, and a problem stops it before the first cycle."""
    from hydra import cycle
    from hydra.cycle.replay import replay
    from hydra.paths import DataDirError, DataPaths

    real = DataPaths.writable_problem
    calls: list[Path] = []
    problem: list[str] = []

    def spy(self):
        calls.append(self.root)
        return problem[0] if problem else real(self)

    monkeypatch.setattr(DataPaths, "writable_problem", spy)
    replay(start=date(2026, 3, 2), end=date(2026, 3, 4), data_dir=tmp_path / "a")
    assert len(calls) == 1, calls
    cycle.run_in_process(as_of=date(2026, 3, 5), data_dir=str(tmp_path / "a"))
    assert len(calls) == 2, "a cycle outside a replay checks as a daily run does"

    problem.append("file x is read-only for this user")
    with pytest.raises(DataDirError, match="read-only"):
        replay(start=date(2026, 3, 2), end=date(2026, 3, 3), data_dir=tmp_path / "b")
    assert not DataPaths(tmp_path / "b").journal_db.exists(), "no cycle ran"


def test_session_windows_are_the_schedules_rows():
    """The windows built from the schedule's integer times equal the pandas row lookup they
    replace (same datetimes, same tzinfo), on every 5th day of the calendar and on days off."""
    from hydra.reference.markets import get_market
    from hydra.reference.sessions import _schedule, session_windows

    zo = get_market("ZO")
    sched = _schedule(zo.calendar)

    def by_row(day: date) -> list[tuple[datetime, datetime]]:
        if day not in sched.index:
            return []
        row = sched.loc[day]
        start, end = row["market_open"].to_pydatetime(), row["market_close"].to_pydatetime()
        if not pd.isna(row["break_start"]):
            b0, b1 = row["break_start"].to_pydatetime(), row["break_end"].to_pydatetime()
            if start < b0 < b1 < end:
                return [(start, b0), (b1, end)]
        return [(start, end)]

    for day in [*list(sched.index)[::5], date(2026, 3, 1), date(2026, 12, 25)]:
        got, want = session_windows(zo, day), by_row(day)
        assert got == want, day
        assert [t.tzinfo for w in got for t in w] == [t.tzinfo for w in want for t in w]


def test_the_remembered_bars_frame_follows_every_write(tmp_path: Path):
    """bars_before serves an unchanged store's second read from memory; a bar or an entry
    price written since (by this connection or another) must show in the next read."""
    from hydra.model import store as store_mod

    bars = _bars(80)
    path = tmp_path / "bars.sqlite"
    stamp = datetime(2026, 3, 2, tzinfo=UTC)
    rows = [Bar(d, float(r.open), float(r.high), float(r.low), float(r.close), int(r.volume))
            for d, r in bars.iterrows()]
    with BarStore(path) as a, BarStore(path) as b:
        a.append("ZO", rows[:60], recorded_at=stamp)
        first = a.bars_before("ZO", AS_OF, limit=50)
        again = a.bars_before("ZO", AS_OF, limit=50)
        pd.testing.assert_frame_equal(again, first, check_exact=True)
        assert store_mod._BARS_MEMO, "the second read was not served from memory"
        again.iloc[:, :] = 0.0  # a caller scribbling on its copy reaches nobody
        pd.testing.assert_frame_equal(a.bars_before("ZO", AS_OF, limit=50), first)

        b.append("ZO", rows[60:61], recorded_at=stamp)  # another connection adds a bar
        got = a.bars_before("ZO", AS_OF, limit=50)
        assert got.index[-1] == rows[60].date and len(got) == 50
        b.append_entries("ZO", [(rows[60].date, stamp, 123.0)], recorded_at=stamp)
        assert a.bars_before("ZO", AS_OF, limit=50)["entry"].iloc[-1] == 123.0
        a.append("ZO", rows[61:62], recorded_at=stamp)  # this connection adds one
        assert a.bars_before("ZO", AS_OF, limit=50).index[-1] == rows[61].date
        assert len(a.bars_before("ZO", AS_OF, limit=60)) == 60  # another limit
        assert a.bars_before("ZO", rows[10].date).index[-1] == rows[9].date  # another date
    other = tmp_path / "other.sqlite"  # another file with the same counts: its own rows
    with BarStore(other) as c:
        c.append("ZO", [replace(r, close=r.close + 1) for r in rows[:62]], recorded_at=stamp)
        c.append_entries("ZO", [(rows[60].date, stamp, 123.0)], recorded_at=stamp)
        assert c.bars_before("ZO", AS_OF, limit=50)["close"].iloc[-1] == rows[61].close + 1

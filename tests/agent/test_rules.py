"""The loop's rules as pure functions: promotion by majority of windows, rollback hysteresis."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime
from datetime import time as dtime
from itertools import pairwise

import numpy as np
import pandas as pd

from hydra.agent.journal import AgentJournal
from hydra.agent.loop import (
    WatchState,
    due_windows,
    performance_flags,
    playbook,
    run_loop,
    step_watch,
    watch_window_days,
)
from hydra.broker.sim.market import sim_market
from hydra.config import load_config
from hydra.model.classifier import Recipe, fit
from hydra.model.evaluate import Comparison, FoldScore, make_folds, metrics
from hydra.model.registry import Registry
from hydra.model.returns import entry_time
from hydra.model.signal import cost_model, model_data
from hydra.reference.markets import get_market


def _cmp(pairs: list[tuple[float, float]], min_wins: int = 3) -> Comparison:
    folds = [FoldScore("a", "b", ch, ca, "tie" if ca == ch else
                       ("candidate" if ca > ch else "champion")) for ch, ca in pairs]
    return Comparison(folds, sum(f.winner == "candidate" for f in folds),
                      sum(f.winner == "champion" for f in folds),
                      sum(f.winner == "tie" for f in folds), min_wins,
                      sum(p[0] for p in pairs), sum(p[1] for p in pairs))


def test_candidate_must_win_a_majority_of_windows_and_earn_more():
    assert _cmp([(0, 1), (0, 1), (0, 1), (1, 0), (1, 0)]).candidate_wins
    assert not _cmp([(0, 1), (0, 1), (1, 0), (1, 0), (1, 0)]).candidate_wins  # 2 of 5
    assert not _cmp([(0, 1), (0, 1), (0, 1), (0, 0), (0, 0)], min_wins=4).candidate_wins
    # three narrow wins and two heavy losses: more windows, less money -> no
    assert not _cmp([(0, 0.1), (0, 0.1), (0, 0.1), (1, 0), (1, 0)]).candidate_wins
    # ties are not wins: an identical model is never promoted
    assert not _cmp([(0.2, 0.2)] * 5).candidate_wins


def test_folds_are_consecutive_with_an_embargo_before_each():
    folds = make_folds(300, 5, 10, 5, 30)
    assert [f.start for f in folds] == [250, 260, 270, 280, 290]
    assert folds[-1].end == 300
    assert all(f.train_end == f.start - 5 for f in folds)
    assert len(make_folds(60, 5, 10, 5, 30)) == 2  # short history: only folds with training data


def test_rollback_needs_consecutive_degraded_periods_with_hysteresis():
    kw = dict(enter=-1.0, exit=0.0, periods=3)
    s = WatchState("M")
    fired = []
    for t in (-1.5, -0.5, -0.2):  # enters at -1.5, stays degraded while t <= exit
        s, fire = step_watch(s, t, **kw)
        fired.append(fire)
    assert fired == [False, False, True]
    # a recovery above the exit level resets the count
    s = WatchState("M")
    for t in (-1.5, -0.5, 0.3, -1.2, -0.5, -0.8):
        s, fire = step_watch(s, t, **kw)
        assert not fire or t == -0.8
    assert s.streak == 3
    # no evidence changes nothing; mild dips above the enter level never start a streak
    s = WatchState("M")
    for t in (None, -0.9, -0.5, -0.99, None):
        s, fire = step_watch(s, t, **kw)
        assert not fire and not s.degraded


def test_playbook_skips_no_ops_and_tries_untried_ideas_first():
    champ = Recipe(features=("ret_1",), C=0.1, train_days=60)
    names = [n for n, _ in playbook(champ, ["performance: hit_rate"], champ)]
    assert names[0] == "refresh" and "baseline" not in names  # baseline == champion: no-op
    again = [n for n, _ in playbook(champ, ["performance: x"], champ,
                                    {"refresh": 1, "short_window": 1})]
    assert again[:2] == ["long_window", "regularize"]
    drift = [n for n, _ in playbook(champ, ["drift: vol_20"], champ)]
    assert drift == ["refresh", "short_window", "regularize"]


def test_watch_windows_are_complete_fixed_and_never_overlap():
    assert due_windows(19, 20, 0, 3) == []  # a window is judged only once complete
    assert due_windows(20, 20, 0, 3) == [slice(0, 20)]
    assert due_windows(45, 20, 1, 3) == [slice(20, 40)]  # window 1 already judged
    assert due_windows(45, 20, 2, 3) == []
    assert due_windows(200, 20, 0, 3) == [slice(0, 20), slice(20, 40), slice(40, 60)]


def _entry_bars(seed: int) -> pd.DataFrame:
    sm = sim_market("ZO", seed)
    c = pd.Series(dict(sm.closes(date(2023, 1, 2), date(2026, 9, 30))), dtype=float)
    entry = [sm.quote_at(entry_time(d, dtime(10, 0), "America/Chicago")).mid for d in c.index]
    return pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": 900,
                         "entry": entry})


def test_rollback_watch_judges_each_live_day_once(tmp_path):
    """A promoted champion watched over 80 cycles: one paired t per non-overlapping window of
    probation_days / rollback_periods live days, not one a day over a growing window (which
    counted the same days again and again)."""
    cfg = load_config(None)
    cfg = replace(cfg, agent=replace(cfg.agent, experiments_per_week=0))
    mkt = get_market("ZO")
    cost = cost_model(mkt, cfg)
    bars = _entry_bars(7)
    days = [d for d in bars.index if d >= date(2026, 1, 5)][:80]
    first = model_data(bars[bars.index < days[0]].tail(500), days[0], cost)
    reg = Registry(tmp_path / "models", "ZO")
    old = reg.save(fit(Recipe(train_days=120), first.X, first.up), {"reason": "test"})
    reg.promote(old, at="2025-12-01", reason="test")
    new = reg.save(fit(Recipe(features=("ret_1", "ret_5"), C=0.1, train_days=60), first.X,
                       first.up), {"reason": "test"})
    reg.promote(new, at="2026-01-02", reason="test")
    with AgentJournal(tmp_path / "agent.sqlite") as journal:
        for d in days:
            data = model_data(bars[bars.index < d].tail(500), d, cost)
            run_loop(mkt, d, cfg, tmp_path, data, journal,
                     at=datetime.combine(d, datetime.min.time(), UTC), cycle_id=f"t-{d}")
        watch = journal.events(market="ZO", step="watch")
    window = watch_window_days(cfg.agent)
    assert window == 20
    assert [e.data["windows"] for e in watch] == [1, 2, 3]
    assert all(e.data["days"] == window for e in watch)
    spans = [(e.data["from"], e.data["to"]) for e in watch]
    assert all(a[1] < b[0] for a, b in pairwise(spans)), spans  # no day judged twice


def test_a_flag_never_prints_equal_numbers_either_side_of_its_comparison():
    """9 right of 32 = 0.28125, flagged against a threshold of 0.2813: printed to 3 places
    both read 0.281, and the flag said '0.281 < 0.281'."""
    cfg = replace(load_config(None).agent, hit_rate_min=0.2813, sharpe_min=-99.0)
    pos = np.ones(32, dtype=int)
    up = np.array([1.0] * 9 + [0.0] * 23)
    rets = np.where(up == 1, 0.01, -0.01)
    m = metrics(np.full(32, 0.6), up, rets, pos)
    flags = performance_flags(m, rets, pos, up, cfg)
    assert len(flags) == 1 and flags[0].startswith("hit_rate 9/32 ="), flags
    for a, b in re.findall(r"(-?[\d.]+) < (-?[\d.]+)", flags[0]):
        assert a != b and float(a) < float(b), flags[0]
    dd = performance_flags(m, rets, pos, up, replace(cfg, drawdown_max=0.01))
    assert any("model drawdown per contract" in f and "not the account's" in f for f in dd)
    # a neither-up-nor-down day (NaN label) is not judged at all
    up[0] = np.nan
    assert metrics(np.full(32, 0.6), up, rets, pos).hit_rate == 8 / 31

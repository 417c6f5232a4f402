"""The loop's rules as pure functions: promotion by majority of windows, rollback hysteresis."""

from __future__ import annotations

from hydra.agent.loop import WatchState, playbook, step_watch
from hydra.model.classifier import Recipe
from hydra.model.evaluate import Comparison, FoldScore, make_folds


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

"""Feature drift: PSI and KS flag a shifted distribution and leave an unshifted one alone."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hydra.agent.drift import drift_report, ks, psi


def _samples(shift: float, scale: float = 1.0, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1, 500), rng.normal(shift, scale, 200)


def test_psi_and_ks_quiet_on_the_same_distribution():
    ref, cur = _samples(0.0)
    assert psi(ref, cur) < 0.1
    assert ks(ref, cur)[1] > 0.05


def test_psi_and_ks_flag_a_shifted_mean_and_a_wider_spread():
    ref, cur = _samples(1.0)
    assert psi(ref, cur) >= 0.25
    assert ks(ref, cur)[1] < 0.001
    ref, wide = _samples(0.0, scale=2.5)
    assert psi(ref, wide) >= 0.25
    assert ks(ref, wide)[1] < 0.001


def test_report_names_only_the_features_that_moved():
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"a": rng.normal(0, 1, 400), "b": rng.normal(0, 1, 400),
                        "c": rng.normal(0, 1, 400)})
    cur = pd.DataFrame({"a": rng.normal(0, 1, 60), "b": rng.normal(1.5, 1, 60),
                        "c": rng.normal(0, 3, 60)})
    report = drift_report(ref, cur, psi_threshold=0.25, ks_pvalue=0.01, min_features=2)
    assert report.drifted == ["b", "c"]
    assert report.is_drifted
    quiet = drift_report(ref, cur[["a"]], psi_threshold=0.25, ks_pvalue=0.01, min_features=1)
    assert quiet.drifted == [] and not quiet.is_drifted


def _ar1(rng: np.random.Generator, n: int, rho: float) -> np.ndarray:
    """A stationary AR(1) series with unit variance (started from its stationary law)."""
    from scipy.signal import lfilter

    e = rng.normal(size=n) * np.sqrt(1 - rho * rho)
    e[0] = rng.normal()
    return lfilter([1.0], [1.0, -rho], e, zi=[0.0])[0]


def test_false_alarm_rate_at_most_5pct_on_identical_distributions():
    """60 training rows against 40 fresh ones, four features (i.i.d. and autocorrelated, as
    daily features are): one check of all features alarms on <= 5% of 400 seeded draws
    (measured: 1.5% over 1,000)."""
    rng = np.random.default_rng(20261201)
    alarms = 0
    trials = 400
    for _ in range(trials):
        cols = {"iid": 0.0, "ar_03": 0.3, "ar_07": 0.7, "ar_09": 0.9}
        full = {k: _ar1(rng, 100, rho) for k, rho in cols.items()}
        ref = pd.DataFrame({k: v[:60] for k, v in full.items()})
        cur = pd.DataFrame({k: v[60:] for k, v in full.items()})
        alarms += drift_report(ref, cur, alpha=0.05, min_features=1).is_drifted
    assert alarms / trials <= 0.05, f"false-alarm rate {alarms / trials:.3f}"


def test_psi_is_symmetric_for_a_constant_sample():
    const, spread = np.zeros(50), np.random.default_rng(1).normal(0, 1, 50)
    assert psi(const, spread) == psi(spread, const)


def test_a_simulated_volatility_regime_change_is_detected_within_days():
    """The raw daily return of the simulator's path across a calm -> volatile switch: the
    test fires within 40 fresh days, and we count how many it needs."""
    from hydra.broker.sim.market import sim_market

    sim = sim_market("ZO", 7)
    pairs = [(a, b) for a, b in zip(sim.regimes, sim.regimes[1:], strict=False)
             if a.volatility == "calm" and b.volatility == "volatile"
             and a.start.year >= 2001 and (a.end - a.start).days > 90]
    assert pairs, "seed 7 should hold a calm -> volatile switch"
    a, b = pairs[0]
    closes = pd.Series(dict(sim.closes(a.start, b.end)))
    r = np.log(closes).diff().dropna()
    ref = r[r.index <= a.end].tail(60).to_frame("logret_1")
    after = r[r.index > a.end].to_frame("logret_1")
    days = next((n for n in range(20, 41)
                 if drift_report(ref, after.head(n), alpha=0.05).is_drifted), None)
    assert days is not None and days <= 40, "a 0.7x -> 1.5x volatility switch went unseen"


# ------------------------------------------------- the fast paths equal scipy's own results
def test_ks_statistic_is_scipys_to_the_bit_on_random_and_tied_samples():
    from scipy.stats import ks_2samp

    from hydra.agent.drift import ks_statistic

    rng = np.random.default_rng(11)
    for trial in range(300):
        n1, n2 = int(rng.integers(2, 300)), int(rng.integers(2, 80))
        if trial % 3 == 0:  # ties: a lattice of values
            a, b = rng.integers(0, 6, n1) / 2.0, rng.integers(0, 6, n2) / 2.0
        else:
            a, b = rng.normal(0, 1, n1), rng.normal(rng.uniform(-1, 1), rng.uniform(.5, 2), n2)
        if trial % 7 == 0:
            b = a[:n2].copy() if n2 <= n1 else b  # identical values: statistic 0 or small
        want = float(ks_2samp(a, b).statistic)
        got = ks_statistic(a, b)
        assert got == want and type(got) is float, (trial, got, want)


def test_variance_ratio_p_value_is_scipys_f_test():
    from scipy.stats import f as f_dist

    from hydra.agent.drift import effective_n, variance_ratio

    rng = np.random.default_rng(12)
    for _ in range(100):
        ref, cur = rng.normal(0, 1, 300), rng.normal(0, rng.uniform(.3, 3), 40)
        rho = float(rng.uniform(0, 0.9))
        ratio, p = variance_ratio(ref, cur, rho)
        d1 = max(1.0, effective_n(len(cur), rho) - 1.0)
        d2 = max(1.0, effective_n(len(ref), rho) - 1.0)
        want = 2.0 * min(float(f_dist.cdf(ratio, d1, d2)), float(f_dist.sf(ratio, d1, d2)))
        assert p == min(1.0, want)


def test_the_loops_drift_check_equals_drift_report_on_the_drift_frame(tmp_path):
    """observe_drift takes its columns as arrays; the report must be the one drift_report
    makes from drift_frame (the rows after the training window against the window's)."""
    from datetime import date, timedelta

    from hydra.agent.loop import drift_frame, observe_drift
    from hydra.config import load_config
    from hydra.model.classifier import Recipe, fit
    from hydra.model.features import FEATURES
    from hydra.model.returns import CostModel
    from hydra.model.signal import model_data

    rng = np.random.default_rng(4)
    n = 320
    close = 350 * np.exp(np.cumsum(rng.normal(0, 0.015, n) * np.r_[np.ones(250), 3 * np.ones(70)]))
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(n)]
    bars = pd.DataFrame({"open": close, "high": close * 1.004, "low": close * 0.996,
                         "close": close, "volume": rng.integers(500, 3000, n),
                         "entry": close * (1 + rng.normal(0, 0.001, n))},
                        index=pd.Index(days, name="date"))
    data = model_data(bars, days[-1] + timedelta(days=1),
                      CostModel(tick=0.25, point_value=50.0, half_spread=0.125, k=0.1,
                                commission=2.35))
    cfg = load_config(tmp_path).agent
    for features in (("ret_1", "ret_2", "ret_5", "vol_ratio"), FEATURES):
        model = fit(Recipe(features=features, C=0.1, train_days=120), data.X.iloc[:-90],
                    data.up.iloc[:-90])
        feats = drift_frame(model, data)
        start, end = date.fromisoformat(model.train_start), date.fromisoformat(model.train_end)
        ref = feats[[start <= d <= end for d in feats.index]]
        cur = feats[[d > end for d in feats.index]].tail(cfg.drift_days)
        want = drift_report(ref, cur, alpha=cfg.drift_alpha, min_features=cfg.drift_min_features)
        got = observe_drift(model, data, cfg)
        assert got.judged and got.as_dict() == want.as_dict()
    assert got.is_drifted  # the volatility tripled: the check is not vacuous

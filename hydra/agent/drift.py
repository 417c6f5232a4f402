"""Feature drift: has what the model sees moved away from what it was trained on?

The test is the two-sample Kolmogorov-Smirnov statistic with its p-value taken at *effective*
sample sizes: daily features are autocorrelated (a 20-day return shares 19 days with the next
one), so n rows carry about n (1 - rho) / (1 + rho) independent observations (AR(1), rho the
lag-1 autocorrelation, clipped to [0, 0.95]). Without that correction KS p-values are far too
small and the loop cries wolf. A feature drifts when its p-value is below alpha / (number of
features tested x 2) (Bonferroni), where the
second test per feature is a variance-ratio F-test (KS barely sees a pure change of scale, which
is what a volatility regime switch is), so one check of all features raises a false alarm at most
`alpha` of the time on identical distributions (measured in tests/agent/test_drift.py).

PSI (population stability index) is still reported, binned on the pooled sample's quantiles
(symmetric in its arguments, so a constant sample cannot give 0 one way and 18 the other), but
it decides nothing: with 40 to 60 rows its sampling noise alone often exceeds the usual 0.25.

The caller must pass a current window that does not overlap the reference (training) rows:
overlapping rows make the two samples look alike and hide drift.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import fdtr, fdtrc
from scipy.stats import kstwo

_EPS = 1e-4
MAX_RHO = 0.95


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index of two samples, binned on the quantiles of both together."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    if len(ref) < 2 or len(cur) < 2:
        raise ValueError("PSI needs at least 2 finite values in each sample")
    pooled = np.concatenate([ref, cur])
    edges = np.unique(np.quantile(pooled, np.linspace(0, 1, bins + 1)[1:-1]))
    p = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1)
    q = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1)
    p = np.clip(p / p.sum(), _EPS, None)
    q = np.clip(q / q.sum(), _EPS, None)
    return float(np.sum((q - p) * np.log(q / p)))


def lag1_autocorrelation(x: np.ndarray) -> float:
    """Lag-1 autocorrelation, bias-corrected for short series (the raw estimate is low by
    about (1 + 4 rho) / n) and clipped to [0, MAX_RHO]; 0 for a constant or tiny series."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 3 or float(np.std(x)) == 0.0:
        return 0.0
    d = x - x.mean()
    rho = float(np.dot(d[:-1], d[1:]) / np.dot(d, d))
    rho += (1.0 + 4.0 * rho) / len(x)
    return min(MAX_RHO, max(0.0, rho))


def effective_n(n: int, rho: float) -> float:
    """Independent observations in n AR(1) rows with lag-1 autocorrelation rho."""
    return max(1.0, n * (1.0 - rho) / (1.0 + rho))


def ks(reference: np.ndarray, current: np.ndarray, rho: float = 0.0) -> tuple[float, float]:
    """(KS statistic, p-value at the effective sample sizes for autocorrelation rho)."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    stat = ks_statistic(ref, cur)
    n, m = effective_n(len(ref), rho), effective_n(len(cur), rho)
    en = max(1, round(n * m / (n + m)))
    return stat, _kstwo_sf(stat, en)


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """scipy.stats.ks_2samp(a, b).statistic for finite samples, the same value to the bit,
    without its exact p-value at the actual sample sizes (ks discards it: its p-value is at
    effective sizes), which was most of its cost. The steps are scipy's (1.17,
    stats/_stats_py.py): the two-sided sup of the ECDF difference, then snapped to the
    lattice h / lcm(n1, n2) as its exact path does for samples up to 10,000 rows
    (tests/agent/test_drift.py holds it to scipy on random and tied samples)."""
    a, b = np.sort(a), np.sort(b)
    n1, n2 = a.shape[0], b.shape[0]
    if min(n1, n2) == 0:
        raise ValueError("the KS statistic needs two non-empty samples")
    both = np.concatenate([a, b])
    diffs = (np.searchsorted(a, both, side="right") / n1
             - np.searchsorted(b, both, side="right") / n2)
    min_s = np.clip(-diffs[np.argmin(diffs)], 0, 1)
    max_s = diffs[np.argmax(diffs)]
    d = min_s if min_s > max_s else max_s
    if max(n1, n2) > 10_000:  # scipy's asymptotic path keeps the raw sup
        return float(d)
    lcm = (n1 // math.gcd(n1, n2)) * n2
    return int(np.round(d * lcm)) * 1.0 / lcm


@lru_cache(maxsize=4096)
def _kstwo_sf(stat: float, en: int) -> float:
    """kstwo.sf, remembered: day after day the loop tests the same training rows against a
    window that moved by one row, so the same (statistic, size) pairs come back (the
    statistic lives on a lattice of 1 / lcm(n1, n2)); a remembered value is the value."""
    return float(kstwo.sf(stat, en))


def variance_ratio(reference: np.ndarray, current: np.ndarray,
                   rho: float = 0.0) -> tuple[float, float]:
    """(current / reference variance, two-sided F-test p-value at effective sizes): KS is
    weak against a change of scale alone, which is what a volatility regime switch is."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    v_ref, v_cur = float(np.var(ref, ddof=1)), float(np.var(cur, ddof=1))
    if v_ref == 0.0 or v_cur == 0.0:
        return (1.0, 1.0) if v_ref == v_cur else (math.inf, 0.0)
    ratio = v_cur / v_ref
    d1 = max(1.0, effective_n(len(cur), rho) - 1.0)
    d2 = max(1.0, effective_n(len(ref), rho) - 1.0)
    # scipy.stats.f.cdf / .sf are these two special functions behind argument checks that a
    # finite positive ratio always passes (tests/agent/test_drift.py: the same values)
    p = 2.0 * min(float(fdtr(d1, d2, ratio)), float(fdtrc(d1, d2, ratio)))
    return ratio, min(1.0, p)


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float  # reported only
    ks_stat: float
    ks_pvalue: float  # at effective sample sizes
    drifted: bool
    rho: float = 0.0  # lag-1 autocorrelation used for the effective sample size
    var_ratio: float = 1.0  # current / reference variance
    var_pvalue: float = 1.0  # F-test at effective sample sizes


@dataclass(frozen=True)
class DriftReport:
    features: list[FeatureDrift]
    n_reference: int
    n_current: int
    min_features: int
    judged: bool = True  # False: too few fresh rows after the training window to test
    alpha: float = 0.05

    @property
    def drifted(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]

    @property
    def is_drifted(self) -> bool:
        return self.judged and len(self.drifted) >= self.min_features

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(f) for f in self.features],
                            columns=["feature", "psi", "ks_stat", "ks_pvalue", "drifted", "rho"])

    def as_dict(self) -> dict[str, Any]:
        return {"drifted": self.drifted, "is_drifted": self.is_drifted, "judged": self.judged,
                "alpha": self.alpha, "n_reference": self.n_reference,
                "n_current": self.n_current, "features": [asdict(f) for f in self.features]}


def not_judged(n_reference: int, n_current: int, min_features: int, alpha: float,
               features: list[str] | tuple[str, ...] = ()) -> DriftReport:
    """The report when there are too few fresh rows to test: the watched features listed with
    no statistics (NaN), nothing called drifted."""
    nan = float("nan")
    rows = [FeatureDrift(f, nan, nan, nan, False, nan, nan, nan) for f in features]
    return DriftReport(rows, n_reference, n_current, min_features, False, alpha)


def drift_report(reference: pd.DataFrame, current: pd.DataFrame, *, alpha: float = 0.05,
                 min_features: int = 1, psi_threshold: float | None = None,
                 ks_pvalue: float | None = None) -> DriftReport:
    """Every shared column of `current` against the same column of `reference`.

    `psi_threshold` and `ks_pvalue` are accepted for old callers and ignored: the decision is
    the Bonferroni-corrected effective-size KS test at family false-alarm rate `alpha`.
    """
    del psi_threshold, ks_pvalue
    shared = [c for c in reference.columns if c in current.columns]
    # each column once as an array, NaNs dropped (what Series.dropna would leave)
    refs = {c: _present(reference[c]) for c in shared}
    curs = {c: _present(current[c]) for c in shared}
    return drift_of_arrays(refs, curs, len(reference), len(current), alpha=alpha,
                           min_features=min_features)


def drift_of_arrays(refs: dict[str, np.ndarray], curs: dict[str, np.ndarray], n_reference: int,
                    n_current: int, *, alpha: float = 0.05,
                    min_features: int = 1) -> DriftReport:
    """drift_report on columns already taken out as finite arrays (feature -> values), in
    `refs`' order: the loop's daily check builds them without a frame."""
    names = [c for c in refs if c in curs and len(refs[c]) >= 2 and len(curs[c]) >= 2]
    rows: list[FeatureDrift] = []
    per_test = alpha / max(1, 2 * len(names))  # two tests (KS, variance ratio) per feature
    for name in names:
        ref, cur = refs[name], curs[name]
        rho = lag1_autocorrelation(np.concatenate([ref, cur]))  # one series under the null
        stat, pval = ks(ref, cur, rho)
        ratio, vp = variance_ratio(ref, cur, rho)
        rows.append(FeatureDrift(name, psi(ref, cur), stat, pval,
                                 pval < per_test or vp < per_test, rho, ratio, vp))
    return DriftReport(rows, n_reference, n_current, min_features, True, alpha)


def _present(column: pd.Series) -> np.ndarray:
    values = column.to_numpy(dtype=float)
    return values[~np.isnan(values)]

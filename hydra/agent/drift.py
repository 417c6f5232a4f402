"""Feature drift: has what the model sees moved away from what it was trained on?

Two views per feature. PSI (population stability index) over deciles of the training window
says how much mass moved between bins (rule of thumb: < 0.1 stable, 0.1-0.25 some shift,
>= 0.25 a shift worth acting on). The two-sample Kolmogorov-Smirnov test (scipy) says whether
the two samples plausibly share one distribution. Daily features are autocorrelated, so KS
p-values are optimistic; a feature therefore drifts only when both views agree (PSI at or
above its threshold and a small KS p-value), and the inputs drift only when several do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

_EPS = 1e-4


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index of `current` against `reference`, binned on its quantiles."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    if len(ref) < 2 or len(cur) < 2:
        raise ValueError("PSI needs at least 2 finite values in each sample")
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    p = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1)
    q = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1)
    p = np.clip(p / p.sum(), _EPS, None)
    q = np.clip(q / q.sum(), _EPS, None)
    return float(np.sum((q - p) * np.log(q / p)))


def ks(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """(KS statistic, p-value) of the two-sample test."""
    res = ks_2samp(np.asarray(reference, dtype=float), np.asarray(current, dtype=float))
    return float(res.statistic), float(res.pvalue)


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float
    ks_stat: float
    ks_pvalue: float
    drifted: bool


@dataclass(frozen=True)
class DriftReport:
    features: list[FeatureDrift]
    n_reference: int
    n_current: int
    min_features: int

    @property
    def drifted(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]

    @property
    def is_drifted(self) -> bool:
        return len(self.drifted) >= self.min_features

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(f) for f in self.features],
                            columns=["feature", "psi", "ks_stat", "ks_pvalue", "drifted"])

    def as_dict(self) -> dict[str, Any]:
        return {"drifted": self.drifted, "is_drifted": self.is_drifted,
                "n_reference": self.n_reference, "n_current": self.n_current,
                "features": [asdict(f) for f in self.features]}


def drift_report(reference: pd.DataFrame, current: pd.DataFrame, *, psi_threshold: float,
                 ks_pvalue: float, min_features: int) -> DriftReport:
    """Every shared column of `current` against the same column of `reference`."""
    rows: list[FeatureDrift] = []
    for name in [c for c in reference.columns if c in current.columns]:
        ref, cur = reference[name].to_numpy(), current[name].to_numpy()
        if len(ref) < 2 or len(cur) < 2:
            continue
        p = psi(ref, cur)
        stat, pval = ks(ref, cur)
        rows.append(FeatureDrift(name, p, stat, pval, p >= psi_threshold and pval < ks_pvalue))
    return DriftReport(rows, len(reference), len(current), min_features)

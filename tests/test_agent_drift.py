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

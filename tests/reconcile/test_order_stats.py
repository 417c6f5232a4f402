"""tca.order_stats_fast (one partition for the median and the 95th percentile) gives numpy's
np.median and np.percentile(95) exactly, whatever the size's parity or the ties; unit_stats over
it gives the reference's UnitStats, NaNs dropped alike."""

from __future__ import annotations

import numpy as np
import pytest

from hydra.reconcile import tca


def samples() -> list[np.ndarray]:
    """Odd and even sizes, one value, many ties (signed zeros too), no variance, sorted."""
    rng = np.random.default_rng(15)
    out = [np.array([x]) for x in (0.0, -3.5, 1e300)]
    for n in [*range(2, 60), 99, 100, 101, 1000, 1001, 4096, 100_003]:
        out.append(rng.normal(0.3, 1.1, n))
        out.append(np.round(rng.normal(0.1, 1.0, n)) * 0.25)  # whole ticks: many ties
        out.append(rng.uniform(0.8, 1.6, n) * 0.25 / 500 * 1e4)  # bps-like
    out.append(np.full(37, 2.5))  # no variance
    out.append(np.arange(20, dtype=float)[::-1])  # sorted descending
    return out


@pytest.mark.parametrize("x", samples(), ids=lambda x: f"n{len(x)}")
def test_fast_order_stats_are_numpys_median_and_percentile(x):
    expected = (float(np.median(x)), float(np.percentile(x, 95)))
    got = tca.order_stats_fast(x.copy())
    assert got == expected
    # bit for bit, but for the sign of a zero: with 0.0 and -0.0 both in the sample, which of
    # them np.partition leaves at a position depends on its kth list (numpy's own median and
    # percentile differ there too); they compare equal, as the report's checks compare
    assert [v.hex() for v in got if v] == [v.hex() for v in expected if v]


@pytest.mark.parametrize("n", [2, 3, 10, 11, 1001])
def test_unit_stats_fast_equals_reference_with_nans_dropped(n):
    rng = np.random.default_rng(n)
    p, a = rng.normal(1.0, 0.3, n), np.round(rng.normal(1.1, 1.0, n))
    p[::4], a[1::5] = np.nan, np.inf  # missing on either side: the pair is dropped
    if np.isfinite(p + a).sum() == 0:
        p[0], a[0] = 1.0, 2.0
    keep_p, keep_a = p.copy(), a.copy()
    assert tca.unit_stats(p, a, tca.order_stats_fast) == tca.unit_stats(p, a)
    assert np.array_equal(p, keep_p, equal_nan=True)  # the caller's arrays are not reordered
    assert np.array_equal(a, keep_a, equal_nan=True)

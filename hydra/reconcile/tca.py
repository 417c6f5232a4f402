"""Transaction-cost analysis of journaled fills: totals, predicted vs actual slippage, verdicts.

Pure functions over the journal's fills DataFrame (hydra.execution.journal.Journal.fills).
Every fill is one observation. Slippage is per contract and signed (positive = a cost), in three
units: ticks and basis points from the journal's per-contract columns, and dollars per contract
(price units x point value), so a 4-lot and a 1-lot weigh the same. Verdicts are judged in
TICKS, so the thresholds mean the same for oats and hogs (the original HYDRA compared raw price
units across contracts). Below the minimum sample a group reports "insufficient data" and no
numbers: ten fills do not calibrate anything, and fewer than that mislead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from hydra.config import ReconcileConfig

UNITS = ("ticks", "bps", "usd")
KNOWN_ROUTES = ("limit-patience", "twap")
INSUFFICIENT = "insufficient data"
Colour = Literal["green", "yellow", "red", "grey"]


# --------------------------------------------------------------------------------- fill totals
@dataclass(frozen=True)
class FillTotals:
    """What a range of fills adds up to (notional = price x point value x contracts)."""

    fills: int
    contracts: int
    buys: int  # contracts bought
    sells: int  # contracts sold
    notional_usd: float
    commission_usd: float
    commission_missing: int  # fills whose commission the broker has not reported yet
    actual_cost_usd: float | None  # sum of signed actual slippage dollars (positive = cost)
    predicted_cost_usd: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sum_or_none(col: pd.Series) -> float | None:
    col = col.dropna()
    return float(col.sum()) if len(col) else None


def fill_totals(fills: pd.DataFrame) -> FillTotals:
    if not len(fills):
        return FillTotals(0, 0, 0, 0, 0.0, 0.0, 0, None, None)
    qty = fills["quantity"].astype("int64")
    buy = fills["side"] == "BUY"
    notional = (fills["price"] * fills["point_value"].fillna(0.0) * qty).sum()
    return FillTotals(
        fills=len(fills),
        contracts=int(qty.sum()),
        buys=int(qty[buy].sum()),
        sells=int(qty[~buy].sum()),
        notional_usd=float(notional),
        commission_usd=float(fills["commission"].fillna(0.0).sum()),
        commission_missing=int(fills["commission"].isna().sum()),
        actual_cost_usd=_sum_or_none(fills["actual_usd"]),
        predicted_cost_usd=_sum_or_none(fills["predicted_usd"]),
    )


def totals_by(fills: pd.DataFrame, key: str = "local_symbol") -> pd.DataFrame:
    """Per-contract (or per-route) totals, one row each, for the fill list's footer."""
    cols = ["fills", "contracts", "notional_usd", "commission_usd", "actual_cost_usd"]
    if not len(fills):
        return pd.DataFrame(columns=[key, *cols])
    rows = [{key: name, **{c: getattr(fill_totals(g), c) for c in cols}}
            for name, g in fills.groupby(key, sort=True)]
    return pd.DataFrame(rows, columns=[key, *cols])


# --------------------------------------------------------------------------- slippage statistics
@dataclass(frozen=True)
class UnitStats:
    """Predicted vs actual slippage in one unit over n fills (None where undefined)."""

    n: int
    mean_predicted: float
    mean_actual: float
    bias: float  # mean actual - mean predicted
    rmse: float
    correlation: float | None  # None when either side does not vary
    median_predicted: float
    median_actual: float
    p95_predicted: float
    p95_actual: float
    multiplier: float | None  # pessimism multiplier: mean actual / mean predicted

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _clean(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


Values = Sequence[float | None] | np.ndarray | pd.Series


def order_stats(x: np.ndarray) -> tuple[float, float]:
    """(median, 95th percentile) by numpy's own functions: the reference."""
    return float(np.median(x)), float(np.percentile(x, 95))


def order_stats_fast(x: np.ndarray) -> tuple[float, float]:
    """order_stats in one np.partition pass instead of two (x finite, non-empty; partitioned
    in place). The same order statistics combined by numpy's formulas: the median's mean of
    the two middle values, percentile's linear rule (virtual index (n - 1) * q, then its
    _lerp), so the results are the same doubles (tests/reconcile/test_order_stats.py)."""
    n = len(x)
    v = (n - 1) * (95 / 100)
    below = math.floor(v)
    top = v >= n - 1  # numpy takes the largest value
    lo, hi = (n - 1, n - 1) if top else (below, below + 1)
    x.partition(sorted({(n - 1) // 2, n // 2, lo, hi}))
    median = float(x[n // 2]) if n % 2 else float((x[n // 2 - 1] + x[n // 2]) / 2)
    a, b = float(x[lo]), float(x[hi])
    gamma = v - below
    diff = b - a
    p95 = b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma
    return median, float(p95)


OrderStats = Callable[[np.ndarray], tuple[float, float]]


def unit_stats(predicted: Values, actual: Values, order: OrderStats = order_stats) -> UnitStats:
    """Statistics of paired predicted/actual slippage (pairs with a missing side are dropped).
    `order`: how medians and 95th percentiles are taken (the fast path: order_stats_fast)."""
    p = np.asarray(predicted, dtype=float)
    a = np.asarray(actual, dtype=float)
    ok = np.isfinite(p) & np.isfinite(a)
    p, a = p[ok], a[ok]  # copies: `order` may reorder them
    if not len(p):
        raise ValueError("no fill has both a predicted and an actual slippage")
    mp, ma = float(p.mean()), float(a.mean())
    corr: float | None = None
    if len(p) >= 2 and p.std() > 0 and a.std() > 0:
        corr = _clean(float(np.corrcoef(p, a)[0, 1]))
    rmse = float(np.sqrt(np.mean((a - p) ** 2)))
    median_p, p95_p = order(p)
    median_a, p95_a = order(a)
    return UnitStats(
        n=len(p),
        mean_predicted=mp,
        mean_actual=ma,
        bias=ma - mp,
        rmse=rmse,
        correlation=corr,
        median_predicted=median_p,
        median_actual=median_a,
        p95_predicted=p95_p,
        p95_actual=p95_a,
        multiplier=ma / mp if mp > 0 else None,
    )


# ------------------------------------------------------------------------------------- verdicts
def bias_colour(bias_ticks: float | None, cfg: ReconcileConfig) -> Colour:
    """green |bias| < green threshold, yellow < yellow threshold, red at or above it."""
    if bias_ticks is None:
        return "grey"
    b = abs(bias_ticks)
    if b < cfg.bias_green_ticks:
        return "green"
    if b < cfg.bias_yellow_ticks:
        return "yellow"
    return "red"


def pessimism_warning(multiplier: float | None, cfg: ReconcileConfig) -> str | None:
    """A warning when actual slippage exceeds the prediction by more than the configured ratio."""
    if multiplier is None or multiplier <= cfg.pessimism_warn:
        return None
    return (f"actual slippage is {multiplier:.2f}x the prediction (above "
            f"{cfg.pessimism_warn:g}x): the cost model underestimates costs, and paper fills "
            "tend to be optimistic, so live costs are likely higher still; scale predicted "
            f"costs by at least {multiplier:.2f}")


@dataclass(frozen=True)
class Calibration:
    status: Literal["calibrated", "not calibrated", "insufficient data"]
    reasons: tuple[str, ...]

    @property
    def calibrated(self) -> bool:
        return self.status == "calibrated"


def calibration(ticks: UnitStats | None, n: int, cfg: ReconcileConfig,
                min_fills: int | None = None) -> Calibration:
    """Calibrated when |bias| <= the gate AND the correlation reaches its gate (in ticks)."""
    if ticks is None:
        need = cfg.min_fills if min_fills is None else min_fills
        return Calibration(INSUFFICIENT, (f"{n} fill(s) with predicted and actual slippage; "
                                          f"at least {need} are needed",))
    reasons = []
    if abs(ticks.bias) > cfg.calibrated_max_bias_ticks:
        reasons.append(f"|bias| {abs(ticks.bias):.3f} ticks > {cfg.calibrated_max_bias_ticks:g}")
    if ticks.correlation is None:
        reasons.append("correlation undefined: predicted or actual slippage did not vary")
    elif ticks.correlation < cfg.calibrated_min_correlation:
        reasons.append(f"correlation {ticks.correlation:.3f} < "
                       f"{cfg.calibrated_min_correlation:g}")
    if reasons:
        return Calibration("not calibrated", tuple(reasons))
    return Calibration("calibrated", (
        f"|bias| {abs(ticks.bias):.3f} ticks <= {cfg.calibrated_max_bias_ticks:g} and "
        f"correlation {ticks.correlation:.3f} >= {cfg.calibrated_min_correlation:g}",))


# -------------------------------------------------------------------------------- the analysis
@dataclass(frozen=True)
class GroupReport:
    """One group's reconciliation (overall, or one route): numbers only with enough fills."""

    name: str
    fills: int  # fills in the group
    n: int  # of which with both predicted and actual slippage
    sufficient: bool
    stats: dict[str, UnitStats]  # by unit; empty when insufficient
    bias_colour: Colour
    pessimism_warning: str | None
    calibration: Calibration
    min_needed: int

    @property
    def headline(self) -> str:
        if not self.sufficient:
            return (f"{self.name}: {INSUFFICIENT} ({self.n} fill(s) with slippage, at least "
                    f"{self.min_needed} needed)")
        t = self.stats["ticks"]
        mult = f"{t.multiplier:.2f}x" if t.multiplier is not None else "n/a"
        return (f"{self.name}: n={t.n}, bias {t.bias:+.3f} ticks ({self.bias_colour}), "
                f"multiplier {mult}, {self.calibration.status}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "fills": self.fills, "n": self.n, "sufficient": self.sufficient,
            "status": "ok" if self.sufficient else INSUFFICIENT,
            "stats": {u: s.as_dict() for u, s in self.stats.items()},
            "bias_colour": self.bias_colour, "pessimism_warning": self.pessimism_warning,
            "calibration": self.calibration.status,
            "calibration_reasons": list(self.calibration.reasons),
        }


def per_contract_usd(fills: pd.DataFrame, side: str) -> pd.Series:
    """Slippage in dollars per contract: the journal's per-contract price units x point value."""
    return fills[f"{side}_price"] * fills["point_value"]


def _unit_series(fills: pd.DataFrame, unit: str, side: str) -> pd.Series:
    if unit == "usd":
        return per_contract_usd(fills, side)
    return fills[f"{side}_{unit}"]


def group_report(name: str, fills: pd.DataFrame, cfg: ReconcileConfig,
                 min_fills: int | None = None) -> GroupReport:
    need = cfg.min_fills if min_fills is None else min_fills
    both = fills["predicted_ticks"].notna() & fills["actual_ticks"].notna() if len(fills) \
        else pd.Series(dtype=bool)
    n = int(both.sum())
    if n < need:
        return GroupReport(name, len(fills), n, False, {}, "grey", None,
                           calibration(None, n, cfg, need), need)
    usable = fills[both]
    stats = {u: unit_stats(_unit_series(usable, u, "predicted"), _unit_series(usable, u, "actual"))
             for u in UNITS}
    t = stats["ticks"]
    return GroupReport(name, len(fills), n, True, stats, bias_colour(t.bias, cfg),
                       pessimism_warning(t.multiplier, cfg), calibration(t, n, cfg), need)


@dataclass(frozen=True)
class SlippageReport:
    """Overall and per-route predicted vs actual slippage, with verdicts."""

    overall: GroupReport
    routes: dict[str, GroupReport] = field(default_factory=dict)
    min_fills: int = 10

    @property
    def groups(self) -> list[GroupReport]:
        return [self.overall, *self.routes.values()]

    @property
    def warnings(self) -> list[str]:
        return [f"{g.name}: {g.pessimism_warning}" for g in self.groups if g.pessimism_warning]

    def table(self, unit: str = "ticks") -> pd.DataFrame:
        """One row per group; "insufficient data" instead of numbers below the minimum."""
        cols = ["n", "mean_predicted", "mean_actual", "bias", "rmse", "correlation",
                "median_predicted", "median_actual", "p95_predicted", "p95_actual", "multiplier"]
        rows = []
        for g in self.groups:
            if g.sufficient:
                s = g.stats[unit].as_dict()
                rows.append({"group": g.name, "fills": g.fills, **{c: s[c] for c in cols},
                             "verdict": g.bias_colour, "calibration": g.calibration.status})
            else:
                rows.append({"group": g.name, "fills": g.fills, "n": g.n,
                             **{c: INSUFFICIENT for c in cols[1:]},
                             "verdict": INSUFFICIENT, "calibration": INSUFFICIENT})
        return pd.DataFrame(rows, columns=["group", "fills", *cols, "verdict", "calibration"])

    def as_dict(self) -> dict[str, Any]:
        return {"min_fills": self.min_fills, "overall": self.overall.as_dict(),
                "routes": {k: g.as_dict() for k, g in self.routes.items()},
                "warnings": self.warnings}


def slippage_report(fills: pd.DataFrame, cfg: ReconcileConfig,
                    min_fills: int | None = None) -> SlippageReport:
    """Overall and by route (limit-patience and TWAP always listed, others when present)."""
    need = cfg.min_fills if min_fills is None else min_fills
    if need < 2:
        raise ValueError(f"min_fills must be at least 2, got {need}")
    overall = group_report("overall", fills, cfg, need)
    present = list(fills["route"].dropna().unique()) if len(fills) else []
    names = [*KNOWN_ROUTES, *sorted(r for r in present if r not in KNOWN_ROUTES)]
    routes = {r: group_report(r, fills[fills["route"] == r] if len(fills) else fills, cfg, need)
              for r in names}
    return SlippageReport(overall, routes, need)


# ------------------------------------------------------------- the same, over FillColumns
# The report's fast path (fill_report): the functions above, over the journal's columns
# (hydra.execution.fill_codec.FillColumns) instead of a million-row DataFrame. `rows` are
# positions in the report's order; every sum is numpy's over the same values in the same order
# as pandas takes them above, so the results are the same doubles
# (tests/reconcile/test_fast_report.py, benchmarks/reconcile.py compare them with those above).
def _nansum(x: np.ndarray) -> float:
    """pandas' Series.sum(): NaN counts as 0."""
    nan = np.isnan(x)
    return float((np.where(nan, 0.0, x) if nan.any() else x).sum())


def _sum_present(x: np.ndarray) -> float | None:
    """_sum_or_none: the sum of the values present (dropped NaN, not zeros: the same adds)."""
    x = x[~np.isnan(x)]
    return float(x.sum()) if len(x) else None


def fill_totals_of(cols: Any, rows: np.ndarray) -> FillTotals:
    """fill_totals over FillColumns rows."""
    if not len(rows):
        return FillTotals(0, 0, 0, 0, 0.0, 0.0, 0, None, None)
    qty = cols.quantity[rows]
    buy = cols.where("side", lambda s: s == "BUY")[rows]
    pv = cols.per_fill("point_value")[rows]
    commission = cols.commission[rows]
    return FillTotals(
        fills=len(rows),
        contracts=int(qty.sum()),
        buys=int(qty[buy].sum()),
        sells=int(qty[~buy].sum()),
        notional_usd=_nansum(cols.price[rows] * np.where(np.isnan(pv), 0.0, pv) * qty),
        commission_usd=_nansum(commission),
        commission_missing=int(np.isnan(commission).sum()),
        actual_cost_usd=_sum_present(cols.slippage["actual_usd"][rows]),
        predicted_cost_usd=_sum_present(cols.slippage["predicted_usd"][rows]),
    )


def totals_by_of(cols: Any, rows: np.ndarray, key: str = "local_symbol") -> pd.DataFrame:
    """totals_by over FillColumns rows: one row per contract (or route), sorted by name."""
    columns = ["fills", "contracts", "notional_usd", "commission_usd", "actual_cost_usd"]
    names, codes = cols.codes(key)
    codes = codes[rows]
    out = []
    for i in np.unique(codes):
        t = fill_totals_of(cols, rows[codes == i])
        out.append({key: names[i], **{c: getattr(t, c) for c in columns}})
    return pd.DataFrame(out, columns=[key, *columns])


def group_report_of(name: str, cols: Any, rows: np.ndarray, cfg: ReconcileConfig,
                    need: int) -> GroupReport:
    """group_report over FillColumns rows."""
    s = cols.slippage
    both = ~np.isnan(s["predicted_ticks"][rows]) & ~np.isnan(s["actual_ticks"][rows])
    n = int(both.sum())
    if n < need:
        return GroupReport(name, len(rows), n, False, {}, "grey", None,
                           calibration(None, n, cfg, need), need)
    usable = rows[both]
    pv = cols.per_fill("point_value")[usable]

    def series(unit: str, side: str) -> np.ndarray:
        if unit == "usd":
            return s[f"{side}_price"][usable] * pv
        return s[f"{side}_{unit}"][usable]

    stats = {u: unit_stats(series(u, "predicted"), series(u, "actual"), order_stats_fast)
             for u in UNITS}
    t = stats["ticks"]
    return GroupReport(name, len(rows), n, True, stats, bias_colour(t.bias, cfg),
                       pessimism_warning(t.multiplier, cfg), calibration(t, n, cfg), need)


def slippage_report_of(cols: Any, rows: np.ndarray, cfg: ReconcileConfig,
                       min_fills: int | None = None) -> SlippageReport:
    """slippage_report over FillColumns rows."""
    need = cfg.min_fills if min_fills is None else min_fills
    if need < 2:
        raise ValueError(f"min_fills must be at least 2, got {need}")
    overall = group_report_of("overall", cols, rows, cfg, need)
    known, codes = cols.codes("route")
    codes = codes[rows]
    present = [known[i] for i in np.unique(codes)]
    names = [*KNOWN_ROUTES, *sorted(r for r in present if r not in KNOWN_ROUTES)]
    routes = {r: group_report_of(r, cols, rows[codes == known.index(r)] if r in known
                                 else rows[:0], cfg, need) for r in names}
    return SlippageReport(overall, routes, need)

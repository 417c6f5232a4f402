"""Slippage reconciliation maths against hand-computed fixtures, and every verdict boundary.

Fills go through a real journal (record_fills, then Journal.fills) so the columns are the ones
the report meets in production.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from hydra.config import load_config
from hydra.execution.journal import FillRecord, Journal
from hydra.reconcile import tca

CFG = load_config().reconcile
TICK, POINT_VALUE, MID = 0.25, 50.0, 500.0

BASE = FillRecord(
    exec_id="", order_ref="HYD-ZO-20261124-1-s1-a1", parent_ref="HYD-ZO-20261124-1",
    cycle_id="ZO-20261124", as_of="2026-11-24", symbol="ZO", local_symbol="ZOH7", side="BUY",
    quantity=1, price=MID, fill_time="2026-11-24T16:00:00+00:00", route="limit-patience",
    slice=1, decision_mid=MID, arrival_mid=MID, tick=TICK, point_value=POINT_VALUE,
    predicted_price=None, predicted_ticks=None, predicted_bps=None, predicted_usd=None,
    actual_price=None, actual_ticks=None, actual_bps=None, actual_usd=None, commission=2.35,
    latency_ms=0.0, broker="sim", account_id="DUSIM0001",
)


def fill(i: int, predicted: float | None, actual: float | None, route: str = "limit-patience",
         quantity: int = 1, price: float = MID) -> FillRecord:
    """A fill whose slippage is given in ticks; the other units follow as the journal does."""
    def units(ticks: float | None) -> dict[str, float | None]:
        if ticks is None:
            return dict.fromkeys(("price", "ticks", "bps", "usd"))
        px = ticks * TICK
        return {"price": px, "ticks": ticks, "bps": px / MID * 1e4,
                "usd": px * POINT_VALUE * quantity}
    p, a = units(predicted), units(actual)
    return replace(BASE, exec_id=f"T.{i:06d}.01", route=route, quantity=quantity, price=price,
                   fill_time=f"2026-11-24T16:{i // 60:02d}:{i % 60:02d}+00:00",
                   **{f"predicted_{k}": v for k, v in p.items()},
                   **{f"actual_{k}": v for k, v in a.items()})


def journaled(tmp_path: Path, fills: list[FillRecord]) -> pd.DataFrame:
    with Journal(tmp_path / "journal.sqlite") as j:
        j.record_fills(fills)
        return j.fills()


# hand-computed: p = 1 x5, 2 x5; a = 0 1 1 2 1 2 3 2 1 4
P = [1, 1, 1, 1, 1, 2, 2, 2, 2, 2]
A = [0, 1, 1, 2, 1, 2, 3, 2, 1, 4]


def test_metrics_match_hand_computation(tmp_path):
    fills = journaled(tmp_path, [fill(i, p, a) for i, (p, a) in enumerate(zip(P, A, strict=True))])
    rep = tca.slippage_report(fills, CFG)
    g = rep.overall
    assert g.sufficient and g.n == 10
    t = g.stats["ticks"]
    assert t.mean_predicted == pytest.approx(1.5)
    assert t.mean_actual == pytest.approx(1.7)
    assert t.bias == pytest.approx(0.2)  # 1.7 - 1.5
    assert t.rmse == pytest.approx(math.sqrt(0.8))  # errors -1 0 0 1 0 0 1 0 -1 2: 8 / 10
    assert t.correlation == pytest.approx(3.5 / 5.5)  # cov 3.5 / sqrt(2.5 * 12.1)
    assert t.median_predicted == pytest.approx(1.5)
    assert t.median_actual == pytest.approx(1.5)  # sorted 0 1 1 1 1 2 2 2 3 4
    assert t.p95_predicted == pytest.approx(2.0)
    assert t.p95_actual == pytest.approx(3.55)  # rank 8.55: 3 + 0.55 x (4 - 3)
    assert t.multiplier == pytest.approx(1.7 / 1.5)
    # the same fills in dollars per contract (x 12.50) and bps of the mid (x 5)
    u, b = g.stats["usd"], g.stats["bps"]
    assert u.bias == pytest.approx(0.2 * 12.5) and u.rmse == pytest.approx(math.sqrt(0.8) * 12.5)
    assert b.mean_actual == pytest.approx(1.7 * 5) and b.p95_actual == pytest.approx(3.55 * 5)
    assert u.correlation == pytest.approx(t.correlation)
    assert u.multiplier == pytest.approx(t.multiplier)
    # verdicts: bias 0.2 ticks is yellow, 1.13x no warning, calibrated (0.2 <= 0.5, 0.64 >= 0.3)
    assert g.bias_colour == "yellow"
    assert g.pessimism_warning is None
    assert g.calibration.status == "calibrated"


def test_dollars_are_per_contract_so_lot_size_does_not_weigh(tmp_path):
    one = journaled(tmp_path, [fill(i, 1.0, 2.0, quantity=1 if i % 2 else 4)
                               for i in range(10)])
    usd = tca.slippage_report(one, CFG).overall.stats["usd"]
    assert usd.mean_actual == pytest.approx(25.0)  # 2 ticks x $12.50, whatever the lot
    totals = tca.fill_totals(one)
    assert totals.contracts == 25 and totals.fills == 10
    assert totals.actual_cost_usd == pytest.approx(25.0 * 25)  # the whole quantity


def test_fill_totals_hand_computed(tmp_path):
    fills = journaled(tmp_path, [
        fill(0, 1, 1, quantity=2, price=500.0),
        replace(fill(1, 1, 0, quantity=3, price=501.25), side="SELL", commission=None),
    ])
    t = tca.fill_totals(fills)
    assert (t.fills, t.contracts, t.buys, t.sells) == (2, 5, 2, 3)
    assert t.notional_usd == pytest.approx(500 * 50 * 2 + 501.25 * 50 * 3)
    assert t.commission_usd == pytest.approx(2.35)
    assert t.commission_missing == 1


@pytest.mark.parametrize(("n", "sufficient"), [(9, False), (10, True)])
def test_insufficient_data_boundary(tmp_path, n, sufficient):
    fills = journaled(tmp_path, [fill(i, P[i % 10], A[i % 10]) for i in range(n)])
    rep = tca.slippage_report(fills, CFG)
    assert rep.overall.sufficient is sufficient
    table = rep.table("ticks")
    row = table[table["group"] == "overall"].iloc[0]
    if sufficient:
        assert isinstance(row["bias"], float)
        assert rep.overall.calibration.status != tca.INSUFFICIENT
    else:  # words, not numbers
        assert row["bias"] == row["rmse"] == row["multiplier"] == tca.INSUFFICIENT
        assert rep.overall.stats == {}
        assert rep.overall.calibration.status == tca.INSUFFICIENT
        assert "9 fill(s)" in rep.overall.headline and "at least 10" in rep.overall.headline


def test_fills_without_a_prediction_do_not_count_towards_the_sample(tmp_path):
    fills = journaled(tmp_path, [fill(i, None if i == 0 else 1.0, 1.0) for i in range(10)])
    rep = tca.slippage_report(fills, CFG)
    assert rep.overall.fills == 10 and rep.overall.n == 9 and not rep.overall.sufficient


def test_routes_are_judged_separately(tmp_path):
    fills = journaled(tmp_path, [fill(i, 1.0, 1.0) for i in range(10)]
                      + [fill(100 + i, 1.0, 3.0, route="twap") for i in range(9)])
    rep = tca.slippage_report(fills, CFG)
    assert list(rep.routes) == ["limit-patience", "twap"]
    assert rep.routes["limit-patience"].sufficient
    assert rep.routes["limit-patience"].bias_colour == "green"
    assert not rep.routes["twap"].sufficient  # 9 fills
    assert rep.overall.n == 19 and rep.overall.sufficient


def test_empty_journal_is_insufficient_everywhere(tmp_path):
    rep = tca.slippage_report(journaled(tmp_path, []), CFG)
    assert all(not g.sufficient and g.n == 0 for g in rep.groups)
    assert tca.fill_totals(journaled(tmp_path, [])).fills == 0


@pytest.mark.parametrize(("bias", "colour"), [
    (0.0, "green"), (0.0999, "green"), (-0.0999, "green"), (0.1, "yellow"), (-0.1, "yellow"),
    (0.4999, "yellow"), (0.5, "red"), (-0.5, "red"), (3.0, "red"), (None, "grey"),
])
def test_bias_colour_boundaries_in_ticks(bias, colour):
    assert tca.bias_colour(bias, CFG) == colour


@pytest.mark.parametrize(("multiplier", "warns"), [
    (None, False), (-0.5, False), (1.0, False), (1.5, False), (1.5001, True), (3.0, True),
])
def test_pessimism_warning_boundary(multiplier, warns):
    w = tca.pessimism_warning(multiplier, CFG)
    assert (w is not None) is warns
    if warns:
        assert "optimistic" in w and f"{multiplier:.2f}x" in w


def stats(bias: float, corr: float | None) -> tca.UnitStats:
    return tca.UnitStats(10, 1.0, 1.0 + bias, bias, abs(bias), corr, 1.0, 1.0, 1.0, 1.0, 1.0)


@pytest.mark.parametrize(("bias", "corr", "status"), [
    (0.5, 0.3, "calibrated"), (-0.5, 0.9, "calibrated"), (0.5001, 0.9, "not calibrated"),
    (0.0, 0.2999, "not calibrated"), (0.0, None, "not calibrated"),
])
def test_calibration_gates(bias, corr, status):
    verdict = tca.calibration(stats(bias, corr), 10, CFG)
    assert verdict.status == status
    if corr is None:
        assert "undefined" in verdict.reasons[0]


def test_verdicts_end_to_end_at_their_boundaries(tmp_path):
    p = [1.0, 2.0] * 5  # mean 1.5
    exact_half = tca.slippage_report(journaled(tmp_path / "a", [
        fill(i, x, x + 0.5) for i, x in enumerate(p)]), CFG).overall
    assert exact_half.stats["ticks"].bias == 0.5
    assert exact_half.bias_colour == "red"
    assert exact_half.calibration.status == "calibrated"  # |bias| <= 0.5 and correlation 1
    at_limit = tca.slippage_report(journaled(tmp_path / "b", [
        fill(i, x, 1.5 * x) for i, x in enumerate(p)]), CFG).overall
    assert at_limit.stats["ticks"].multiplier == 1.5 and at_limit.pessimism_warning is None
    double = tca.slippage_report(journaled(tmp_path / "c", [
        fill(i, x, 2 * x) for i, x in enumerate(p)]), CFG)
    assert double.overall.stats["ticks"].multiplier == 2.0
    assert double.overall.pessimism_warning is not None
    assert double.warnings and double.warnings[0].startswith("overall:")


def test_minimum_sample_is_configurable_but_never_below_two(tmp_path):
    fills = journaled(tmp_path, [fill(i, P[i], A[i]) for i in range(5)])
    assert tca.slippage_report(fills, CFG, min_fills=5).overall.sufficient
    with pytest.raises(ValueError, match="at least 2"):
        tca.slippage_report(fills, CFG, min_fills=1)


@pytest.mark.parametrize(("toml", "words"), [
    ("min_fills = 1", "reconcile.min_fills must be >= 2"),
    ("bias_green_ticks = 0.6", "bias_green_ticks must be > 0 and <="),
    ("calibrated_min_correlation = 1.5", "within [-1, 1]"),
    ("bias_green = 0.1", "unknown key reconcile.bias_green"),
])
def test_bad_reconcile_settings_are_refused(tmp_path, toml, words):
    from hydra.config import ConfigError

    (tmp_path / "hydra.toml").write_text(f"[reconcile]\n{toml}\n")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert words in str(err.value)


def test_operator_gates_from_hydra_toml_drive_the_verdicts(tmp_path):
    (tmp_path / "hydra.toml").write_text("[reconcile]\nmin_fills = 5\nbias_green_ticks = 0.25\n")
    cfg = load_config(tmp_path).reconcile
    fills = journaled(tmp_path, [fill(i, 1.0, a) for i, a in enumerate([0, 1, 1, 2, 2])])
    g = tca.slippage_report(fills, cfg).overall
    assert g.sufficient and g.stats["ticks"].bias == pytest.approx(0.2)
    assert g.bias_colour == "green"

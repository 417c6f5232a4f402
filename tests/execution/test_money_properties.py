"""Properties of the money path, over generated inputs (hypothesis).

The planner, the risk gate's pure decision, the order manager's price and size maths and the
fill-counting rule must be safe for EVERY input, not for the handful a unit test names: crossed
or missing quotes, NaN limits, several contract months, tripped breakers, a paused switch,
corrections arriving in any order.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from hydra.config import load_config
from hydra.domain import fills
from hydra.domain.broker import Quote
from hydra.execution.journal import Journal
from hydra.execution.legs import OPEN, hold_back, plan_legs
from hydra.execution.orders import limit_for_step, round_price, twap_sizes
from hydra.execution.risk import RiskInputs, evaluate, reduces_risk
from hydra.reconcile import breaks as reconcile
from hydra.reference.contracts import contract, decade_year, local_symbol
from hydra.reference.markets import get_market

ZO = get_market("ZO")
MONTHS = [contract(ZO, y, m) for y in (2026, 2027) for m in ZO.month_numbers]
NOW = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
DEFAULT_RISK = load_config().risk

numbers = st.one_of(st.floats(-1e7, 1e7, allow_nan=False), st.just(math.nan),
                    st.just(math.inf), st.just(-math.inf), st.just(0.0))
positive = st.floats(1.0, 2e6, allow_nan=False)


# ----------------------------------------------------------------------------- the gate
@st.composite
def risk_inputs(draw: st.DrawFn) -> RiskInputs:
    contract_pos = draw(st.integers(-15, 15))
    market_pos = contract_pos + draw(st.integers(-5, 5))
    # mostly sane values near each other (so the other checks can pass and the one under
    # test decides), sometimes the broken values a feed or a typo produces
    mid = draw(st.one_of(st.integers(200, 4000).map(lambda n: n * 0.25),
                         st.sampled_from([None, math.nan, math.inf])))
    off = draw(st.integers(-12, 12)) * 0.25
    limit = draw(st.one_of(st.just(mid + off if mid is not None else None),
                           st.sampled_from([None, math.nan, math.inf, -1.0])))
    return RiskInputs(
        order_ref="HYD-ZO-20261124-1-s1-a1", parent_ref="HYD-ZO-20261124-1",
        trade_date=date(2026, 11, 24), side=draw(st.sampled_from(["BUY", "SELL"])),
        quantity=draw(st.integers(-1, 15)), limit_price=limit, tick=0.25, point_value=50.0,
        mid=mid, position=market_pos,
        net_liquidation=draw(st.one_of(positive, positive, numbers)),
        daily_pnl=draw(st.one_of(st.floats(-50_000, 50_000), st.floats(-50_000, 50_000),
                                 numbers)),
        peak_equity=draw(st.one_of(positive, positive, numbers)),
        paused=draw(st.sampled_from([False, False, False, True])), paused_reason="ops",
        ref_in_use=draw(st.sampled_from([None, None, None, "Filled"])),
        working_siblings=draw(st.sampled_from([0, 0, 0, 1])),
        orders_this_cycle=draw(st.integers(0, 45) | st.just(0)),
        orders_last_minute=draw(st.integers(0, 12) | st.just(0)),
        tripped_today=frozenset(draw(st.sets(st.sampled_from(["daily loss", "drawdown"])))),
        contract_position=contract_pos,
        other_gross_notional=draw(st.one_of(st.floats(0, 3e5), st.just(math.nan))),
    )


broken = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -1.0])


@st.composite
def exposure_inputs(draw: st.DrawFn) -> RiskInputs:
    """Order hygiene fixed to pass (not paused, no duplicate, limit at the mid, rates low) and
    account values realistic and consistent, so the exposure, loss and drawdown checks decide;
    then, often, one account value replaced by what a broken feed or a typo produces."""
    base = draw(risk_inputs())
    mid = draw(st.integers(200, 4000).map(lambda n: n * 0.25))
    nl = draw(st.floats(5e4, 2e6))
    held = draw(st.integers(-4, 4))
    values = {
        "net_liquidation": nl,
        "daily_pnl": nl * draw(st.floats(-0.06, 0.06)),
        "peak_equity": nl * (1 + draw(st.floats(0, 0.1))),
        "other_gross_notional": nl * draw(st.floats(0, 2)),
    }
    spoil = draw(st.sampled_from([None, None, *values]))
    if spoil is not None:
        values[spoil] = draw(broken)
    return replace(base, paused=False, ref_in_use=None, working_siblings=0,
                   orders_this_cycle=0, orders_last_minute=0, quantity=draw(st.integers(1, 5)),
                   mid=mid, limit_price=mid, tripped_today=frozenset(), position=held,
                   contract_position=held, **values)


limits = st.builds(
    lambda base, pos, notional, gross, loss, dd: replace(
        base, max_position_contracts=pos, max_notional_fraction=notional,
        max_gross_notional_fraction=gross, daily_loss_fraction=loss, max_drawdown_fraction=dd),
    st.just(DEFAULT_RISK), st.integers(1, 12), st.floats(0.05, 3), st.floats(0.05, 5),
    st.floats(0.001, 0.5), st.floats(0.001, 0.5))


def _signed(side: str, qty: int) -> int:
    return qty if side == "BUY" else -qty


@given(risk_inputs() | exposure_inputs(), limits)
def test_no_order_that_adds_risk_passes_a_limit_it_breaks(i: RiskInputs, lim) -> None:
    d = evaluate(i, lim, NOW)
    if not d.allowed or d.reduces:
        return
    after = i.position + _signed(i.side, i.quantity)
    held_after = i.contract_position + _signed(i.side, i.quantity)
    assert not i.paused
    assert 0 < i.quantity <= lim.max_order_contracts
    assert abs(after) <= lim.max_position_contracts
    price = i.limit_price
    assert price is not None and math.isfinite(price) and math.isfinite(i.net_liquidation)
    assert i.net_liquidation > 0
    assert abs(after) * price * i.point_value / i.net_liquidation \
        <= lim.max_notional_fraction + 1e-9
    assert (i.other_gross_notional + abs(held_after) * price * i.point_value) \
        / i.net_liquidation <= lim.max_gross_notional_fraction + 1e-9
    assert not i.tripped_today
    start = i.net_liquidation - i.daily_pnl
    assert start > 0 and -i.daily_pnl / start < lim.daily_loss_fraction
    assert math.isfinite(i.daily_pnl) and math.isfinite(i.other_gross_notional)
    assert math.isfinite(i.peak_equity) and i.peak_equity > 0
    assert (i.peak_equity - i.net_liquidation) / i.peak_equity < lim.max_drawdown_fraction


@given(risk_inputs(), limits)
def test_a_reducing_order_is_never_blocked_by_exposure_loss_or_drawdown(i: RiskInputs,
                                                                       lim) -> None:
    d = evaluate(i, lim, NOW)
    assert d.reduces == reduces_risk(i.contract_position, i.side, i.quantity)
    if not d.reduces:
        return
    failed = {c.name for c in d.checks if not c.passed}
    assert not failed & {"position", "position notional", "gross notional", "daily loss",
                         "drawdown"}, d.reasons


@given(risk_inputs(), limits)
def test_the_kill_switch_blocks_everything_new(i: RiskInputs, lim) -> None:
    assert not evaluate(replace(i, paused=True), lim, NOW).allowed


@given(st.integers(-20, 20), st.sampled_from(["BUY", "SELL"]), st.integers(-3, 40))
def test_reduces_means_same_side_and_smaller_or_closed(before: int, side: str,
                                                       qty: int) -> None:
    after = before + _signed(side, qty)
    expected = qty > 0 and before != 0 and (after == 0 or (
        after * before > 0 and abs(after) < abs(before)))
    assert reduces_risk(before, side, qty) is expected
    if before * after < 0:  # a flip is never a reduction
        assert not reduces_risk(before, side, qty)


# --------------------------------------------------------------------------- the planner
holdings = st.lists(st.tuples(st.sampled_from(MONTHS), st.integers(-12, 12)), max_size=5)


@given(holdings, st.sampled_from(MONTHS), st.integers(-12, 12))
def test_legs_applied_in_order_reach_the_target_and_nothing_else(hold, front, target) -> None:
    legs = plan_legs(hold, front, target)
    pos: dict[int, int] = {}
    for c, q in hold:
        pos[c.con_id] = pos.get(c.con_id, 0) + q
    seen_open = False
    for leg in legs:
        assert leg.quantity > 0
        assert leg.before == pos.get(leg.contract.con_id, 0)
        assert leg.before * leg.after >= 0, "no single leg crosses zero (a flip is two legs)"
        if leg.reduces:
            assert not seen_open, "every reducing leg goes before the opening leg"
            assert reduces_risk(leg.before, leg.side, leg.quantity)
        else:
            assert leg.purpose == OPEN and leg.contract == front
            seen_open = True
        pos[leg.contract.con_id] = leg.after
    assert pos.get(front.con_id, 0) == target
    assert all(q == 0 for cid, q in pos.items() if cid != front.con_id)
    assert sum(1 for leg in legs if not leg.reduces) <= 1


@given(holdings, st.sampled_from(MONTHS), st.integers(-12, 12), st.data())
def test_executed_legs_never_pass_the_target_nor_skip_a_closable_old_month(
        hold, front, target, data) -> None:
    """Any pattern of gate verdicts and fills: each contract moves toward its goal and stops
    there or short of it; every allowed roll-out is sent."""
    legs = plan_legs(hold, front, target)
    pos: dict[int, int] = {}
    for c, q in hold:
        pos[c.con_id] = pos.get(c.con_id, 0) + q
    start = dict(pos)
    goal = {cid: 0 for cid in pos} | {front.con_id: target}
    short = ""
    for leg in legs:
        allowed = data.draw(st.booleans(), label=f"gate allows {leg.purpose}")
        if not allowed:
            short = short or "blocked"
            continue
        if hold_back(leg, short):
            assert not leg.reduces
            continue
        filled = data.draw(st.integers(0, leg.quantity), label="filled")
        pos[leg.contract.con_id] = pos.get(leg.contract.con_id, 0) + (
            filled if leg.side == "BUY" else -filled)
        if filled < leg.quantity:
            short = short or "short"
    market_goal = target
    for cid, q in pos.items():
        lo, hi = sorted((start.get(cid, 0), goal.get(cid, 0)))
        if start.get(cid, 0) * goal.get(cid, 0) < 0:  # a flip: through zero, never beyond
            lo, hi = min(lo, 0), max(hi, 0)
        assert lo <= q <= hi, (cid, start.get(cid), q, goal.get(cid))
    assert abs(sum(pos.values())) <= max(abs(market_goal), sum(abs(q) for q in start.values()))


# ----------------------------------------------------------------- prices and slices
quotes = st.builds(
    lambda bid, spread: (bid, bid + spread),
    st.integers(800, 4000).map(lambda n: n * 0.25), st.integers(0, 12).map(lambda n: n * 0.25))


@given(st.integers(1, 500), st.integers(1, 20))
def test_twap_slices_sum_to_the_parent_and_none_is_zero(qty: int, slices: int) -> None:
    sizes = twap_sizes(qty, slices)
    assert sum(sizes) == qty and all(s > 0 for s in sizes) and len(sizes) <= slices
    assert max(sizes) - min(sizes) <= 1


@given(quotes, st.sampled_from(["BUY", "SELL"]), st.sampled_from(["mid", "near"]),
       st.integers(0, 6), st.integers(1, 4))
def test_every_limit_is_on_tick_and_never_beyond_the_far_touch(q, side, start, step,
                                                               ticks) -> None:
    bid, ask = q
    quote = Quote(1, "ZOH7", NOW, bid, ask, 1, 1, None, "simulated", True)
    price = limit_for_step(quote, side, 0.25, start, step, ticks)
    assert abs(price / 0.25 - round(price / 0.25)) < 1e-9, "on the contract's tick"
    assert bid <= price <= ask, "inside the touch: passive of the far side, at most crossing"
    if step == 0 and start == "mid":
        mid = (bid + ask) / 2
        assert (price <= mid + 0.125) if side == "BUY" else (price >= mid - 0.125)


@given(st.floats(1, 2000), st.sampled_from([0.25, 0.125, 0.025, 0.5, 1.0]),
       st.sampled_from(["BUY", "SELL"]))
def test_round_price_lands_on_the_grid_within_half_a_tick(price, tick, side) -> None:
    p = round_price(price, tick, side)
    assert abs(p / tick - round(p / tick)) < 1e-6
    assert abs(p - price) <= tick / 2 + 1e-9


@given(st.floats(-1e9, 1e9) | st.just(math.nan) | st.just(math.inf) | st.just(-1.0),
       st.floats(-1e9, 1e9) | st.just(math.nan) | st.just(math.inf) | st.just(-1.0))
def test_a_quote_is_usable_only_when_both_sides_are_prices_and_not_crossed(bid, ask):
    q = Quote(1, "ZOH7", NOW, bid, ask, 1, 1, None, "live", True)
    usable = math.isfinite(bid) and math.isfinite(ask) and 0 < bid <= ask
    assert (q.mid is not None) is usable
    assert (q.problem is None) is usable


# ---------------------------------------------------------------------- contract years
@given(st.dates(date(2020, 1, 1), date(2095, 12, 31)), st.integers(-1, 8),
       st.sampled_from(ZO.month_numbers))
def test_one_digit_years_resolve_relative_to_the_trade_date(as_of, ahead, month) -> None:
    year = as_of.year + ahead
    assert decade_year(int(local_symbol(ZO, year, month)[-1]), as_of) == year


# ----------------------------------------------------------------- corrections, any order
@st.composite
def executions(draw: st.DrawFn) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for stem_no in range(draw(st.integers(1, 4))):
        stem = f"0000e0d5.{stem_no:08x}.01"
        for corr in range(1, draw(st.integers(1, 4)) + 1):
            out.append((f"{stem}.{corr:02x}", draw(st.integers(1, 5))))
    return draw(st.permutations(out))


def _latest(execs: list[tuple[str, int]]) -> dict[str, int]:
    best: dict[str, tuple[int, int]] = {}
    for exec_id, qty in execs:
        stem, tail = exec_id.rsplit(".", 1)
        if stem not in best or int(tail, 16) > best[stem][0]:
            best[stem] = (int(tail, 16), qty)
    return {s: q for s, (_, q) in best.items()}


@given(executions())
def test_fills_count_the_latest_correction_per_stem_whatever_the_arrival_order(execs):
    expected = _latest(execs)
    assert fills.filled_quantity(execs, lambda e: e[0], lambda e: e[1]) == sum(expected.values())
    frame = pd.DataFrame(execs, columns=["exec_id", "quantity"])
    kept = reconcile.latest_per_stem(frame)
    assert dict(zip(kept["exec_stem"], kept["quantity"], strict=True)) == expected
    # the journal, a real SQLite file, fed in the same arrival order
    from tests.execution.test_journal import FILL

    with tempfile.TemporaryDirectory() as tmp, Journal(Path(tmp) / "j.sqlite") as j:
        for exec_id, qty in execs:
            j.record_fill(replace(FILL, exec_id=exec_id, quantity=qty))
        got = j.fills()
        assert dict(zip([fills.exec_stem(x) for x in got["exec_id"]], got["quantity"],
                        strict=True)) == expected

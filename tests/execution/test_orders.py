"""The order manager against the simulated market: prices, routes, reprices, fills, cancels."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import pytest

from hydra import cycle
from hydra.domain.broker import Quote
from hydra.execution.orders import (
    LIMIT_PATIENCE,
    TWAP,
    OrderManager,
    ParentOrder,
    choose_route,
    limit_for_step,
    round_price,
    twap_sizes,
)

DAY = "2026-11-24"


def quote(bid: float, ask: float) -> Quote:
    from datetime import UTC, datetime

    return Quote(1, "ZOH7", datetime(2026, 11, 24, tzinfo=UTC), bid, ask, 5, 5, None,
                 "simulated", True)


@pytest.mark.parametrize("price,tick,side,expected", [
    (320.1, 0.25, "BUY", 320.0),      # nearest
    (320.2, 0.25, "BUY", 320.25),
    (320.125, 0.25, "BUY", 320.0),    # exact tie: passive (down for a buy)
    (320.125, 0.25, "SELL", 320.25),  # exact tie: passive (up for a sell)
    (85.0125, 0.025, "BUY", 85.0),    # lean hogs' own tick
    (85.0125, 0.025, "SELL", 85.025),
    (85.01, 0.025, "SELL", 85.0),
    (85.0, 0.025, "BUY", 85.0),       # on the grid stays
])
def test_round_price_uses_the_contracts_tick_and_ties_go_passive(price, tick, side, expected):
    assert round_price(price, tick, side) == expected


def test_limit_steps_move_whole_ticks_toward_the_far_touch_and_stop_there():
    q = quote(320.0, 320.75)  # mid 320.375: a tie between 320.25 and 320.5
    assert [limit_for_step(q, "BUY", 0.25, "mid", s, 1) for s in range(5)] == \
        [320.25, 320.5, 320.75, 320.75, 320.75]
    assert [limit_for_step(q, "SELL", 0.25, "mid", s, 1) for s in range(5)] == \
        [320.5, 320.25, 320.0, 320.0, 320.0]
    assert limit_for_step(q, "BUY", 0.25, "near", 0, 1) == 320.0
    assert limit_for_step(q, "SELL", 0.25, "near", 1, 2) == 320.25


def test_twap_slices_sum_to_the_parent_and_are_never_zero():
    for qty, slices in itertools.product(range(1, 40), range(1, 12)):
        sizes = twap_sizes(qty, slices)
        assert sum(sizes) == qty
        assert all(s > 0 for s in sizes)
        assert len(sizes) == min(qty, slices)
        assert max(sizes) - min(sizes) <= 1
    assert twap_sizes(0, 5) == []


def test_route_choice_by_participation():
    assert choose_route(8, 1000, 0.01) == LIMIT_PATIENCE
    assert choose_route(10, 1000, 0.01) == TWAP  # at the threshold goes to TWAP
    assert choose_route(1, 0, 0.01) == TWAP


@pytest.fixture
def roomy(data_dir: Path) -> Path:
    """Risk limits wide enough that the manager, not the gate, is what is tested."""
    (data_dir / "hydra.toml").write_text(
        "[risk]\nmax_order_contracts = 100\nmax_position_contracts = 100\n"
        "max_notional_fraction = 100.0\nmax_gross_notional_fraction = 100.0\n"
        "max_orders_per_minute = 100\n")
    return data_dir


def work(data_dir: Path, qty: int, side: str = "BUY", adv: float = 900, n: int = 1, **cfg):
    cyc = cycle.open_cycle(as_of=DAY, data_dir=str(data_dir))
    try:
        sig = cycle.compute_signal(cyc)
        ex = replace(cyc.config.execution, **cfg)
        manager = OrderManager(cyc.broker, cycle.risk_gate(cyc), cyc.journal, cyc.clock, ex,
                               cyc.cycle_id, lambda: cycle.sync_fills(cyc),
                               cycle._session_end(cyc))
        parent = ParentOrder(f"HYD-ZO-20261124-{n}", "target", sig.contract, side, qty)
        started = cyc.clock.now()
        out = manager.work(parent, adv)
        working = [o for o in cyc.broker.orders(parent.order_ref) if not o.is_done]
        execs = cyc.broker.executions(parent.order_ref)
        fills = cyc.journal.fills(cycle_id=cyc.cycle_id)
        return out, working, execs, fills, started, cyc.clock.now()
    finally:
        cyc.close()


def test_limit_patience_reprices_on_fresh_quotes_then_crosses(roomy):
    out, working, execs, fills, *_ = work(roomy, 3, start="mid", max_reprices=3,
                                          wait_seconds=60)
    assert out.route == LIMIT_PATIENCE
    assert out.status == "filled" and out.filled == 3
    assert len(out.children) >= 2, "a 3-lot at the mid should need a reprice"
    refs = [c.child_ref for c in out.children]
    assert refs == [f"HYD-ZO-20261124-1-s1-a{i}" for i in range(1, len(refs) + 1)]
    assert sum(c.filled for c in out.children) == 3 == sum(e.quantity for e in execs)
    assert working == []
    # every fill journaled once, with its child order's ref
    assert sorted(fills["exec_id"]) == sorted(e.exec_id for e in execs)
    assert set(fills["order_ref"]) <= set(refs)


def test_partial_fill_at_the_touch_then_leftovers_cancelled(roomy):
    # a big passive order that never moves: the queue model fills part of it, the rest is
    # cancelled at the end of the window
    out, working, execs, *_ = work(roomy, 40, start="near", max_reprices=0, at_end="cancel",
                                   wait_seconds=1800, adv=1e9)
    assert out.route == LIMIT_PATIENCE
    assert 0 < out.filled < 40, out
    assert out.status == "partial"
    [child] = out.children
    assert child.status == "Cancelled" and child.filled == out.filled
    assert all(e.price == child.limit_price for e in execs)  # passive fills at our price
    assert working == []


def test_twap_slices_are_worked_separately_and_never_overfill(roomy):
    out, working, execs, _fills, started, ended = work(roomy, 7, side="SELL",
                                                      twap_participation=0.001)
    assert out.route == TWAP
    slices = sorted({c.slice for c in out.children})
    assert slices == [1, 2, 3, 4, 5]
    assert out.filled <= 7
    assert sum(e.quantity for e in execs) == out.filled
    assert all(c.quantity > 0 for c in out.children)
    assert working == []
    # the slices are spread over the window on the order manager's clock
    first = min(c.sent_at for c in out.children if c.slice == 1)
    last = min(c.sent_at for c in out.children if c.slice == 5)
    assert (last - first).total_seconds() >= 4 * 1800 / 5 - 1
    assert (ended - started).total_seconds() <= 1800 + 120


def test_rejected_child_stops_the_parent_at_once(roomy):
    cyc = cycle.open_cycle(as_of=DAY, data_dir=str(roomy))
    try:
        dead = cyc.broker.contract_by_local_symbol("ZOZ5")  # expired in December 2025
        manager = OrderManager(cyc.broker, cycle.risk_gate(cyc), cyc.journal, cyc.clock,
                               cyc.config.execution, cyc.cycle_id,
                               lambda: cycle.sync_fills(cyc), cycle._session_end(cyc))
        start = cyc.clock.now()
        out = manager.work(ParentOrder("HYD-ZO-20261124-1", "target", dead, "BUY", 1), 900)
        assert out.status == "rejected"
        assert "expired" in out.message
        assert len(out.children) == 1
        assert (cyc.clock.now() - start).total_seconds() < 60  # no patience wasted
    finally:
        cyc.close()


def test_blocked_child_is_not_sent(data_dir):
    # default limits: a 6-lot of oats is more notional than the account allows
    out, working, execs, *_ = work(data_dir, 6)
    assert out.status == "blocked"
    assert "position notional" in out.message
    assert out.children == [] and execs == [] and working == []

"""The pre-trade risk gate: every check blocks with its reason and passes just inside."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from hydra import cycle
from hydra.config import load_config
from hydra.execution.journal import Journal
from hydra.execution.killswitch import pause, resume
from hydra.execution.risk import RiskInputs, evaluate
from hydra.paths import DataPaths
from tests.kit import pin_signal

LIMITS = replace(
    load_config().risk,
    max_order_contracts=5, max_position_contracts=6, max_notional_fraction=1.0,
    daily_loss_fraction=0.02, max_drawdown_fraction=0.05, price_collar_ticks=4,
    max_orders_per_cycle=10, max_orders_per_minute=3,
)
NOW = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
# ZO-like: tick 0.25, $50 per point; 1 contract at 400 = $20,000 notional
BASE = RiskInputs(
    order_ref="HYD-ZO-20261124-1-s1-a1", parent_ref="HYD-ZO-20261124-1",
    trade_date=date(2026, 11, 24), side="BUY", quantity=1, limit_price=400.0, tick=0.25,
    point_value=50.0, mid=400.0, position=0, net_liquidation=100_000.0, daily_pnl=0.0,
    peak_equity=100_000.0, paused=False, paused_reason="", ref_in_use=None,
    working_siblings=0, orders_this_cycle=0, orders_last_minute=0,
)


def verdict(**changes):
    decision = evaluate(replace(BASE, **changes), LIMITS, NOW)
    return decision, {c.name: c for c in decision.checks}


def test_base_case_allowed_with_every_check_listed():
    decision, checks = verdict()
    assert decision.allowed and decision.reasons == []
    assert set(checks) == {"kill switch", "order size", "position", "position notional",
                           "gross notional",
                           "daily loss", "drawdown", "price collar", "duplicate order",
                           "orders per cycle", "orders per minute"}


@pytest.mark.parametrize("name,inside,beyond,reason", [
    ("order size", {"quantity": 5}, {"quantity": 6}, "exceeds the 5-contract limit"),
    ("position", {"position": 5, "net_liquidation": 2e5, "peak_equity": 2e5},
     {"position": 6, "net_liquidation": 2e5, "peak_equity": 2e5}, "beyond ±6 contracts"),
    # 5 contracts x 400 x 50 = 100% of 100k: at the limit passes; 4 + 1 at 400.25 is beyond
    ("position notional", {"position": 4}, {"position": 4, "limit_price": 400.25, "mid": 400.25},
     "of net liquidation"),
    # start-of-day equity 100k: a loss of 1,999 passes, 2,000 (= 2%) trips
    ("daily loss", {"net_liquidation": 98_001.0, "daily_pnl": -1_999.0},
     {"net_liquidation": 98_000.0, "daily_pnl": -2_000.0}, "daily loss 2.00%"),
    ("drawdown", {"net_liquidation": 95_001.0, "peak_equity": 100_000.0},
     {"net_liquidation": 95_000.0, "peak_equity": 100_000.0}, "drawdown 5.00%"),
    ("price collar", {"limit_price": 401.0}, {"limit_price": 401.25}, "beyond the 4-tick collar"),
    ("orders per cycle", {"orders_this_cycle": 9}, {"orders_this_cycle": 10},
     "already sent 10 orders"),
    ("orders per minute", {"orders_last_minute": 2}, {"orders_last_minute": 3},
     "3 orders in the last minute"),
    ("duplicate order", {}, {"ref_in_use": "Filled"}, "already has a Filled order"),
    ("duplicate order", {}, {"working_siblings": 1}, "working child order"),
    ("kill switch", {}, {"paused": True, "paused_reason": "ops"}, "trading is paused (ops)"),
])
def test_each_check_passes_inside_and_blocks_beyond(name, inside, beyond, reason):
    ok, ok_checks = verdict(**inside)
    assert ok_checks[name].passed, ok_checks[name]
    assert ok.allowed
    blocked, checks = verdict(**beyond)
    assert not blocked.allowed
    assert not checks[name].passed
    assert reason in checks[name].reason
    assert checks[name].reason in blocked.reasons


def test_no_market_orders_and_no_quote_blocks():
    decision, checks = verdict(limit_price=None)
    assert not checks["price collar"].passed and not decision.allowed
    _, checks = verdict(mid=None)
    assert not checks["price collar"].passed


def test_breakers_block_new_risk_but_let_a_reducing_order_through():
    tripped = {"net_liquidation": 97_000.0, "daily_pnl": -3_000.0}
    more, _ = verdict(position=2, side="BUY", **tripped)
    assert not more.allowed
    less, _ = verdict(position=2, side="SELL", **tripped)
    assert less.allowed
    assert "daily loss" in more.tripped
    # latched for the rest of the trade date even if the loss recovers
    recovered, checks = verdict(tripped_today=frozenset({"daily loss"}))
    assert not recovered.allowed and not checks["daily loss"].passed


def test_position_limit_lets_a_reduction_through_when_already_beyond():
    decision, _ = verdict(position=9, side="SELL", quantity=1)
    assert decision.allowed


def test_breakers_latch_for_the_day_and_rearm_the_next_trading_day(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        j.trip_breakers(date(2026, 11, 24), {"drawdown"})
        assert j.breakers_tripped(date(2026, 11, 24)) == {"drawdown"}
        assert j.breakers_tripped(date(2026, 11, 25)) == frozenset()
        assert j.update_peak_equity(100.0) == 100.0
        assert j.update_peak_equity(90.0) == 100.0  # the peak is persisted, not recomputed
    with Journal(tmp_path / "j.sqlite") as j:
        assert j.update_peak_equity(95.0) == 100.0
        # a drawdown trip on the 24th re-arms on the next trade date against a new peak
        assert j.update_peak_equity(94.0, date(2026, 11, 24)) == 100.0  # same day: no re-arm
        assert j.update_peak_equity(93.0, date(2026, 11, 25)) == 93.0
        assert j.update_peak_equity(92.0, date(2026, 11, 25)) == 93.0
        assert j.update_peak_equity(96.0, date(2026, 11, 27)) == 96.0


def test_a_drawdown_breach_does_not_block_forever(data_dir):
    """Tripped on one day, blocked for the rest of it; the next trading day trades again."""
    from hydra.execution.journal import Journal

    (data_dir / "hydra.toml").write_text("[risk]\nmax_drawdown_fraction = 0.0001\n")
    with Journal(DataPaths(data_dir).journal_db) as j:
        j.update_peak_equity(200_000.0)  # far above the account: a deep drawdown
    first = cycle.run_in_process(as_of="2026-11-23", data_dir=str(data_dir))
    assert first["target_position"] != 0
    assert any("drawdown" in b for b in first["blocked"]) and first["orders_sent"] == 0
    second = cycle.run_in_process(as_of="2026-11-24", data_dir=str(data_dir))
    assert not any("drawdown" in b for b in second["blocked"]), second["blocked"]
    with Journal(DataPaths(data_dir).journal_db) as j:
        rearmed = j._state("drawdown_rearmed")
    assert rearmed["tripped_on"] == "2026-11-23" and rearmed["on"] == "2026-11-24"


def test_kill_switch_blocks_the_cycle_and_resume_allows_it(data_dir):
    paths = DataPaths(data_dir)
    pause(paths, "operator review")
    pin_signal(data_dir, +1)  # something to block, whatever the trained model would say
    summary = cycle.run_in_process(as_of="2026-11-24", data_dir=str(data_dir))
    assert summary["target_position"] != 0
    assert summary["orders_sent"] == 0 and summary["status"] == "blocked"
    assert any("trading is paused (operator review)" in b for b in summary["blocked"])
    with Journal(paths.journal_db) as j:
        [decision] = j.risk_decisions(summary["cycle_id"])
    assert not decision["allowed"] and "paused" in decision["reasons"]
    assert {c["name"] for c in decision["checks"]} >= {"kill switch", "price collar"}
    resume(paths)
    summary = cycle.run_in_process(as_of="2026-11-24", data_dir=str(data_dir))
    assert summary["orders_sent"] == 1 and summary["position_after"] == summary["target_position"]


def test_every_child_order_decision_is_journaled(data_dir):
    summary = cycle.run_in_process(as_of="2026-11-24", data_dir=str(data_dir), contracts=2)
    with Journal(DataPaths(data_dir).journal_db) as j:
        decisions = j.risk_decisions(summary["cycle_id"])
        children = j.children(cycle_id=summary["cycle_id"])
    sent = [d for d in decisions if d["sent"]]
    assert sorted(d["order_ref"] for d in sent) == sorted(children["child_ref"])
    assert all(d["allowed"] for d in sent)


def test_gate_refuses_to_send_what_it_did_not_allow(data_dir):
    cyc = cycle.open_cycle(as_of="2026-11-24", data_dir=str(data_dir))
    try:
        sig = cycle.compute_signal(cyc)
        gate = cycle.risk_gate(cyc)
        from hydra.domain.broker import OrderRequest

        q = cyc.broker.quote(sig.contract)
        req = OrderRequest(sig.contract, "BUY", 1, "LMT", q.bid, "HYD-ZO-20261124-9-s1-a1")
        other = OrderRequest(sig.contract, "BUY", 2, "LMT", q.bid, "HYD-ZO-20261124-9-s1-a1")
        decision = gate.decide(req, "HYD-ZO-20261124-9")
        with pytest.raises(RuntimeError, match="not allowed by the risk gate"):
            gate.send(other, decision)
        assert cyc.broker.orders("HYD-ZO-20261124-9") == []
    finally:
        cyc.close()

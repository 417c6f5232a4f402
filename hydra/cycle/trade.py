"""Step 5: execution, the step that acts. It journals the plan's pre-trade risk views (tripping
any breaker they reached) and the day's target, then works each leg with the order manager
(limit-patience or TWAP); every child order passes the risk gate before it is sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from hydra.cycle.context import Cycle, risk_gate, sync_fills
from hydra.cycle.plan import OrderPlan, PlannedLeg
from hydra.cycle.signal import SignalResult
from hydra.domain.broker import Quote
from hydra.domain.outcomes import LegOutcome
from hydra.execution import slippage
from hydra.execution.journal import OrderRecord
from hydra.execution.legs import hold_back
from hydra.execution.orders import OrderManager, ParentOrder, ParentOutcome
from hydra.faults import kill_point
from hydra.reference.sessions import session_windows


@dataclass(frozen=True)
class LegResult:
    """What happened to one planned leg: sent and worked, or why it was not."""

    intent: ParentOrder
    reduces: bool
    outcome: LegOutcome
    filled: int
    reason: str
    worked: ParentOutcome | None = None

    def as_dict(self) -> dict[str, Any]:
        p = self.intent
        return {"order_ref": p.order_ref, "purpose": p.purpose,
                "local_symbol": p.contract.local_symbol, "side": p.side,
                "quantity": int(p.quantity), "reduces": self.reduces,
                "outcome": str(self.outcome), "filled": int(self.filled), "reason": self.reason}


@dataclass
class ExecutionResult:
    outcomes: list[ParentOutcome]
    sent: bool
    note: str
    legs: list[LegResult] = field(default_factory=list)

    @property
    def orders_sent(self) -> int:
        return len(self.outcomes)

    @property
    def child_orders(self) -> int:
        return sum(len(o.children) for o in self.outcomes)

    def legs_frame(self) -> pd.DataFrame:
        cols = ["order_ref", "purpose", "local_symbol", "side", "quantity", "reduces",
                "outcome", "filled", "reason"]
        return pd.DataFrame([leg.as_dict() for leg in self.legs], columns=cols)

    def orders_frame(self) -> pd.DataFrame:
        cols = ["order_ref", "purpose", "local_symbol", "side", "quantity", "route",
                "participation", "status", "filled", "avg_fill_price", "children", "message"]
        rows = [{
            "order_ref": o.parent.order_ref, "purpose": o.parent.purpose,
            "local_symbol": o.parent.contract.local_symbol, "side": o.parent.side,
            "quantity": o.parent.quantity, "route": o.route,
            "participation": round(o.participation, 6), "status": str(o.status),
            "filled": o.filled, "avg_fill_price": o.avg_fill_price,
            "children": len(o.children), "message": o.message,
        } for o in self.outcomes]
        return pd.DataFrame(rows, columns=cols)

    def children_frame(self) -> pd.DataFrame:
        cols = ["child_ref", "slice", "attempt", "sent_at", "ended_at", "quantity",
                "limit_price", "status", "filled", "avg_fill_price", "message"]
        rows = [{**{k: getattr(c, k) for k in cols}, "sent_at": c.sent_at.isoformat(),
                 "ended_at": c.ended_at.isoformat() if c.ended_at else None}
                for o in self.outcomes for c in o.children]
        return pd.DataFrame(rows, columns=cols)

    def quotes_frame(self) -> pd.DataFrame:
        rows = [{"time": q.time, "bid": q.bid, "ask": q.ask}
                for o in self.outcomes for q in o.quotes]
        return pd.DataFrame(rows, columns=["time", "bid", "ask"])


def record_pre_trade(cyc: Cycle, plan: OrderPlan) -> None:
    """Journal each leg's pre-trade risk decision (sent=False), tripping what it reached."""
    gate = risk_gate(cyc)
    for leg in plan.legs:
        if leg.decision is not None:
            gate.record(leg.decision, leg.intent.order_ref, sent=False)


def _session_end(cyc: Cycle) -> datetime | None:
    now = cyc.broker.now()
    for start, end in session_windows(cyc.market, cyc.params.as_of):
        if start <= now < end:
            return end
    return None


def unsent_leg(leg: PlannedLeg, outcome: LegOutcome, reason: str) -> LegResult:
    return LegResult(leg.intent, leg.reduces, outcome, 0, reason)


def execute(cyc: Cycle, plan: OrderPlan, sig: SignalResult) -> ExecutionResult:
    """Work each leg in order (limit-patience or TWAP); every child passes the risk gate.

    A reducing leg goes whenever the gate allows it, whatever happened to the legs before it;
    an opening leg goes only if every leg before it filled completely (else the position could
    pass the target). Every leg ends with an outcome and a reason, sent or not.
    """
    record_pre_trade(cyc, plan)
    if plan.halted:
        why = "; ".join(plan.halted)
        legs = [unsent_leg(leg, LegOutcome.NOT_SENT, why) for leg in plan.legs]
        return ExecutionResult([], False, "nothing sent: " + why, legs)
    if not plan.legs:
        return ExecutionResult([], False, "nothing to do: position already at target")
    # the day's target, on record before the first order: a rerun finishes this target
    cyc.journal.record_target(cyc.cycle_id, plan.target_position, plan.contract.local_symbol,
                              sig.signal.label, cyc.params.run_id)
    kill_point("after_planning")
    manager = OrderManager(cyc.broker, risk_gate(cyc), cyc.journal, cyc.clock,
                           cyc.config.execution, cyc.cycle_id, lambda: sync_fills(cyc),
                           _session_end(cyc))
    outcomes: list[ParentOutcome] = []
    results: list[LegResult] = []
    short = ""  # the first earlier leg that did not fill completely
    for leg in plan.legs:
        intent = leg.intent
        if not leg.sendable:
            results.append(unsent_leg(leg, LegOutcome.BLOCKED, leg.reason))
            short = short or f"{intent.order_ref} was blocked"
            continue
        held_back = hold_back(leg.leg, short)
        if held_back:
            results.append(unsent_leg(leg, LegOutcome.NOT_SENT, held_back))
            continue
        arrival = cyc.broker.quote(intent.contract)
        if arrival.mid is None or arrival.spread is None:
            results.append(unsent_leg(leg, LegOutcome.NOT_SENT,
                                     f"no usable quote for {intent.contract.local_symbol}: "
                                     f"{arrival.problem}"))
            short = short or f"{intent.order_ref} had no usable quote"
            continue
        outcome = _work_leg(cyc, plan, manager, leg, arrival)
        outcomes.append(outcome)
        results.append(LegResult(intent, leg.reduces, outcome.status, outcome.filled,
                                 outcome.message, outcome))
        if outcome.status is not LegOutcome.FILLED:
            short = short or f"{intent.order_ref} ended {outcome.status}"
    sync_fills(cyc)
    summary = f"{len(outcomes)} order(s) worked, {sum(len(o.children) for o in outcomes)} " \
              "child order(s) sent"
    not_sent = [r for r in results if not r.outcome.sent]
    note = "; ".join(f"{r.intent.order_ref} {r.outcome}: {r.reason}" for r in not_sent)
    return ExecutionResult(outcomes, bool(outcomes), f"{summary}; {note}" if note else summary,
                           results)


def _work_leg(cyc: Cycle, plan: OrderPlan, manager: OrderManager, leg: PlannedLeg,
              arrival: Quote) -> ParentOutcome:
    """Journal the parent, work it, and record what the broker says, on every exit path."""
    intent = leg.intent
    predicted = slippage.predicted_price(arrival.spread / 2, plan.sigma, intent.quantity,
                                         plan.adv, cyc.config.slippage.k)
    now = cyc.broker.now().isoformat()
    cyc.journal.record_order(OrderRecord(
        order_ref=intent.order_ref, cycle_id=cyc.cycle_id, as_of=cyc.params.as_of.isoformat(),
        symbol=intent.contract.symbol, local_symbol=intent.contract.local_symbol,
        con_id=intent.contract.con_id, purpose=intent.purpose, side=intent.side,
        quantity=intent.quantity, route=leg.route,
        broker=cyc.broker.kind, status="working", filled=0, avg_fill_price=None,
        decision_mid=plan.decision_quote.mid if plan.decision_quote else None,
        arrival_mid=arrival.mid, arrival_bid=arrival.bid, arrival_ask=arrival.ask,
        predicted_slippage_price=predicted,
        participation=intent.quantity / plan.adv if plan.adv else None,
        sent_at=now, updated_at=now,
    ))
    kill_point("after_parent_journaled")
    manager.current = None
    try:
        outcome = manager.work(intent, plan.adv)
    finally:
        worked = manager.current
        if worked is not None:  # also when work() raised: the record says what the broker says
            cyc.journal.update_order(intent.order_ref, status=str(worked.status),
                                     filled=worked.filled,
                                     avg_fill_price=worked.avg_fill_price,
                                     message=worked.message)
    return outcome


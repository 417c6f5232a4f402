"""Step 4: the plan. The legs from the broker's position to the target, each with the risk
gate's pre-trade view, computed from values: `read_plan_inputs` reads the broker and the journal
(writing nothing), `make_plan` is a pure function of what it read. Nothing here journals, trips a
breaker or sends: the acting step (execute) journals the pre-trade views and works the legs.

A rerun of a cycle that already sent orders was resumed by step 1 (hydra.cycle.recovery); the
plan then goes from the broker's position to the target the first run recorded, not a fresh
signal, with a new attempt number in every orderRef (HYD-ZO-20261124-a2-1).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd

from hydra.config import Config
from hydra.cycle.context import Cycle, PriorOrder, Recovery, market_positions, risk_gate
from hydra.cycle.params import CycleParams
from hydra.cycle.recovery import prior_orders
from hydra.cycle.signal import SignalResult
from hydra.domain.broker import ContractDetails, OrderRequest, Quote
from hydra.domain.market import Market
from hydra.execution import slippage
from hydra.execution.legs import Leg, hold_back, plan_legs
from hydra.execution.orders import ParentOrder, choose_route, limit_for_step
from hydra.execution.risk import GateView, RiskDecision, evaluate, risk_inputs
from hydra.reference.sessions import current_trade_date, non_trading_reason, session_windows


@dataclass
class PlannedLeg:
    """One leg of the plan with the risk gate's pre-trade verdict on it."""

    intent: ParentOrder
    leg: Leg
    route: str
    decision: RiskDecision | None = None
    reason: str = ""  # why this leg will not be sent ("" when it will)

    @property
    def reduces(self) -> bool:
        return self.leg.reduces

    @property
    def sendable(self) -> bool:
        return not self.reason


@dataclass
class OrderPlan:
    contract: ContractDetails
    position_before: int  # this market, all contracts
    front_position: int
    other_positions: dict[str, int]
    target_position: int
    legs: list[PlannedLeg]
    prior_orders: list[PriorOrder]
    halted: list[str] = field(default_factory=list)  # reasons that stop every leg
    decision_quote: Quote | None = None
    adv: float = 0.0
    sigma: float = 0.0

    resume: Recovery | None = None

    @property
    def already_done(self) -> bool:
        """This cycle already traded and nothing is left to send (a rerun of a done day)."""
        return bool(self.prior_orders) and not self.legs

    @property
    def intents(self) -> list[ParentOrder]:
        return [leg.intent for leg in self.legs]

    @property
    def routes(self) -> dict[str, str]:
        return {leg.intent.order_ref: leg.route for leg in self.legs}

    @property
    def risk(self) -> list[RiskDecision]:
        return [leg.decision for leg in self.legs if leg.decision is not None]

    @property
    def blocked(self) -> list[str]:
        """Everything that stops an order: the cycle's reasons, then each leg's."""
        return self.halted + [f"{_leg_name(leg.intent)}: {leg.reason}" for leg in self.legs
                              if leg.reason]

    def intents_frame(self) -> pd.DataFrame:
        cols = ["order_ref", "purpose", "local_symbol", "side", "quantity", "route", "reduces",
                "pre_trade", "reason"]
        rows = [{"order_ref": leg.intent.order_ref, "purpose": leg.intent.purpose,
                 "local_symbol": leg.intent.contract.local_symbol, "side": leg.intent.side,
                 "quantity": leg.intent.quantity, "route": leg.route, "reduces": leg.reduces,
                 "pre_trade": "blocked" if leg.reason else "allowed",
                 "reason": leg.reason or (self.halted[0] if self.halted else "")}
                for leg in self.legs]
        return pd.DataFrame(rows, columns=cols)

    def prior_frame(self) -> pd.DataFrame:
        return pd.DataFrame([p.__dict__ for p in self.prior_orders])

    def risk_frame(self) -> pd.DataFrame:
        rows = [{"order_ref": d.order_ref, **c} for d in self.risk for c in d.as_rows()]
        return pd.DataFrame(rows, columns=["order_ref", "name", "passed", "value", "limit",
                                           "reason"])


def _leg_name(p: ParentOrder) -> str:
    return f"{p.order_ref} {p.purpose} {p.side} {p.quantity} {p.contract.local_symbol}"


@dataclass(frozen=True)
class PlanInputs:
    """Everything a plan is computed from, as read from the broker and the journal."""

    params: CycleParams
    market: Market
    config: Config
    cycle_id: str
    ref_prefix: str
    signal: SignalResult
    holdings: tuple[tuple[ContractDetails, int], ...]  # this market's positions, by contract
    prior: tuple[PriorOrder, ...]
    resume: Recovery | None
    quotes: dict[int, Quote]  # con_id -> quote: the front (the decision quote) and every leg's
    broker_time: datetime
    gate: GateView  # the risk gate's sources, read without moving the drawdown peak


def read_plan_inputs(cyc: Cycle, sig: SignalResult) -> PlanInputs:
    """Read what the plan needs. Writes nothing: not the journal, not the broker."""
    if not cyc.resume_checked:
        raise RuntimeError("plan_orders needs check_account first: step 1 resumes an "
                           "interrupted run of this cycle before anything is planned")
    contract = sig.contract
    holdings = tuple((contract if p.con_id == contract.con_id
                      else cyc.broker.contract_by_local_symbol(p.local_symbol), p.quantity)
                     for p in market_positions(cyc))
    quotes = {contract.con_id: cyc.broker.quote(contract)}
    for c, _ in holdings:
        if c.con_id not in quotes:
            quotes[c.con_id] = cyc.broker.quote(c)
    return PlanInputs(
        params=cyc.params, market=cyc.market, config=cyc.config, cycle_id=cyc.cycle_id,
        ref_prefix=cyc.ref_prefix, signal=sig, holdings=holdings,
        prior=tuple(prior_orders(cyc)), resume=cyc.resume, quotes=quotes,
        broker_time=cyc.broker.now(),
        gate=risk_gate(cyc).view(cyc.ref_prefix, persist_peak=False))


def plan_orders(cyc: Cycle, sig: SignalResult) -> OrderPlan:
    """The plan for this cycle: read its inputs, then compute it (see the module docstring)."""
    return make_plan(read_plan_inputs(cyc, sig))


def make_plan(i: PlanInputs) -> OrderPlan:
    """The plan as a pure function of its inputs."""
    contract = i.signal.contract
    holdings = list(i.holdings)
    front = sum(q for c, q in holdings if c.con_id == contract.con_id)
    others = {c.local_symbol: q for c, q in holdings if c.con_id != contract.con_id}
    resume = i.resume
    if resume is None:
        target = i.signal.target_position
        planned = plan_legs(holdings, contract, target)
    elif resume.target is None or resume.unconfirmed:
        target, planned = resume.target if resume.target is not None else front, []
    else:
        target = resume.target
        planned = plan_legs(holdings, contract, target)
    sigma, adv = _cost_inputs(i.config, i.signal)
    thr = i.config.execution.twap_participation

    def ref(n: int) -> str:
        if resume is None or resume.attempt == 1:  # nothing of this cycle reached the broker
            return f"{i.ref_prefix}{n}"
        return f"{i.ref_prefix}a{resume.attempt}-{n}"

    legs = [PlannedLeg(ParentOrder(ref(n), leg.purpose, leg.contract, leg.side,
                                   leg.quantity), leg,
                       choose_route(leg.quantity, adv, thr))
            for n, leg in enumerate(planned, start=1)]
    quote = i.quotes[contract.con_id]
    plan = OrderPlan(contract, front + sum(others.values()), front, others, target, legs,
                     list(i.prior), adv=adv, sigma=sigma, resume=resume,
                     decision_quote=quote)
    plan.halted = _blocking_reasons(i, plan)
    if legs and not _closed(plan):
        _judge_legs(i, plan)
    return plan


def _cost_inputs(config: Config, sig: SignalResult) -> tuple[float, float]:
    """Daily volatility in price units and ADV in contracts, from the signal's bars."""
    n = config.slippage.vol_lookback_days
    bars = sig.bars[-(n + 1):]
    sigma = slippage.daily_vol_price([b.close for b in bars])
    adv = slippage.average_daily_volume([b.volume for b in bars[-n:]])
    return sigma, adv


def _closed(plan: OrderPlan) -> bool:
    """Halted for a reason the gate cannot change (a dry run still shows the gate's view)."""
    return beyond_dry_run(plan.halted)


DRY_RUN = "dry run: orders computed, none sent"


def beyond_dry_run(reasons: list[str]) -> bool:
    """Whether anything but the dry run itself stops an order."""
    return any(r != DRY_RUN for r in reasons)


def _judge_legs(i: PlanInputs, plan: OrderPlan) -> None:
    """Each leg's pre-trade risk decision, against the position projected after the legs
    before it (the next leg is judged as if this one filled)."""
    ex = i.config.execution
    planned: dict[int, int] = {}
    tripped = i.gate.tripped_today  # a breaker one leg reaches is tripped for the next
    earlier_blocked = ""
    for leg in plan.legs:
        intent = leg.intent
        q = i.quotes[intent.contract.con_id]
        if q.mid is None:
            leg.reason = f"no usable quote for {intent.contract.local_symbol}: {q.problem}"
        else:
            price = limit_for_step(q, intent.side, intent.contract.tick, ex.start, 0,
                                   ex.reprice_ticks)
            request = OrderRequest(intent.contract, intent.side, intent.quantity, "LMT", price,
                                   intent.order_ref)
            view = replace(i.gate, tripped_today=tripped)
            leg.decision = evaluate(risk_inputs(view, request, intent.order_ref, q.mid,
                                                i.params.as_of, dict(planned)),
                                    i.config.risk, i.gate.now)
            tripped = tripped | leg.decision.tripped
            if not leg.decision.allowed:
                leg.reason = "risk gate: " + "; ".join(leg.decision.reasons)
        if not leg.reason:
            leg.reason = hold_back(leg.leg, f"{earlier_blocked} is blocked" if earlier_blocked
                                   else "")
        if leg.reason:
            earlier_blocked = earlier_blocked or intent.order_ref
        else:  # the next leg is judged as if this one filled
            signed = intent.quantity if intent.side == "BUY" else -intent.quantity
            planned[intent.contract.con_id] = planned.get(intent.contract.con_id, 0) + signed


def _blocking_reasons(i: PlanInputs, plan: OrderPlan) -> list[str]:
    reasons: list[str] = []
    p, m = i.params, i.market
    if plan.prior_orders and not plan.legs:
        done = ", ".join(f"{o.order_ref} {o.side} {o.quantity} {o.local_symbol} "
                         f"({o.status}, filled {o.filled})" for o in plan.prior_orders)
        r = plan.resume
        why = ("the position is at the day's target" if r is None or r.target is not None
               else "no target on record for it, so a rerun cannot know what is left")
        if r is not None and r.unconfirmed:
            why = (f"{', '.join(r.unconfirmed)} is still working at the broker (a dry run does "
                   "not cancel it; a real rerun will)" if p.dry_run else
                   f"the cancel of {', '.join(r.unconfirmed)} was not confirmed by the broker: "
                   "check it there before rerunning")
        reasons.append(f"already done: this cycle ({i.cycle_id}) already placed {done}; "
                       f"{why}; nothing more is sent")
    if not plan.legs:
        return reasons
    why_closed = non_trading_reason(m, p.as_of)
    if why_closed:
        reasons.append(f"market closed: {why_closed}")
    else:
        now = i.broker_time
        if current_trade_date(m, now) != p.as_of:
            windows = session_windows(m, p.as_of)
            local = now.astimezone(ZoneInfo(m.timezone))
            span = ", ".join(
                f"{a.astimezone(ZoneInfo(m.timezone)):%a %H:%M}-"
                f"{b.astimezone(ZoneInfo(m.timezone)):%H:%M}" for a, b in windows)
            reasons.append(f"outside trading hours: broker time is {local:%Y-%m-%d %H:%M %Z}, "
                           f"{p.as_of} trades {span} ({m.timezone})")

    if p.dry_run:
        reasons.append(DRY_RUN)
    return reasons

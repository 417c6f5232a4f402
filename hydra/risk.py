"""The pre-trade risk gate: the only way an order reaches a broker.

`evaluate` is pure: it takes every input a decision needs (account, position, quote, limits,
what this cycle already sent) and returns each check with its value, limit and verdict.
`RiskGate` gathers those inputs from the broker, journal and kill switch, records every
decision (allowed or blocked) in the journal, and only then places the order. Paper and live
take the same path. Boundaries: a value AT its limit passes; beyond it blocks (for the loss and
drawdown breakers, a loss reaching the limit trips them).

Loss and drawdown breakers block new exposure but let an order that reduces the position
through; once tripped they stay tripped for the rest of that trade date and re-arm on the next
one: the daily loss starts from the new day's equity, and the drawdown from a peak reset to the
equity at re-arm (otherwise a breached drawdown would block forever, the original's latch).
The kill switch blocks every new order; cancels always pass.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

from hydra.broker.base import Broker, OrderRequest, OrderStatus
from hydra.clock import Clock
from hydra.config import RiskConfig
from hydra.journal import Journal
from hydra.killswitch import read_state
from hydra.paths import DataPaths


@dataclass(frozen=True)
class RiskInputs:
    order_ref: str
    parent_ref: str
    trade_date: date
    side: str
    quantity: int
    limit_price: float | None
    tick: float
    point_value: float
    mid: float | None
    position: int  # signed, this market, before the order
    net_liquidation: float
    daily_pnl: float
    peak_equity: float
    paused: bool
    paused_reason: str
    ref_in_use: str | None  # status of a working/filled order with the same orderRef
    working_siblings: int  # other working child orders of the same parent
    orders_this_cycle: int
    orders_last_minute: int
    tripped_today: frozenset[str] = frozenset()  # breakers already tripped this trade date


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    value: str
    limit: str
    reason: str = ""


@dataclass(frozen=True)
class RiskDecision:
    order_ref: str
    allowed: bool
    checks: tuple[Check, ...]
    time: str
    tripped: frozenset[str] = field(default_factory=frozenset)

    @property
    def reasons(self) -> list[str]:
        return [c.reason for c in self.checks if not c.passed]

    def as_rows(self) -> list[dict[str, str | bool]]:
        return [asdict(c) for c in self.checks]


def _signed(side: str, qty: int) -> int:
    return qty if side == "BUY" else -qty


def evaluate(i: RiskInputs, limits: RiskConfig, now: datetime) -> RiskDecision:
    """Every check, in a fixed order; the order is allowed only if all pass."""
    after = i.position + _signed(i.side, i.quantity)
    reduces = abs(after) < abs(i.position)
    price = i.limit_price if i.limit_price is not None else i.mid
    checks: list[Check] = []

    def add(name: str, ok: bool, value: str, limit: str, reason: str) -> None:
        checks.append(Check(name, ok, value, limit, "" if ok else reason))

    add("kill switch", not i.paused, "paused" if i.paused else "trading", "trading",
        f"trading is paused ({i.paused_reason}); `hydra resume` to allow orders")
    add("order size", i.quantity <= limits.max_order_contracts, f"{i.quantity}",
        f"{limits.max_order_contracts}",
        f"order of {i.quantity} contracts exceeds the {limits.max_order_contracts}-contract limit")
    add("position", abs(after) <= limits.max_position_contracts or reduces,
        f"{i.position:+d} -> {after:+d}", f"±{limits.max_position_contracts}",
        f"position would be {after:+d}, beyond ±{limits.max_position_contracts} contracts")
    if price is None or i.net_liquidation <= 0:
        add("position notional", reduces, "unknown", f"{limits.max_notional_fraction:.0%}",
            "no price or no net liquidation to value the position against")
    else:
        frac = abs(after) * price * i.point_value / i.net_liquidation
        add("position notional", frac <= limits.max_notional_fraction + 1e-12 or reduces,
            f"{frac:.1%} of net liq", f"{limits.max_notional_fraction:.0%}",
            f"position notional would be {frac:.1%} of net liquidation, above "
            f"{limits.max_notional_fraction:.0%}")
    start_equity = i.net_liquidation - i.daily_pnl
    loss = -i.daily_pnl / start_equity if start_equity > 0 else 0.0
    loss_hit = loss >= limits.daily_loss_fraction - 1e-12 or "daily loss" in i.tripped_today
    add("daily loss", not loss_hit or reduces, f"{-loss:+.2%}",
        f"-{limits.daily_loss_fraction:.1%}",
        f"daily loss {loss:.2%} of equity reached the {limits.daily_loss_fraction:.1%} limit "
        "(breaker re-arms next trading day; reducing orders still allowed)")
    dd = (i.peak_equity - i.net_liquidation) / i.peak_equity if i.peak_equity > 0 else 0.0
    dd_hit = dd >= limits.max_drawdown_fraction - 1e-12 or "drawdown" in i.tripped_today
    add("drawdown", not dd_hit or reduces, f"{-dd:+.2%} from peak {i.peak_equity:,.0f}",
        f"-{limits.max_drawdown_fraction:.1%}",
        f"drawdown {dd:.2%} from peak equity {i.peak_equity:,.2f} reached the "
        f"{limits.max_drawdown_fraction:.1%} limit (breaker re-arms next trading day; "
        "reducing orders still allowed)")
    if i.limit_price is None or i.mid is None:
        add("price collar", False, "no limit or no quote", f"{limits.price_collar_ticks} ticks",
            "a limit price and a current mid are required (no market orders)")
    else:
        away = abs(i.limit_price - i.mid) / i.tick
        add("price collar", away <= limits.price_collar_ticks + 1e-9,
            f"{away:.1f} ticks from mid {i.mid:g}", f"{limits.price_collar_ticks} ticks",
            f"limit {i.limit_price:g} is {away:.1f} ticks from the mid {i.mid:g}, beyond the "
            f"{limits.price_collar_ticks}-tick collar (fat finger?)")
    dup = i.ref_in_use is not None or i.working_siblings > 0
    add("duplicate order", not dup,
        i.ref_in_use or f"{i.working_siblings} working sibling(s)", "none",
        f"orderRef {i.order_ref} already has a {i.ref_in_use} order" if i.ref_in_use else
        f"parent {i.parent_ref} already has {i.working_siblings} working child order(s)")
    add("orders per cycle", i.orders_this_cycle < limits.max_orders_per_cycle,
        f"{i.orders_this_cycle} sent", f"{limits.max_orders_per_cycle}",
        f"this cycle already sent {i.orders_this_cycle} orders (limit "
        f"{limits.max_orders_per_cycle})")
    add("orders per minute", i.orders_last_minute < limits.max_orders_per_minute,
        f"{i.orders_last_minute} in the last minute", f"{limits.max_orders_per_minute}",
        f"{i.orders_last_minute} orders in the last minute (limit "
        f"{limits.max_orders_per_minute})")
    tripped = frozenset(n for n, hit in (("daily loss", loss_hit), ("drawdown", dd_hit)) if hit)
    return RiskDecision(i.order_ref, all(c.passed for c in checks), tuple(checks),
                        now.isoformat(), tripped)


class RiskGate:
    """Gathers the inputs, decides, journals the decision, and only then places the order."""

    def __init__(self, broker: Broker, journal: Journal, limits: RiskConfig, paths: DataPaths,
                 clock: Clock, cycle_id: str, symbol: str, trade_date: date) -> None:
        self.broker, self.journal, self.limits = broker, journal, limits
        self.paths, self.clock, self.cycle_id = paths, clock, cycle_id
        self.symbol, self.trade_date = symbol, trade_date
        self._allowed: dict[str, tuple[OrderRequest, RiskDecision]] = {}

    def inputs(self, request: OrderRequest, parent_ref: str) -> RiskInputs:
        b = self.broker
        account = b.account_state()
        position = sum(p.quantity for p in b.positions() if p.symbol == request.contract.symbol)
        quote = b.quote(request.contract)
        state = read_state(self.paths)
        peak = self.journal.update_peak_equity(account.net_liquidation, self.trade_date)
        same_ref = [o for o in b.orders(request.order_ref) if o.order_ref == request.order_ref
                    and (not o.is_done or o.filled > 0)]
        siblings = [o for o in b.orders(parent_ref + "-") if not o.is_done
                    and o.order_ref != request.order_ref]
        now = self.clock.now()
        return RiskInputs(
            order_ref=request.order_ref, parent_ref=parent_ref, trade_date=self.trade_date,
            side=request.side, quantity=request.quantity, limit_price=request.limit_price,
            tick=request.contract.tick, point_value=request.contract.point_value,
            mid=quote.mid, position=position, net_liquidation=account.net_liquidation,
            daily_pnl=account.daily_pnl, peak_equity=peak, paused=state.paused,
            paused_reason=state.reason,
            ref_in_use=same_ref[0].status if same_ref else None,
            working_siblings=len(siblings),
            orders_this_cycle=self.journal.child_orders_sent(cycle_id=self.cycle_id),
            orders_last_minute=self.journal.child_orders_sent(
                since=(now - timedelta(seconds=60)).isoformat()),
            tripped_today=self.journal.breakers_tripped(self.trade_date),
        )

    def check(self, request: OrderRequest, parent_ref: str) -> RiskDecision:
        """Decide and journal without sending: the plan's pre-trade view of a parent order."""
        decision = evaluate(self.inputs(request, parent_ref), self.limits, self.clock.now())
        self._record(decision, parent_ref, sent=False)
        return decision

    def decide(self, request: OrderRequest, parent_ref: str) -> RiskDecision:
        """Decide and journal a child order about to be sent (see `send`)."""
        decision = evaluate(self.inputs(request, parent_ref), self.limits, self.clock.now())
        self._record(decision, parent_ref, sent=decision.allowed)
        self._allowed[request.order_ref] = (request, decision)
        return decision

    def send(self, request: OrderRequest, decision: RiskDecision) -> OrderStatus:
        """The one door to the broker: only a request this gate has just allowed goes out."""
        granted = self._allowed.pop(request.order_ref, None)
        if granted is None or granted[0] != request or granted[1] is not decision \
                or not decision.allowed:
            raise RuntimeError(f"order {request.order_ref} was not allowed by the risk gate; "
                               "refusing to send it")
        return self.broker.place_order(request)

    def cancel(self, order_id: str) -> OrderStatus:
        """Cancels are always allowed (also while paused)."""
        return self.broker.cancel_order(order_id)

    def _record(self, decision: RiskDecision, parent_ref: str, sent: bool) -> None:
        if decision.tripped:
            self.journal.trip_breakers(self.trade_date, decision.tripped)
        self.journal.record_risk_decision(
            time=decision.time, cycle_id=self.cycle_id, order_ref=decision.order_ref,
            parent_ref=parent_ref, allowed=decision.allowed, sent=sent,
            checks=json.dumps(decision.as_rows()), reasons="; ".join(decision.reasons))

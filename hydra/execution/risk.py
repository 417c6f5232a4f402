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
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

from hydra.broker.base import Broker
from hydra.config import RiskConfig
from hydra.domain.broker import AccountState, OrderRequest, OrderStatus, Position
from hydra.execution.journal import Journal
from hydra.execution.killswitch import read_state
from hydra.execution.orphan import refuse_if_orphaned
from hydra.paths import DataPaths
from hydra.reference.clock import Clock


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
    position: int  # signed, this market (every contract month), before the order
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
    contract_position: int | None = None  # signed, the order's own contract (None: = position)
    other_gross_notional: float = 0.0  # |qty| x price x point value of every OTHER position


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
    reduces: bool = False

    @property
    def reasons(self) -> list[str]:
        return [c.reason for c in self.checks if not c.passed]

    def as_rows(self) -> list[dict[str, str | bool]]:
        return [asdict(c) for c in self.checks]


def _signed(side: str, qty: int) -> int:
    return qty if side == "BUY" else -qty


def reduces_risk(before: int, side: str, quantity: int) -> bool:
    """An order reduces risk only if it keeps the sign and shrinks the position, or closes it.

    A flip (+2 -> -2, or +2 -> -1) is not a reduction: it opens a new position on the other
    side, so the planner sends it as two legs, close then open.
    """
    if quantity <= 0 or before == 0:
        return False
    after = before + _signed(side, quantity)
    return after == 0 or (after * before > 0 and abs(after) < abs(before))


def _finite(*values: float | None) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def evaluate(i: RiskInputs, limits: RiskConfig, now: datetime) -> RiskDecision:
    """Every check, in a fixed order; the order is allowed only if all pass.

    Exposure, loss and drawdown checks never block an order that reduces risk (see
    `reduces_risk`); the kill switch and the order-hygiene checks (size, collar, duplicates,
    rates) apply to every order. An input that is not a finite number fails its check (a NaN
    compares false with everything, which would otherwise pass it silently).
    """
    held = i.position if i.contract_position is None else i.contract_position
    signed = _signed(i.side, i.quantity)
    after = i.position + signed
    held_after = held + signed
    reduces = reduces_risk(held, i.side, i.quantity)
    price = i.limit_price if i.limit_price is not None else i.mid
    checks: list[Check] = []

    def add(name: str, ok: bool, value: str, limit: str, reason: str) -> None:
        checks.append(Check(name, ok, value, limit, "" if ok else reason))

    add("kill switch", not i.paused, "paused" if i.paused else "trading", "trading",
        f"trading is paused ({i.paused_reason}); `hydra resume` to allow orders")
    add("order size", 0 < i.quantity <= limits.max_order_contracts, f"{i.quantity}",
        f"{limits.max_order_contracts}",
        f"order of {i.quantity} contracts exceeds the {limits.max_order_contracts}-contract limit"
        if i.quantity > 0 else f"order of {i.quantity} contracts: a quantity must be positive")
    add("position", abs(after) <= limits.max_position_contracts or reduces,
        f"{i.position:+d} -> {after:+d}", f"±{limits.max_position_contracts}",
        f"position would be {after:+d}, beyond ±{limits.max_position_contracts} contracts")
    valued = _finite(price, i.point_value, i.net_liquidation, i.other_gross_notional) \
        and i.net_liquidation > 0 and price is not None and price > 0
    if not valued:
        for name, lim in (("position notional", limits.max_notional_fraction),
                          ("gross notional", limits.max_gross_notional_fraction)):
            add(name, reduces, "unknown", f"{lim:.0%}",
                f"no usable price ({price}) or net liquidation ({i.net_liquidation}) to value "
                "the position against")
    else:
        unit = price * i.point_value  # type: ignore[operator]
        frac = abs(after) * unit / i.net_liquidation
        add("position notional", frac <= limits.max_notional_fraction + 1e-12 or reduces,
            f"{frac:.1%} of net liq", f"{limits.max_notional_fraction:.0%}",
            f"position notional would be {frac:.1%} of net liquidation, above "
            f"{limits.max_notional_fraction:.0%}")
        gross = (i.other_gross_notional + abs(held_after) * unit) / i.net_liquidation
        add("gross notional", gross <= limits.max_gross_notional_fraction + 1e-12 or reduces,
            f"{gross:.1%} of net liq", f"{limits.max_gross_notional_fraction:.0%}",
            f"gross notional of every position at the broker would be {gross:.1%} of net "
            f"liquidation, above {limits.max_gross_notional_fraction:.0%}")
    start_equity = i.net_liquidation - i.daily_pnl
    known = _finite(i.net_liquidation, i.daily_pnl) and start_equity > 0
    loss = -i.daily_pnl / start_equity if known else math.inf
    loss_hit = loss >= limits.daily_loss_fraction - 1e-12 or "daily loss" in i.tripped_today
    add("daily loss", not loss_hit or reduces,
        f"{-loss:+.2%}" if known else "unknown", f"-{limits.daily_loss_fraction:.1%}",
        (f"daily loss {loss:.2%} of equity reached the {limits.daily_loss_fraction:.1%} limit"
         if known else f"daily P&L {i.daily_pnl} / net liquidation {i.net_liquidation} "
         "unusable: the loss limit cannot be checked")
        + " (breaker re-arms next trading day; reducing orders still allowed)")
    dd_known = _finite(i.peak_equity, i.net_liquidation) and i.peak_equity > 0
    dd = (i.peak_equity - i.net_liquidation) / i.peak_equity if dd_known else math.inf
    dd_hit = dd >= limits.max_drawdown_fraction - 1e-12 or "drawdown" in i.tripped_today
    add("drawdown", not dd_hit or reduces,
        f"{-dd:+.2%} from peak {i.peak_equity:,.0f}" if dd_known else "unknown",
        f"-{limits.max_drawdown_fraction:.1%}",
        (f"drawdown {dd:.2%} from peak equity {i.peak_equity:,.2f} reached the "
         f"{limits.max_drawdown_fraction:.1%} limit" if dd_known else
         f"peak equity {i.peak_equity} unusable: the drawdown limit cannot be checked")
        + " (breaker re-arms next trading day; reducing orders still allowed)")
    if i.limit_price is None or i.mid is None or not _finite(i.limit_price, i.mid, i.tick) \
            or i.tick <= 0:
        add("price collar", False, "no limit or no quote", f"{limits.price_collar_ticks} ticks",
            "a finite limit price and a current mid are required (no market orders)")
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
    tripped = frozenset(n for n, hit in (("daily loss", loss_hit and known),
                                         ("drawdown", dd_hit and dd_known)) if hit)
    return RiskDecision(i.order_ref, all(c.passed for c in checks), tuple(checks),
                        now.isoformat(), tripped, reduces)


@dataclass(frozen=True)
class Projection:
    """Positions as they will be when a planned leg is sent (after the legs before it)."""

    market_position: int
    contract_position: int
    other_gross_notional: float


@dataclass(frozen=True)
class GateView:
    """One reading of the broker, the journal and the kill switch: what a decision is made from."""

    account: AccountState
    positions: tuple[Position, ...]
    orders: tuple[OrderStatus, ...]  # the broker's orders under the prefix read (this cycle's)
    paused: bool
    paused_reason: str
    peak_equity: float
    orders_this_cycle: int
    orders_last_minute: int
    tripped_today: frozenset[str]
    now: datetime


def projection(positions: Sequence[Position], con_id: int, symbol: str,
               planned: dict[int, int] | None = None) -> Projection:
    """Positions at the broker, with `planned` (con_id -> signed quantity) applied first."""
    held: dict[int, tuple[str, int, float]] = {
        p.con_id: (p.symbol, p.quantity, p.market_price * p.point_value) for p in positions}
    for cid, qty in (planned or {}).items():
        sym, q, unit = held.get(cid, (symbol, 0, 0.0))
        held[cid] = (sym, q + qty, unit)
    return Projection(
        market_position=sum(q for sym, q, _ in held.values() if sym == symbol),
        contract_position=held.get(con_id, (symbol, 0, 0.0))[1],
        other_gross_notional=sum(abs(q) * unit for cid, (_, q, unit) in held.items()
                                 if cid != con_id and q))


def _common_prefix(a: str, b: str) -> str:
    """The longest text both start with: one broker query covers an order and its siblings."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def risk_inputs(view: GateView, request: OrderRequest, parent_ref: str, mid: float | None,
                trade_date: date, planned: dict[int, int] | None = None) -> RiskInputs:
    """The inputs of one decision, from a reading of the gate's sources (pure)."""
    proj = projection(view.positions, request.contract.con_id, request.contract.symbol, planned)
    same_ref = [o for o in view.orders if o.order_ref == request.order_ref
                and (not o.is_done or o.filled > 0)]
    siblings = [o for o in view.orders if o.order_ref.startswith(parent_ref + "-")
                and not o.is_done and o.order_ref != request.order_ref]
    account = view.account
    return RiskInputs(
        order_ref=request.order_ref, parent_ref=parent_ref, trade_date=trade_date,
        side=request.side, quantity=request.quantity, limit_price=request.limit_price,
        tick=request.contract.tick, point_value=request.contract.point_value,
        mid=mid, position=proj.market_position,
        net_liquidation=account.net_liquidation,
        daily_pnl=account.daily_pnl, peak_equity=view.peak_equity, paused=view.paused,
        paused_reason=view.paused_reason,
        ref_in_use=same_ref[0].status if same_ref else None,
        working_siblings=len(siblings),
        orders_this_cycle=view.orders_this_cycle,
        orders_last_minute=view.orders_last_minute,
        tripped_today=view.tripped_today,
        contract_position=proj.contract_position,
        other_gross_notional=proj.other_gross_notional,
    )


class RiskGate:
    """Gathers the inputs, decides, journals the decision, and only then places the order."""

    def __init__(self, broker: Broker, journal: Journal, limits: RiskConfig, paths: DataPaths,
                 clock: Clock, cycle_id: str, symbol: str, trade_date: date) -> None:
        self.broker, self.journal, self.limits = broker, journal, limits
        self.paths, self.clock, self.cycle_id = paths, clock, cycle_id
        self.symbol, self.trade_date = symbol, trade_date
        self._allowed: dict[str, tuple[OrderRequest, RiskDecision]] = {}

    def view(self, ref_prefix: str, *, persist_peak: bool = True) -> GateView:
        """One reading of everything the gate decides from. `persist_peak=False` reads the
        drawdown peak without moving it (a plan's pre-trade view writes nothing)."""
        b = self.broker
        account = b.account_state()
        state = read_state(self.paths)
        nl = account.net_liquidation
        # an unusable equity must not move the peak; NaN makes the drawdown check block
        if math.isfinite(nl) and nl > 0:
            peak = self.journal.update_peak_equity(nl, self.trade_date) if persist_peak \
                else self.journal.peak_equity_after(nl, self.trade_date)
        else:
            peak = math.nan
        now = self.clock.now()
        return GateView(
            account=account, positions=tuple(b.positions()),
            orders=tuple(b.orders(ref_prefix or None)),
            paused=state.paused, paused_reason=state.reason, peak_equity=peak,
            orders_this_cycle=self.journal.child_orders_sent(cycle_id=self.cycle_id),
            orders_last_minute=self.journal.child_orders_sent(
                since=(now - timedelta(seconds=60)).isoformat()),
            tripped_today=self.journal.breakers_tripped(self.trade_date), now=now)

    def inputs(self, request: OrderRequest, parent_ref: str,
               planned: dict[int, int] | None = None) -> RiskInputs:
        quote = self.broker.quote(request.contract)
        view = self.view(_common_prefix(request.order_ref, parent_ref + "-"))
        return risk_inputs(view, request, parent_ref, quote.mid, self.trade_date, planned)

    def check(self, request: OrderRequest, parent_ref: str,
              planned: dict[int, int] | None = None) -> RiskDecision:
        """Decide and journal without sending: the plan's pre-trade view of a leg, against the
        position projected after the legs planned before it (`planned`)."""
        decision = evaluate(self.inputs(request, parent_ref, planned), self.limits,
                            self.clock.now())
        self.record(decision, parent_ref, sent=False)
        return decision

    def decide(self, request: OrderRequest, parent_ref: str) -> RiskDecision:
        """Decide and journal a child order about to be sent (see `send`)."""
        decision = evaluate(self.inputs(request, parent_ref), self.limits, self.clock.now())
        self.record(decision, parent_ref, sent=decision.allowed)
        self._allowed[request.order_ref] = (request, decision)
        return decision

    def send(self, request: OrderRequest, decision: RiskDecision) -> OrderStatus:
        """The one door to the broker: only a request this gate has just allowed goes out."""
        refuse_if_orphaned()  # a kernel whose `hydra run` died sends nothing more
        granted = self._allowed.pop(request.order_ref, None)
        if granted is None or granted[0] != request or granted[1] is not decision \
                or not decision.allowed:
            raise RuntimeError(f"order {request.order_ref} was not allowed by the risk gate; "
                               "refusing to send it")
        return self.broker.place_order(request)

    def cancel(self, order_id: str) -> OrderStatus:
        """Cancels are always allowed (also while paused)."""
        return self.broker.cancel_order(order_id)

    def record(self, decision: RiskDecision, parent_ref: str, sent: bool) -> None:
        """Journal a decision, tripping the breakers it reached (the acting step calls this for
        a plan's pre-trade views; `check` and `decide` for their own)."""
        if decision.tripped:
            self.journal.trip_breakers(self.trade_date, decision.tripped)
        self.journal.record_risk_decision(
            time=decision.time, cycle_id=self.cycle_id, order_ref=decision.order_ref,
            parent_ref=parent_ref, allowed=decision.allowed, sent=sent,
            checks=json.dumps(decision.as_rows()), reasons="; ".join(decision.reasons))

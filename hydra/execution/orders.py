"""The order manager: limit-patience and TWAP, written against a clock.

The simulator's clock jumps and IB's wall clock waits, so the same code runs instantly in
replays and tests and in real time against IB. Every child order goes through the risk gate,
carries an orderRef naming cycle, parent, slice and attempt (HYD-ZO-20261124-1-s2-a1), and is
journaled before it is sent. A child is always cancelled (and the cancel confirmed) before its
replacement is sent, and the replacement is sized from the parent's confirmed fills, so a
parent can never be over-filled. Rejected or externally cancelled children stop the parent at
once instead of waiting out the patience.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hydra.broker.base import Broker
from hydra.config import ExecutionConfig
from hydra.domain.broker import BrokerError, ContractDetails, OrderRequest, OrderStatus, Quote, Side
from hydra.domain.outcomes import LegOutcome, leg_outcome
from hydra.execution.journal import ChildRecord, Journal
from hydra.execution.risk import RiskGate
from hydra.faults import kill_point
from hydra.reference.clock import Clock

LIMIT_PATIENCE = "limit-patience"
CANCEL_ATTEMPTS = 3  # cancels sent before an unconfirmed one stops the parent
TWAP = "twap"


# ------------------------------------------------------------------------------ pure maths
def choose_route(quantity: int, adv: float, threshold: float) -> str:
    """Participation (size / ADV) at or above the threshold is sliced; below it is not."""
    if adv <= 0:
        return TWAP
    return TWAP if quantity / adv >= threshold else LIMIT_PATIENCE


def twap_sizes(quantity: int, slices: int) -> list[int]:
    """Split into at most `slices` parts that differ by at most one; never a zero slice."""
    if quantity <= 0:
        return []
    n = max(1, min(slices, quantity))
    base, extra = divmod(quantity, n)
    return [base + (1 if i < extra else 0) for i in range(n)]


def round_price(price: float, tick: float, side: Side) -> float:
    """Nearest tick of the contract's own grid; an exact tie goes to the passive side."""
    units = price / tick
    lower = math.floor(units + 1e-9)
    frac = units - lower
    if abs(frac - 0.5) < 1e-9:
        n = lower if side == "BUY" else lower + 1  # BUY rounds down, SELL up: passive
    else:
        n = lower + (1 if frac > 0.5 else 0)
    decimals = max(0, -math.floor(math.log10(tick)) + 2)
    return round(n * tick, decimals)


def limit_for_step(quote: Quote, side: Side, tick: float, start: str, step: int,
                   reprice_ticks: int) -> float:
    """Step 0 is passive (mid or near touch); each step moves whole ticks toward the far
    touch, never beyond it."""
    assert quote.bid is not None and quote.ask is not None
    buy = side == "BUY"
    near, far = (quote.bid, quote.ask) if buy else (quote.ask, quote.bid)
    base = round_price((quote.bid + quote.ask) / 2, tick, side) if start == "mid" else near
    moved = base + (1 if buy else -1) * step * reprice_ticks * tick
    capped = min(moved, far) if buy else max(moved, far)
    return round_price(capped, tick, side)


def far_touch(quote: Quote, side: Side) -> float:
    assert quote.bid is not None and quote.ask is not None
    return quote.ask if side == "BUY" else quote.bid


# ------------------------------------------------------------------------------ outcomes
@dataclass(frozen=True)
class ParentOrder:
    order_ref: str
    purpose: str
    contract: ContractDetails
    side: Side
    quantity: int


@dataclass(frozen=True)
class QuoteSample:
    time: datetime
    bid: float | None
    ask: float | None


@dataclass
class ChildOutcome:
    child_ref: str
    slice: int
    attempt: int
    quantity: int
    limit_price: float
    sent_at: datetime
    status: str
    filled: int = 0
    avg_fill_price: float | None = None
    message: str = ""
    order_id: str | None = None
    ended_at: datetime | None = None  # when the broker said it was done (or we last saw it)


@dataclass
class ParentOutcome:
    parent: ParentOrder
    route: str
    participation: float
    started_at: datetime
    children: list[ChildOutcome] = field(default_factory=list)
    quotes: list[QuoteSample] = field(default_factory=list)
    status: LegOutcome = LegOutcome.NOT_SENT  # set when the manager is done with the parent
    message: str = ""
    ended_at: datetime | None = None

    @property
    def filled(self) -> int:
        return sum(c.filled for c in self.children)

    @property
    def avg_fill_price(self) -> float | None:
        n = self.filled
        if not n:
            return None
        return sum((c.avg_fill_price or 0.0) * c.filled for c in self.children) / n


class _Stop(Exception):
    """Stop working this parent (blocked, rejected, or a cancel that was not confirmed)."""

    def __init__(self, status: LegOutcome, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


# ------------------------------------------------------------------------------ manager
class OrderManager:
    def __init__(self, broker: Broker, gate: RiskGate, journal: Journal, clock: Clock,
                 cfg: ExecutionConfig, cycle_id: str, on_poll: Callable[[], object],
                 session_end: datetime | None) -> None:
        self.broker, self.gate, self.journal, self.clock = broker, gate, journal, clock
        self.cfg, self.cycle_id, self.on_poll = cfg, cycle_id, on_poll
        self.session_end = session_end
        self.current: ParentOutcome | None = None  # the parent being worked (see `work`)

    # time ------------------------------------------------------------------------------
    def _hard_stop(self) -> datetime:
        """Orders stop being worked this long before the session closes."""
        far = self.clock.now() + timedelta(days=1)
        if self.session_end is None:
            return far
        return self.session_end - timedelta(seconds=self.cfg.close_buffer_seconds)

    def _sleep_until(self, when: datetime) -> None:
        left = (when - self.clock.now()).total_seconds()
        if left > 0:
            self.clock.sleep(left)

    # the parent ------------------------------------------------------------------------
    def work(self, parent: ParentOrder, adv: float) -> ParentOutcome:
        """Work one parent to its end. On ANY exit (an exception included) no child of it is
        left working: the manager cancels and confirms, or records loudly that it could not.
        `self.current` holds the outcome in progress, so a caller can record the parent even
        when this raises."""
        route = choose_route(parent.quantity, adv, self.cfg.twap_participation)
        outcome = ParentOutcome(parent, route, parent.quantity / adv if adv > 0 else math.inf,
                                self.clock.now())
        self.current = outcome
        try:
            if route == TWAP:
                self._twap(parent, outcome)
            else:
                end = min(self._hard_stop(), self.clock.now() + timedelta(
                    seconds=self.cfg.wait_seconds * (self.cfg.max_reprices + 1)
                    + self.cfg.cross_wait_seconds))
                self._limit_patience(parent, outcome, parent.quantity, 1, end,
                                     self.cfg.wait_seconds)
            filled = outcome.filled
            outcome.status = leg_outcome(filled, parent.quantity, None)
            if filled < parent.quantity and not outcome.message:
                outcome.message = (f"{parent.quantity - filled} of {parent.quantity} not filled "
                                   "by the end of the window; leftovers cancelled")
        except _Stop as stop:
            outcome.status = leg_outcome(outcome.filled, parent.quantity, stop.status)
            outcome.message = stop.message
        except BaseException as exc:
            self._abandon(outcome, exc)
            raise
        self.on_poll()
        outcome.ended_at = self.clock.now()
        return outcome

    def _abandon(self, outcome: ParentOutcome, exc: BaseException) -> None:
        """An exception while working: cancel every child still working, confirm, and make
        the outcome say what the broker says. Each step is guarded: a broken broker or journal
        must not hide the original error, and a cancel that cannot be confirmed is said."""
        notes: list[str] = []
        for child in outcome.children:
            try:
                if child.order_id is None:  # sent, but the reply never came: find it by ref
                    found = [o for o in self.broker.orders(child.child_ref)
                             if o.order_ref == child.child_ref]
                    if not found:
                        continue
                    child.order_id = found[0].order_id
                status = self.broker.order_status(child.order_id)
                if not status.is_done:
                    status = self.gate.cancel(child.order_id)
                    deadline = self.clock.now() + timedelta(
                        seconds=self.cfg.cancel_timeout_seconds)
                    while not status.is_done and self.clock.now() < deadline:
                        self.clock.sleep(min(self.cfg.poll_seconds, 1.0))
                        status = self.broker.order_status(child.order_id)
                    notes.append(f"{child.child_ref} cancelled ({status.status})"
                                 if status.is_done else
                                 f"{child.child_ref} CANCEL NOT CONFIRMED (status {status.status})"
                                 ": check it at the broker")
                child.status, child.filled = status.status, status.filled
                child.avg_fill_price = status.avg_fill_price
            except Exception as err:  # the broker itself may be what failed
                notes.append(f"{child.child_ref}: could not confirm it is not working ({err}): "
                             "CHECK IT AT THE BROKER")
            try:
                self.journal.update_child(child.child_ref, status=child.status,
                                          filled=child.filled,
                                          avg_fill_price=child.avg_fill_price,
                                          message=child.message, broker_order_id=child.order_id)
            except Exception as err:
                notes.append(f"{child.child_ref}: journal not updated ({err})")
        try:
            self.on_poll()
        except Exception as err:
            notes.append(f"fills not synced ({err})")
        outcome.status = LegOutcome.ERROR
        outcome.message = (f"stopped by {type(exc).__name__}: {exc}; "
                           f"{outcome.filled} of {outcome.parent.quantity} filled"
                           + ("; " + "; ".join(notes) if notes else ""))
        try:
            outcome.ended_at = self.clock.now()
        except Exception:
            outcome.ended_at = outcome.started_at

    def _twap(self, parent: ParentOrder, outcome: ParentOutcome) -> None:
        sizes = twap_sizes(parent.quantity, self.cfg.twap_slices)
        start = self.clock.now()
        end = min(self._hard_stop(), start + timedelta(seconds=self.cfg.twap_window_seconds))
        if end <= start:
            raise _Stop(LegOutcome.UNFILLED, "no time left in the session to work a TWAP")
        interval = (end - start) / len(sizes)
        per_step = min(self.cfg.wait_seconds,
                       interval.total_seconds() / (self.cfg.max_reprices + 2))
        target = 0
        for k, size in enumerate(sizes, start=1):
            target += size
            self._sleep_until(start + interval * (k - 1))
            qty = target - outcome.filled  # carries an earlier slice's shortfall forward
            if qty <= 0:
                continue
            if k > 1:
                kill_point("between_slices")
            self._limit_patience(parent, outcome, qty, k, start + interval * k, per_step)

    def _limit_patience(self, parent: ParentOrder, outcome: ParentOutcome, quantity: int,
                        slice_no: int, deadline: datetime, wait: float) -> None:
        """Passive first, reprice toward the far touch on fresh quotes, cross or cancel."""
        c, side, cfg = parent.contract, parent.side, self.cfg
        goal = outcome.filled + quantity
        cross_reserve = timedelta(seconds=cfg.cross_wait_seconds if cfg.at_end == "cross" else 0)
        for step in range(cfg.max_reprices + 1):
            remaining = goal - outcome.filled
            now = self.clock.now()
            if remaining <= 0 or now >= deadline - cross_reserve:
                break
            quote = self._quote(parent, outcome)
            price = limit_for_step(quote, side, c.tick, cfg.start, step, cfg.reprice_ticks)
            until = min(now + timedelta(seconds=wait), deadline - cross_reserve)
            self._child(parent, outcome, slice_no, remaining, price, quote, until)
        remaining = goal - outcome.filled
        if remaining > 0 and cfg.at_end == "cross" and self.clock.now() < deadline:
            quote = self._quote(parent, outcome)
            until = min(self.clock.now() + timedelta(seconds=cfg.cross_wait_seconds), deadline)
            self._child(parent, outcome, slice_no, remaining, far_touch(quote, side), quote,
                        until)

    # one child order -------------------------------------------------------------------
    def _quote(self, parent: ParentOrder, outcome: ParentOutcome) -> Quote:
        q = self.broker.quote(parent.contract)
        outcome.quotes.append(QuoteSample(self.clock.now(), q.bid, q.ask))
        if q.mid is None:
            raise _Stop(LegOutcome.UNFILLED, f"no usable quote for {parent.contract.local_symbol}: "
                        f"{q.problem}; nothing more sent")
        return q

    def _child(self, parent: ParentOrder, outcome: ParentOutcome, slice_no: int,
               quantity: int, price: float, quote: Quote, until: datetime) -> None:
        attempt = 1 + sum(1 for ch in outcome.children if ch.slice == slice_no)
        ref = f"{parent.order_ref}-s{slice_no}-a{attempt}"
        request = OrderRequest(contract=parent.contract, side=parent.side, quantity=quantity,
                               order_type="LMT", limit_price=price, order_ref=ref)
        decision = self.gate.decide(request, parent.order_ref)
        if not decision.allowed:
            raise _Stop(LegOutcome.BLOCKED,
                        f"risk gate blocked {ref}: " + "; ".join(decision.reasons))
        now = self.clock.now()
        self.journal.record_child(ChildRecord(
            child_ref=ref, parent_ref=parent.order_ref, cycle_id=self.cycle_id, slice=slice_no,
            attempt=attempt, side=parent.side, quantity=quantity, limit_price=price,
            bid=quote.bid, ask=quote.ask, mid=quote.mid, broker_order_id=None,
            status="PendingSubmit", filled=0, avg_fill_price=None, sent_at=now.isoformat(),
            updated_at=now.isoformat()))
        child = ChildOutcome(ref, slice_no, attempt, quantity, price, now, "PendingSubmit")
        outcome.children.append(child)
        status = self.gate.send(request, decision)
        kill_point("after_child_sent")
        self._note(child, status)
        status = self._await(status, until, parent, outcome)
        self._note(child, status)
        if status.status == "Inactive":
            raise _Stop(LegOutcome.REJECTED, f"broker rejected {ref}: {status.message}")
        if not status.is_done:
            status = self._cancel(status, parent, outcome)
            self._note(child, status)
        elif status.status in ("Cancelled", "ApiCancelled") and status.remaining > 0:
            raise _Stop(LegOutcome.CANCELLED,
                        f"{ref} was cancelled outside Hydra: {status.message}")

    def _note(self, child: ChildOutcome, status: OrderStatus) -> None:
        child.order_id = status.order_id
        child.ended_at = self.clock.now()  # last seen working, or when it was done
        child.status, child.filled = status.status, status.filled
        child.avg_fill_price, child.message = status.avg_fill_price, status.message
        self.journal.update_child(child.child_ref, status=status.status, filled=status.filled,
                                  avg_fill_price=status.avg_fill_price, message=status.message,
                                  broker_order_id=status.order_id)

    def _await(self, status: OrderStatus, until: datetime, parent: ParentOrder,
               outcome: ParentOutcome) -> OrderStatus:
        """Poll until done or `until`; fills are journaled on every poll."""
        while not status.is_done and self.clock.now() < until:
            step = min(self.cfg.poll_seconds, (until - self.clock.now()).total_seconds())
            self.clock.sleep(max(step, 0.001))
            status = self.broker.order_status(status.order_id)
            self.on_poll()
            q = self.broker.quote(parent.contract)
            outcome.quotes.append(QuoteSample(self.clock.now(), q.bid, q.ask))
        return status

    def _cancel(self, status: OrderStatus, parent: ParentOrder, outcome: ParentOutcome
                ) -> OrderStatus:
        """Cancel and wait (bounded) for the broker to confirm; fills during it still count.

        A cancel sent while the link was down (a gateway restart, IB 1100) may never arrive, so
        an unconfirmed cancel is sent again, up to CANCEL_ATTEMPTS times, each after a
        reconnect if one is needed, before the parent stops with the order named."""
        order_id, last_error = status.order_id, ""
        for _ in range(CANCEL_ATTEMPTS):
            try:
                status = self.gate.cancel(order_id)
                deadline = self.clock.now() + timedelta(seconds=self.cfg.cancel_timeout_seconds)
                status = self._await(status, deadline, parent, outcome)
            except BrokerError as exc:  # the broker is away: wait and try again
                last_error = f"; last error: {exc}"
                self.clock.sleep(min(self.cfg.cancel_timeout_seconds, 5.0))
                continue
            if status.is_done:
                return status
        raise _Stop(LegOutcome.ERROR, f"cancel of {status.order_ref} not confirmed after "
                    f"{CANCEL_ATTEMPTS} attempts of {self.cfg.cancel_timeout_seconds:g} s "
                    f"(status {status.status}){last_error}; not sending more for this order: "
                    "check it at the broker")

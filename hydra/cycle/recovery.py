"""Resuming an interrupted run of a cycle (part of step 1, the step that reconciles with the
broker): every fill the journal lacks is journaled, any child left working is cancelled (and the
cancel confirmed), and each parent's journal row is made to say what the broker says. The plan
(step 4) then computes from what this found, writing nothing itself."""

from __future__ import annotations

import re
from datetime import timedelta

from hydra.cycle.context import Cycle, PriorOrder, Recovery, risk_gate, sync_fills
from hydra.domain.fills import latest_per_stem
from hydra.domain.outcomes import LegOutcome, leg_outcome


def prior_orders(cyc: Cycle) -> list[PriorOrder]:
    """Everything this cycle already sent, as the broker and the journal know it."""
    found: dict[str, PriorOrder] = {}
    for o in cyc.broker.orders(cyc.ref_prefix):
        found[o.order_ref] = PriorOrder(o.order_ref, o.status, o.side, o.quantity, o.filled,
                                        o.avg_fill_price, o.local_symbol, "broker")
    for row in cyc.journal.orders_for_cycle(cyc.cycle_id):
        if not any(ref.startswith(row["order_ref"]) for ref in found):
            found[row["order_ref"]] = PriorOrder(
                row["order_ref"], row["status"], row["side"], row["quantity"], row["filled"],
                row["avg_fill_price"], row["local_symbol"], "journal")
    return sorted(found.values(), key=lambda p: p.order_ref)


_ATTEMPT = re.compile(r"-a(\d+)-\d+$")


def _attempt_of(ref: str, prefix: str) -> int:
    m = _ATTEMPT.search(ref[len(prefix) - 1:])
    return int(m[1]) if m else 1


def recover(cyc: Cycle, prior: list[PriorOrder]) -> Recovery:
    """Reconcile with the broker before re-planning a cycle that already sent orders: journal
    every fill the journal lacks, cancel (and confirm) any child still working, and make each
    parent's journal row say what the broker says."""
    sync_fills(cyc)
    gate = risk_gate(cyc)  # cancels pass the gate, also while paused
    cancelled, unconfirmed = [], []
    for o in cyc.broker.orders(cyc.ref_prefix):
        if o.is_done:
            continue
        if cyc.params.dry_run:  # a dry run changes nothing at the broker, cancels included
            unconfirmed.append(o.order_ref)
            continue
        status = gate.cancel(o.order_id)
        deadline = cyc.clock.now() + timedelta(
            seconds=cyc.config.execution.cancel_timeout_seconds)
        while not status.is_done and cyc.clock.now() < deadline:
            cyc.clock.sleep(min(cyc.config.execution.poll_seconds, 1.0))
            status = cyc.broker.order_status(o.order_id)
        (cancelled if status.is_done else unconfirmed).append(o.order_ref)
        if cyc.journal.child(o.order_ref):
            cyc.journal.update_child(o.order_ref, status=status.status, filled=status.filled,
                                     avg_fill_price=status.avg_fill_price,
                                     message="cancelled on rerun: left working by an "
                                             "interrupted run", broker_order_id=status.order_id)
    sync_fills(cyc)
    parents = cyc.journal.orders_for_cycle(cyc.cycle_id)
    execs = cyc.broker.executions(cyc.ref_prefix)
    for row in parents:
        mine = latest_per_stem([e for e in execs if e.order_ref.startswith(row["order_ref"] + "-")
                                or e.order_ref == row["order_ref"]], lambda e: e.exec_id)
        filled = sum(e.quantity for e in mine)
        if row["status"] == "working" or row["filled"] != filled:
            avg = sum(e.price * e.quantity for e in mine) / filled if filled else None
            outcome = leg_outcome(filled, row["quantity"], LegOutcome.UNFILLED)
            cyc.journal.update_order(row["order_ref"], status=str(outcome), filled=filled,
                                     avg_fill_price=avg,
                                     message=(row["message"] or "") + " [interrupted; "
                                     "recovered from the broker on rerun]")
    attempts = [_attempt_of(p.order_ref, cyc.ref_prefix) for p in prior] or [0]
    recorded = cyc.journal.target_for(cyc.cycle_id)
    first = [r for r in parents if _attempt_of(r["order_ref"], cyc.ref_prefix) == 1]
    return Recovery(
        attempt=max(attempts) + 1,
        filled_before=sum(e.quantity for e in latest_per_stem(execs, lambda e: e.exec_id)),
        planned_before=sum(r["quantity"] for r in first),
        cancelled=tuple(cancelled), unconfirmed=tuple(unconfirmed),
        target=int(recorded["target"]) if recorded else None)


def resume_interrupted(cyc: Cycle) -> Recovery | None:
    """Recover an earlier run of this cycle if one got as far as sending (None: none did)."""
    prior = prior_orders(cyc)
    # a target on record means an earlier run of this cycle got as far as sending: resume it
    on_record = cyc.journal.target_for(cyc.cycle_id) is not None
    return recover(cyc, prior) if prior or on_record else None

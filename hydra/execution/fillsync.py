"""Bring the fill journal up to date with the broker's executions (idempotent by exec id).

Run at the start of every cycle, after every execution poll, and by `hydra sync-fills`: a
fill that arrived late, or while nobody was listening, is journaled by the next sweep.
"""

from __future__ import annotations

import re
from datetime import datetime

from hydra.broker.base import Broker
from hydra.domain.broker import Execution
from hydra.execution import slippage
from hydra.execution.journal import FillRecord, Journal
from hydra.faults import kill_point

HYDRA_PREFIX = "HYD-"
_REF = re.compile(r"^HYD-(?P<market>[A-Z0-9]+)-(?P<day>\d{8})-")


def cycle_of(order_ref: str) -> tuple[str, str] | None:
    """(cycle_id, as_of) encoded in a Hydra orderRef, e.g. HYD-ZO-20261124-1."""
    m = _REF.match(order_ref)
    if not m:
        return None
    day = datetime.strptime(m["day"], "%Y%m%d").date()
    return f"{m['market']}-{m['day']}", day.isoformat()


def fill_record(broker: Broker, journal: Journal, ex: Execution) -> FillRecord:
    """A fill with its context: the child order that got it and the parent it belongs to."""
    child = journal.child(ex.order_ref) or {}
    parent = journal.order(child.get("parent_ref") or ex.order_ref) or {}
    ids = cycle_of(ex.order_ref)
    cycle_id = parent.get("cycle_id") or (ids[0] if ids else "unknown")
    as_of = parent.get("as_of") or (ids[1] if ids else ex.time.date().isoformat())
    contract = broker.contract_by_local_symbol(ex.local_symbol)
    arrival = parent.get("arrival_mid")
    pred = parent.get("predicted_slippage_price")
    units = {"tick": contract.tick, "point_value": contract.point_value,
             "quantity": ex.quantity}
    pred_u = (slippage.in_units(pred, reference_price=arrival, **units)
              if pred is not None and arrival else None)
    act_u = (slippage.in_units(slippage.actual_price(ex.side, ex.price, arrival),
                               reference_price=arrival, **units) if arrival else None)
    sent = child.get("sent_at") or parent.get("sent_at")
    latency = (ex.time - datetime.fromisoformat(sent)).total_seconds() * 1000 if sent else None
    return FillRecord(
        exec_id=ex.exec_id, order_ref=ex.order_ref, parent_ref=parent.get("order_ref"),
        cycle_id=cycle_id, as_of=as_of, symbol=ex.symbol, local_symbol=ex.local_symbol,
        side=ex.side, quantity=ex.quantity, price=ex.price, fill_time=ex.time.isoformat(),
        route=parent.get("route", "unknown"), slice=int(child.get("slice") or 0),
        decision_mid=parent.get("decision_mid"), arrival_mid=arrival, tick=contract.tick,
        point_value=contract.point_value,
        predicted_price=pred_u.price if pred_u else None,
        predicted_ticks=pred_u.ticks if pred_u else None,
        predicted_bps=pred_u.bps if pred_u else None,
        predicted_usd=pred_u.dollars if pred_u else None,
        actual_price=act_u.price if act_u else None,
        actual_ticks=act_u.ticks if act_u else None,
        actual_bps=act_u.bps if act_u else None,
        actual_usd=act_u.dollars if act_u else None,
        commission=ex.commission, latency_ms=latency, broker=broker.kind,
        account_id=ex.account_id,
    )


def sync_fills(broker: Broker, journal: Journal, prefix: str = HYDRA_PREFIX,
               since: datetime | None = None) -> int:
    """Journal every execution with `prefix` that the journal lacks; returns how many."""
    new = 0
    for ex in broker.executions(prefix, since=since):
        # nothing to add: skip before building the record (a contract lookup on IB)
        if journal.fill_is_complete(ex.exec_id) or (
                ex.commission is None and journal.has_fill(ex.exec_id)):
            continue
        record = fill_record(broker, journal, ex)
        kill_point("before_fill_journaled")
        new += journal.record_fill(record)
    return new


"""Step 7: the summary. The run's record as plain values (glued as the `summary` scrap, copied
into the run index) and the one line the CLI prints."""

from __future__ import annotations

from typing import Any

import pandas as pd

from hydra import __version__
from hydra.cycle.account import AccountCheck
from hydra.cycle.context import Cycle, market_positions
from hydra.cycle.maintain import ModelStatus
from hydra.cycle.plan import OrderPlan, beyond_dry_run
from hydra.cycle.signal import SignalResult
from hydra.cycle.trade import ExecutionResult, unsent_leg
from hydra.domain.outcomes import LegOutcome, cycle_status
from hydra.faults import kill_point


def summarize(cyc: Cycle, check: AccountCheck, model: ModelStatus, sig: SignalResult,
              plan: OrderPlan, result: ExecutionResult, fills: pd.DataFrame) -> dict[str, Any]:
    """The run's record as plain Python values (glued as the `summary` scrap)."""
    kill_point("during_summary")
    after = sum(p.quantity for p in market_positions(cyc))
    account = cyc.broker.account_state()
    legs = result.legs or [unsent_leg(leg, LegOutcome.NOT_SENT, leg.reason) for leg in plan.legs]
    status = cycle_status(
        [leg.outcome for leg in legs], int(fills["quantity"].sum()) if len(fills) else 0,
        already_done=plan.already_done, dry_run=cyc.params.dry_run,
        blocked=beyond_dry_run(plan.blocked))

    def num(col: str) -> float | None:
        if not len(fills) or fills[col].isna().all():
            return None
        return float(fills[col].sum())

    return {
        "as_of": cyc.params.as_of.isoformat(),
        "market": cyc.market.symbol,
        "contract": sig.contract.local_symbol,
        "cycle_id": cyc.cycle_id,
        "run_id": cyc.params.run_id,
        "broker": cyc.broker.kind,
        "account_id": check.account_id,
        "mode": cyc.safety.mode,
        "safety": cyc.safety.reason,
        "status": str(status),
        "signal": sig.signal.label,
        "signal_score": float(sig.signal.score),
        "model": sig.signal.model,
        "model_action": model.action,
        "target_position": int(plan.target_position),
        "position_before": int(plan.position_before),
        "position_after": int(after),
        "orders_sent": int(result.orders_sent),
        "child_orders": int(result.child_orders),
        "routes": [o.route for o in result.outcomes],
        "order_outcomes": [f"{o.parent.order_ref} {o.status}: {o.message}".strip(": ")
                           for o in result.outcomes],
        "legs": [leg.as_dict() for leg in legs],
        "resume": (plan.resume.note(sum(r.intent.quantity for r in legs if r.outcome.sent))
                   if plan.resume is not None and plan.legs else None),
        "fills": len(fills),
        "filled_contracts": int(fills["quantity"].sum()) if len(fills) else 0,
        "avg_fill_price": (float((fills["price"] * fills["quantity"]).sum()
                                 / fills["quantity"].sum()) if len(fills) else None),
        "slippage_ticks": (float((fills["actual_ticks"] * fills["quantity"]).sum()
                                 / fills["quantity"].sum())
                           if len(fills) and not fills["actual_ticks"].isna().any() else None),
        "slippage_usd": num("actual_usd"),
        "predicted_slippage_usd": num("predicted_usd"),
        "commission": num("commission"),
        "blocked": list(plan.blocked),
        "already_done": plan.already_done,
        "dry_run": cyc.params.dry_run,
        "net_liquidation": float(account.net_liquidation),
        "daily_pnl": float(account.daily_pnl),
        "broker_time": cyc.broker.now().isoformat(),
        "hydra_version": __version__,
    }


def one_line(summary: dict[str, Any]) -> str:
    """The summary as the single line the CLI prints."""
    parts = [
        f"{summary['as_of']} {summary['market']} {summary.get('contract', '')}".strip(),
        f"status={summary['status']}",
        f"signal={summary['signal']}",
        f"target={summary['target_position']:+d}",
        f"position {summary['position_before']:+d} -> {summary['position_after']:+d}",
        f"orders={summary['orders_sent']}",
        f"fills={summary['fills']}",
    ]
    if summary.get("avg_fill_price") is not None:
        parts.append(f"avg_fill={summary['avg_fill_price']:g}")
    if summary.get("resume"):
        parts.append(summary["resume"])
    legs = summary.get("legs") or []
    blocked = summary.get("blocked") or []

    def why(leg: dict[str, Any]) -> str:  # a stopped leg says why, unless `blocked:` will
        reason = leg.get("reason") or ""
        shown = leg["outcome"] == "filled" or not reason or any(reason in b for b in blocked)
        return "" if shown else f" ({reason})"

    if len(legs) > 1 or any(leg["outcome"] not in ("filled", "not_sent") for leg in legs):
        parts.append("legs: " + ", ".join(
            f"{leg['purpose']} {leg['side']} {leg['quantity']} {leg['local_symbol']} "
            f"{leg['outcome']}{why(leg)}" for leg in legs))
    if blocked:
        parts.append("blocked: " + " | ".join(blocked))
    return "  ".join(parts)



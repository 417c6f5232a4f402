"""How a cycle's results look in a notebook: tables and a summary banner, nothing computed here.

The banner is displayed in the first cell with a display id and updated by the last step, so a
reviewer sees on the first screen what happened; if the run dies before the summary step the
banner keeps saying so.
"""

from __future__ import annotations

import html
import io
from typing import Any

import pandas as pd
from IPython.display import DisplayHandle, Image, Markdown, display
from matplotlib.figure import Figure

from hydra.cycle.account import AccountCheck
from hydra.cycle.maintain import ModelStatus
from hydra.cycle.plan import OrderPlan
from hydra.cycle.signal import SignalResult
from hydra.cycle.trade import ExecutionResult
from hydra.domain.money import money, signed_number
from hydra.views.tables import table

_COLOURS = {
    "traded": "#1b7f3b", "no_trade": "#35618f", "already_done": "#35618f",
    "dry_run": "#8a6d00", "blocked": "#b35900", "sent_no_fill": "#b35900",
    "incomplete": "#b00020", "execution_stopped": "#b00020",
}



def slippage_verdict(actual_usd: float | None, predicted_usd: float | None) -> str:
    """One word for the fills' cost against the model's prediction: the reader's first question.

    "expected" within 25% of the prediction (or USD 5, so tiny fills are not judged on noise),
    "better" below that band, "worse" above it, "unknown" without both numbers.
    """
    if actual_usd is None or predicted_usd is None:
        return "unknown"
    band = max(0.25 * abs(predicted_usd), 5.0)
    if actual_usd > predicted_usd + band:
        return "worse"
    if actual_usd < predicted_usd - band:
        return "better"
    return "expected"


def leg_lines(summary: dict[str, Any]) -> list[str]:
    """Each planned leg's outcome: from `legs` when the cycle records them, else order_outcomes."""
    legs = summary.get("legs")
    if not legs:
        return [str(o) for o in summary.get("order_outcomes", [])]
    lines = []
    for leg in legs:
        line = (f"{leg.get('purpose', '?')} {leg.get('side', '?')} {leg.get('quantity', '?')} "
                f"{leg.get('local_symbol', '?')}: {str(leg.get('outcome', '?')).upper()}, "
                f"{leg.get('filled', 0)} filled")
        if leg.get("reason"):
            line += f" ({leg['reason']})"
        lines.append(line + f" [{leg.get('order_ref', '')}]")
    return lines


def _banner(summary: dict[str, Any] | None) -> dict[str, str]:
    if summary is None:
        text = ("RUN INCOMPLETE: this banner is replaced by the summary when the last step "
                "finishes. If you are reading this in an executed notebook, the run stopped "
                "early: look for the error below.")
        body = f"<b>{html.escape(text)}</b>"
        colour = _COLOURS["incomplete"]
    else:
        colour = _COLOURS.get(summary["status"], "#444")
        rows = [
            ("Status", summary["status"].replace("_", " ").upper()),
            ("Trade date / market", f"{summary['as_of']} {summary['market']} "
                                    f"({summary['contract']}), broker {summary['broker']} "
                                    f"account {summary['account_id']}"),
            ("Mode", f"{summary.get('mode', '?').upper()}: {summary.get('safety', '')}"),
            ("Signal", f"{summary['signal']} (score {signed_number(summary['signal_score'])}, "
                       f"{summary['model']})"),
            ("Position", f"before {summary['position_before']:+d}, target "
                         f"{summary['target_position']:+d}, after {summary['position_after']:+d}"),
            ("Orders / fills", f"{summary['orders_sent']} sent, {summary['fills']} fill(s), "
                               f"{summary['filled_contracts']} contract(s)"
                               + (f" avg {summary['avg_fill_price']:g}"
                                  if summary.get("avg_fill_price") is not None else "")),
        ]
        legs = leg_lines(summary)
        rows += [(f"Leg {i}" if len(legs) > 1 else "Leg", leg) for i, leg in enumerate(legs, 1)]
        if summary.get("resume"):
            rows.append(("Resumed", str(summary["resume"])))
        if summary.get("slippage_ticks") is not None:
            verdict = slippage_verdict(summary.get("slippage_usd"),
                                       summary.get("predicted_slippage_usd"))
            ticks = signed_number(summary["slippage_ticks"])
            rows.append(("Slippage", f"{verdict.upper()}: {ticks} ticks, "
                                     f"{money(summary['slippage_usd'], signed=True)} vs "
                                     f"{money(summary['predicted_slippage_usd'], signed=True)} "
                                     f"predicted; commission {money(summary['commission'] or 0)}"))
        rows.append(("Account", f"net liquidation {money(summary['net_liquidation'])}, "
                                f"day P&L {money(summary['daily_pnl'], signed=True)}"))
        rows.append(("Blocked", "; ".join(summary["blocked"]) or "nothing"))
        body = "<table>" + "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>" for k, v in rows
        ) + "</table>"
        text = "\n".join(f"{k:>20}: {v}" for k, v in rows)
    markup = (f"<div style='border-left:6px solid {colour};padding:6px 12px;"
              f"background:#f7f7f7'>{body}</div>")
    return {"text/html": markup, "text/plain": text}


def summary_placeholder() -> DisplayHandle:
    handle = display(_banner(None), raw=True, display_id=True)
    assert handle is not None
    return handle


def show_summary(summary: dict[str, Any], handle: DisplayHandle | None = None) -> None:
    if handle is not None:
        handle.update(_banner(summary), raw=True)
    display(_banner(summary), raw=True)


def show_account(check: AccountCheck) -> None:
    a = check.account
    lines = [
        f"**Safety verdict** {check.safety.mode.upper()}: {check.safety.reason}",
        f"**Broker** `{check.broker}`, account `{check.account_id}`, broker time "
        f"{check.broker_time:%Y-%m-%d %H:%M:%S %Z}",
        f"**Trade date** {'is a trading day' if check.trading_day else check.non_trading_reason}"
        f"; session open now: {check.trade_date_open or 'no'}",
        f"**Net liquidation** {money(a.net_liquidation)} · cash {money(a.cash)} · unrealized "
        f"{money(a.unrealized_pnl, signed=True)} · realized {money(a.realized_pnl, signed=True)}"
        f" · day P&L {money(a.daily_pnl, signed=True)}",
        f"**Fills recovered from the broker** into the journal at start: {check.synced_fills}",
    ]
    display(Markdown("\n\n".join(lines)))
    frame = check.positions_frame()
    display(table(frame) if len(frame) else Markdown("_No open positions._"))


def show_model(status: ModelStatus) -> None:
    """The loop's decision, the champion's health, the drift report and any candidates."""
    from hydra.views import loop as loop_display

    out = status.outcome
    if out is None:
        display(Markdown(f"**Model** `{status.model}` · action: **{status.action}** · "
                         f"{status.detail}"))
        return
    display(Markdown("\n\n".join(loop_display.outcome_lines(out))))
    if out.drift.features:
        display(table(loop_display.drift_frame(out)))
    if out.candidates:
        display(table(loop_display.candidates_frame(out)))


def show_signal(sig: SignalResult) -> None:
    s = sig.signal
    how = (f"P(up) {s.probability:.3f}, score {signed_number(s.score, 3)}"
           if s.probability is not None
           else f"score {signed_number(s.score, 3)} over {s.lookback_days} days")
    display(Markdown(
        f"**{s.label}** for {s.as_of} from model `{s.model}` ({how}; last completed bar "
        f"{s.last_bar_date}, close {s.last_close:g}) → target position "
        f"**{sig.target_position:+d}** in `{sig.contract.local_symbol}` "
        f"(tick {sig.contract.tick:g}, {money(sig.contract.tick_value)}/tick, "
        f"multiplier {sig.contract.multiplier:g})"))


def show_plan(plan: OrderPlan) -> None:
    q = plan.decision_quote
    display(Markdown(
        f"Position in this market: **{plan.position_before:+d}** "
        f"(front {plan.front_position:+d}, other months {plan.other_positions or 'none'}) → "
        f"target **{plan.target_position:+d}**. Decision quote: bid {q.bid} / ask {q.ask}"
        + (f" ({q.data_type}, in session)" if q and q.in_session else " (market not in session)")
        + f". ADV {plan.adv:,.0f} contracts, daily σ {plan.sigma:.3g} price units."
    ))
    if plan.intents:
        display(table(plan.intents_frame()))
    else:
        display(Markdown("_No order needed: the position is already at the target._"))
    if plan.prior_orders:
        display(Markdown("**Already placed for this cycle** (a rerun sends nothing new):"))
        display(table(plan.prior_frame()))
    if plan.risk:
        verdict = "ALLOWED" if all(d.allowed for d in plan.risk) else "BLOCKED"
        display(Markdown(f"**Pre-trade risk gate: {verdict}** (every check, journaled; each "
                         "child order is checked again when it is sent)"))
        display(table(plan.risk_frame()))
    for reason in plan.blocked:
        display(Markdown(f"⛔ **Not sent:** {html.escape(reason)}"))


def show_execution(result: ExecutionResult) -> None:
    display(Markdown(f"**{html.escape(result.note)}**"))
    if result.outcomes:
        display(Markdown("Parent orders (route, outcome):"))
        display(table(result.orders_frame()))
        display(Markdown("Child orders sent to the broker (each passed the risk gate):"))
        display(table(result.children_frame()))


def show_fills(fills: pd.DataFrame) -> None:
    if not len(fills):
        display(Markdown("_No fills for this cycle._"))
        return
    cols = ["exec_id", "order_ref", "fill_time", "side", "quantity", "price", "arrival_mid",
            "predicted_ticks", "actual_ticks", "actual_bps", "actual_usd", "commission", "route"]
    display(table(fills[cols]))


def show_figure(fig: Figure | None) -> None:
    """Embed a Figure as PNG: works without pyplot's inline backend being active."""
    if fig is None:
        return
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    display(Image(data=buf.getvalue(), format="png"))

"""How the reconciliation looks in a notebook: words first, then tables; nothing computed here.

A banner under the parameters says the outcome (zero breaks, breaks, no fills, insufficient
data) once the last cell has run; if the run dies first, it keeps saying so.
"""

from __future__ import annotations

import html
import io
from typing import Any

from IPython.display import DisplayHandle, Image, Markdown, display
from matplotlib.figure import Figure

from hydra.domain.money import money
from hydra.reconcile import tca
from hydra.reconcile.breaks import BrokerReconciliation
from hydra.reconcile.fill_report import FillList, Report
from hydra.views.tables import table

COLOURS = {"green": "#1b7f3b", "yellow": "#8a6d00", "red": "#b00020", "grey": "#666"}
_STATUS = {"reconciled": "#1b7f3b", "no_fills": "#35618f", "insufficient_data": "#8a6d00",
           "breaks": "#b00020", "incomplete": "#b00020"}


def _html(markup: str, text: str) -> None:
    """Rich HTML in the notebook, plain words for text viewers and diffs of the record."""
    display({"text/html": markup, "text/plain": text}, raw=True)


def _banner(summary: dict[str, Any] | None) -> dict[str, str]:
    if summary is None:
        text = ("RUN INCOMPLETE: this banner is replaced by the outcome when the last cell "
                "finishes. If you read this in an executed notebook, the run stopped early: look "
                "for the error below.")
        colour = _STATUS["incomplete"]
    else:
        b = summary["broker_check"]
        text = "\n".join([
            summary["headline"],
            f"Range {summary['since'] or 'first fill'} to {summary['until']}, market "
            f"{summary['market']}, broker {summary['broker']}",
            f"Fills {summary['fills']['fills']} ({summary['fills']['contracts']} contracts), "
            f"calibration: {summary['calibration']}",
            f"Broker check: {b['status']}, {summary['breaks']} break(s), "
            f"{summary['explained']} explained",
        ])
        colour = _STATUS.get(summary["status"], "#444")
    body = "<br>".join(html.escape(line) for line in text.splitlines())
    markup = (f"<div style='border-left:6px solid {colour};padding:6px 12px;"
              f"background:#f7f7f7'><b>{body}</b></div>")
    return {"text/html": markup, "text/plain": text}


def banner_placeholder() -> DisplayHandle:
    handle = display(_banner(None), raw=True, display_id=True)
    assert handle is not None
    return handle


def show_banner(summary: dict[str, Any], handle: DisplayHandle | None = None) -> None:
    if handle is not None:
        handle.update(_banner(summary), raw=True)
    display(_banner(summary), raw=True)


def show_scope(rep: Report) -> None:
    p, r = rep.params, rep.config.reconcile
    display(Markdown(
        f"**Report** for {rep.market_text}, {rep.range_text}; broker `{p.broker}`; data "
        f"directory `{p.data_dir}`.\n\n"
        f"**Gates** (config `[reconcile]` from {rep.config.source}, in ticks per contract): "
        f"statistics need at least **{rep.min_fills}** fills per group; bias green below "
        f"{r.bias_green_ticks:g}, yellow below {r.bias_yellow_ticks:g}, red from there; a "
        f"pessimism multiplier above {r.pessimism_warn:g} warns; calibrated when |bias| <= "
        f"{r.calibrated_max_bias_ticks:g} and correlation >= {r.calibrated_min_correlation:g}. "
        f"Price breaks beyond {r.price_tolerance_ticks:g} tick, commission breaks beyond "
        f"{money(r.commission_tolerance_usd)}."))


def show_fill_list(fl: FillList, rows: int = 200) -> None:
    if not fl.totals.fills:
        display(Markdown(f"**No fills.** {html.escape(fl.message)}."))
        return
    display(Markdown(f"**{html.escape(fl.message)}.**"))
    if rows and len(fl.fills) > rows:
        display(Markdown(f"_The {rows} most recent of {len(fl.fills)} fills (set `fill_rows` "
                         "to 0 to list all):_"))
    display(table(fl.table(rows)))
    display(Markdown("Totals by contract (notional = price × point value × contracts; "
                     "slippage cost positive = paid away):"))
    display(table(fl.by_contract))


def _dot(colour: str) -> str:
    return f"<span style='color:{COLOURS.get(colour, '#666')};font-size:1.3em'>●</span>"


def show_slippage(slip: tca.SlippageReport) -> None:
    lines, texts = [], []
    for g in slip.groups:
        if not g.sufficient:
            text = (f"insufficient data: {g.n} fill(s) with predicted and actual slippage, at "
                    f"least {g.min_needed} needed; no statistics shown")
            lines.append(f"{_dot('grey')} <b>{html.escape(g.name)}</b>: <b>{text}</b>")
            texts.append(f"{g.name}: {text}")
            continue
        t = g.stats["ticks"]
        mult = f"{t.multiplier:.2f}×" if t.multiplier is not None else "n/a"
        corr = f"{t.correlation:.2f}" if t.correlation is not None else "undefined"
        lines.append(
            f"{_dot(g.bias_colour)} <b>{html.escape(g.name)}</b>: bias "
            f"<b style='color:{COLOURS[g.bias_colour]}'>{t.bias:+.3f} ticks "
            f"({g.bias_colour.upper()})</b>, correlation {corr}, pessimism multiplier {mult}; "
            f"<b>{g.calibration.status}</b> ({html.escape('; '.join(g.calibration.reasons))})")
        texts.append(f"{g.name}: bias {t.bias:+.3f} ticks ({g.bias_colour.upper()}), "
                     f"correlation {corr}, pessimism multiplier {mult}; {g.calibration.status} "
                     f"({'; '.join(g.calibration.reasons)})")
    _html("<br>".join(lines), "\n".join(texts))
    for w in slip.warnings:
        _html(f"<div style='color:{COLOURS['red']}'><b>⚠ Pessimism warning:</b> "
              f"{html.escape(w)}</div>", f"PESSIMISM WARNING: {w}")
    if not slip.overall.sufficient:
        return
    for unit, label in (("ticks", "ticks per contract"), ("bps", "basis points of the arrival "
                                                          "mid"), ("usd", "dollars per contract")):
        display(Markdown(f"**Slippage in {label}** (bias = actual − predicted; multiplier = "
                         "mean actual / mean predicted):"))
        display(table(slip.table(unit)))


def show_broker_check(check: BrokerReconciliation) -> None:
    colour = COLOURS["green"] if not check.break_count else COLOURS["red"]
    if check.status == "skipped":
        colour = COLOURS["grey"]
    _html(f"<div style='color:{colour};font-size:1.15em'><b>{html.escape(check.headline)}"
          "</b></div>", check.headline)
    display(Markdown(
        f"{html.escape(check.message)}.\n\n"
        f"Compared: {check.journal_fills} journal fill(s) in range, "
        f"{check.broker_executions} Hydra execution(s) at the broker, {check.matched} matched by "
        f"execId" + (f", {check.not_compared} older fill(s) not compared" if check.not_compared
                     else "")
        + f". Commissions: journal {money(check.journal_commission)}, broker "
          f"{money(check.broker_commission)} (difference "
          f"{money(check.broker_commission - check.journal_commission, signed=True)})."))
    if check.status == "skipped":
        return
    if check.breaks:
        display(Markdown(f"**Every break ({check.break_count}):**"))
        display(table(check.breaks_frame()))
    elif check.nothing_to_compare:
        display(Markdown("**Zero breaks**: nothing to compare (no journaled fills, no broker "
                         "executions, no positions)."))
    else:
        display(Markdown("**Zero breaks**: every journaled fill matches a broker execution "
                         "(side, quantity, price, commission) and every position agrees."))
    if check.explained:
        display(Markdown(f"**Explained ({len(check.explained)})**, listed but not breaks:"))
        display(table(check.breaks_frame(explained=True)))
    display(Markdown("**Positions** (journal-implied + explained vs the broker, now):"))
    display(table(check.positions) if len(check.positions) else Markdown("_No open positions on "
                                                                   "either side._"))


def show_figure(fig: Figure | None, empty: str = "nothing to draw") -> None:
    """Embed a Figure as PNG (works without pyplot's inline backend); say when there is none."""
    if fig is None:
        display(Markdown(f"_{empty}._"))
        return
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    display(Image(data=buf.getvalue(), format="png"))


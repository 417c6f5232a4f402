"""`hydra fill-report`: the journaled fills, and with --reconcile the slippage verdicts and the
broker check, from the same implementation as notebooks/reconciliation.ipynb
(hydra.reconcile.fill_report).

Exit codes: 0 done; 1 --reconcile found unexplained breaks, or the broker could not be read;
2 bad input (nothing was read).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from hydra.cli.common import DataDirOpt, console, err, fail
from hydra.domain.money import money

STYLE = {"green": "bold green", "yellow": "bold yellow", "red": "bold red", "grey": "dim"}
UNIT_FORMAT = {"ticks": "{:+.3f}", "bps": "{:+.2f}", "usd": "{:+,.2f}"}


def register(app: typer.Typer) -> None:
    app.command("fill-report")(fill_report)


def fill_report(
    since: Annotated[str | None, typer.Option(help="First trade date YYYY-MM-DD (default: the "
                                              "first journaled fill).")] = None,
    until: Annotated[str | None, typer.Option(help="Last trade date YYYY-MM-DD (default: today "
                                              "in the market's timezone).")] = None,
    symbol: Annotated[str | None, typer.Option(help="Only this market (ZO, ZC, HE); default: "
                                               "every market.")] = None,
    limit: Annotated[int, typer.Option(min=0, help="List at most this many fills, the most "
                                       "recent (0: all). Totals and metrics use every fill in "
                                       "the range.")] = 50,
    reconcile: Annotated[bool, typer.Option("--reconcile", help="Also slippage predicted vs "
                                            "actual with verdicts, and the journal checked "
                                            "against the broker.")] = False,
    broker: Annotated[str, typer.Option(help="Broker to reconcile against: sim, ib or none "
                                        "(with --reconcile).")] = "sim",
    host: Annotated[str, typer.Option(help="IB Gateway/TWS host (broker ib).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="IB API port (broker ib); read only.")] = 4002,
    client_id: Annotated[int, typer.Option(help="IB API client id (broker ib).")] = 18,
    min_fills: Annotated[int, typer.Option(help="Fills a group needs before statistics are "
                                           "shown; -1: config reconcile.min_fills.")] = -1,
    data_dir: DataDirOpt = None,
) -> None:
    """The fill journal for a range of trade dates, with totals (and --reconcile: TCA + breaks)."""
    from hydra.domain.broker import BrokerError
    from hydra.execution.journal import JournalError
    from hydra.reconcile import fill_report as fr

    try:
        rep = fr.open_report(
            as_of="", since=since or "", until=until or "", market=symbol or "ALL",
            broker=broker if reconcile else "none", host=host, port=port, client_id=client_id,
            data_dir=data_dir or "", min_fills=min_fills, fill_rows=limit)
        fl = fr.fill_list(rep)
    except (fr.ReportError, JournalError) as exc:
        raise fail(str(exc)) from None
    _print_fills(rep, fl, limit)
    if not reconcile:
        return
    slip = fr.slippage(rep, fl)
    _print_slippage(slip)
    try:
        check = fr.broker_check(rep)
    except BrokerError as exc:
        err.print(f"[bold red]broker check failed:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    _print_broker(check)
    summary = fr.summarize(rep, fl, slip, check)
    style = "bold red" if summary["status"] == "breaks" else "bold"
    console.print(f"\n[{style}]{escape(summary['headline'])}[/]")
    if check.break_count:
        raise typer.Exit(1)


# ----------------------------------------------------------------------------------- rendering
def _num(value: Any, fmt: str = "{:g}") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return fmt.format(value)


def _price(price: float, tick: float | None) -> str:
    """A price with the decimals its tick needs (503.00 for oats, 80.125 for hogs)."""
    if tick is None or not math.isfinite(tick) or tick <= 0:
        return _num(price)
    decimals = max(0, len(f"{tick:.10f}".rstrip("0").split(".")[1]))
    return f"{price:.{decimals}f}"


def _print_fills(rep: Any, fl: Any, limit: int) -> None:
    console.print(f"[bold]Fills[/] for {rep.market_text}, {rep.range_text}")
    if not fl.totals.fills:
        console.print(f"[yellow]No fills:[/] {escape(fl.message)}.")
        return
    table = Table(show_lines=False, header_style="bold")
    for col in ("trade date", "time (UTC)", "exec id", "order ref", "contract", "side", "qty",
                "price", "route", "pred ticks", "act ticks", "act USD", "commission"):
        table.add_column(col, justify="right" if col in ("qty", "price", "pred ticks",
                                                          "act ticks", "act USD", "commission")
                         else "left")
    shown = fl.table(limit)
    ticks = fl.fills["tick"].tail(len(shown)).tolist()
    for r, tick in zip(shown.itertuples(index=False), ticks, strict=True):
        table.add_row(r.as_of, str(r.fill_time)[11:19], r.exec_id, r.order_ref, r.local_symbol,
                      r.side, str(r.quantity), _price(r.price, tick), r.route,
                      _num(r.predicted_ticks, "{:.2f}"), _num(r.actual_ticks, "{:+.2f}"),
                      _num(r.actual_usd, "{:+,.2f}"), _num(r.commission, "{:.2f}"))
    console.print(table)
    if len(shown) < fl.totals.fills:
        console.print(f"[dim](the {len(shown)} most recent of {fl.totals.fills} fills; "
                      "--limit 0 lists all)[/]")
    t = fl.totals
    console.print(f"[bold]Totals:[/] {escape(fl.message)}; slippage cost "
                  f"{money(t.actual_cost_usd, signed=True)} actual vs "
                  f"{money(t.predicted_cost_usd, signed=True)} predicted")
    if len(fl.by_contract) > 1:
        by = Table(header_style="bold")
        for col in ("contract", "fills", "contracts", "notional USD", "commission USD",
                    "slippage USD"):
            by.add_column(col, justify="left" if col == "contract" else "right")
        for r in fl.by_contract.itertuples(index=False):
            by.add_row(r.local_symbol, str(r.fills), str(r.contracts), f"{r.notional_usd:,.2f}",
                       f"{r.commission_usd:,.2f}", _num(r.actual_cost_usd, "{:+,.2f}"))
        console.print(by)


def _print_slippage(slip: Any) -> None:
    console.print(f"\n[bold]Slippage, predicted vs actual[/] (per fill and contract, + is a cost; "
                  f"verdicts in ticks; at least {slip.min_fills} fills per group)")
    for g in slip.groups:
        if not g.sufficient:
            console.print(f"  [dim]●[/] {g.name}: [bold yellow]insufficient data[/] ({g.n} "
                          f"fill(s) with slippage, at least {g.min_needed} needed)")
            continue
        t = g.stats["ticks"]
        mult = _num(t.multiplier, "{:.2f}x")
        corr = _num(t.correlation, "{:.2f}") if t.correlation is not None else "undefined"
        cal_style = "green" if g.calibration.calibrated else "red"
        console.print(
            f"  [{STYLE[g.bias_colour]}]●[/] {g.name}: bias [{STYLE[g.bias_colour]}]"
            f"{t.bias:+.3f} ticks ({g.bias_colour.upper()})[/], correlation {corr}, "
            f"multiplier {mult}; [{cal_style}]{g.calibration.status}[/] "
            f"({escape('; '.join(g.calibration.reasons))})")
    for w in slip.warnings:
        console.print(f"  [bold red]WARNING (pessimism):[/] {escape(w)}")
    if not slip.overall.sufficient:
        return
    for unit in ("ticks", "bps", "usd"):
        table = Table(title=f"slippage in {unit} per contract", header_style="bold")
        cols = ("group", "n", "mean pred", "mean act", "bias", "rmse", "corr", "median pred",
                "median act", "p95 pred", "p95 act", "multiplier")
        for col in cols:
            table.add_column(col, justify="left" if col == "group" else "right")
        fmt = UNIT_FORMAT[unit]
        for g in slip.groups:
            if not g.sufficient:
                table.add_row(g.name, str(g.n), *(["insufficient data"] + [""] * 9))
                continue
            s = g.stats[unit]
            table.add_row(
                g.name, str(s.n), fmt.format(s.mean_predicted), fmt.format(s.mean_actual),
                f"[{STYLE[g.bias_colour]}]{fmt.format(s.bias)}[/]", fmt.format(s.rmse).lstrip("+"),
                _num(s.correlation, "{:.2f}"), fmt.format(s.median_predicted),
                fmt.format(s.median_actual), fmt.format(s.p95_predicted),
                fmt.format(s.p95_actual), _num(s.multiplier, "{:.2f}x"))
        console.print(table)


def _print_broker(check: Any) -> None:
    console.print("\n[bold]Broker reconciliation[/]")
    if check.status == "skipped":
        console.print(f"  [dim]{escape(check.headline)}[/]")
        return
    style = "bold green" if not check.break_count else "bold red"
    console.print(f"  [{style}]{escape(check.headline)}[/]")
    console.print(f"  {escape(check.message)}")
    console.print(f"  compared {check.journal_fills} journal fill(s), {check.broker_executions} "
                  f"Hydra execution(s) at the broker, {check.matched} matched"
                  + (f", {check.not_compared} older fill(s) not compared"
                     if check.not_compared else "")
                  + f"; commissions journal {money(check.journal_commission)}, broker "
                    f"{money(check.broker_commission)}")
    for title, items, style in (("breaks", check.breaks, "red"),
                                ("explained (not breaks)", check.explained, "yellow")):
        if not items:
            continue
        table = Table(title=f"{title}: {len(items)}", header_style=f"bold {style}")
        for col in ("kind", "contract", "exec id", "order ref", "journal", "broker"):
            table.add_column(col)
        for b in items:
            table.add_row(b.kind, str(b.local_symbol), b.exec_id or "-", b.order_ref or "-",
                          escape(b.journal), escape(b.broker))
        console.print(table)
        for kind, detail in {b.kind: b.detail for b in items}.items():
            console.print(f"  [{style}]{kind}[/]: {escape(detail)}")
    if len(check.positions):
        table = Table(title="positions (journal-implied vs broker, now)", header_style="bold")
        for col in ("contract", "journal", "explained", "expected", "broker", "difference",
                    "status"):
            table.add_column(col, justify="left" if col in ("contract", "status") else "right")
        for r in check.positions.itertuples(index=False):
            st = "[green]ok[/]" if r.status == "ok" else "[bold red]BREAK[/]"
            table.add_row(r.local_symbol, f"{r.journal:+d}", f"{r.explained:+d}",
                          f"{r.expected:+d}", f"{r.broker:+d}", f"{r.difference:+d}", st)
        console.print(table)
    else:
        console.print("  no open positions on either side")

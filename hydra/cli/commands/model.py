"""`hydra diagnose`, `hydra rollback`, `hydra journal`, `hydra replay`: the model and its loop."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hydra.cli.common import DataDirOpt, console, err, fail, parse_date
from hydra.paths import DataDirError, ensure_writable, resolve_data_dir

MarketOpt = Annotated[str, typer.Option("--market", help="Market symbol (markets.toml).")]


def register(app: typer.Typer) -> None:
    app.command()(diagnose)
    app.command()(rollback)
    app.command("journal")(journal_cmd)
    app.command()(replay)


def _root(data_dir: str | None) -> Path:
    return resolve_data_dir(data_dir)


def _market(symbol: str) -> str:
    from hydra.reference.markets import UnknownMarketError, get_market

    try:
        return get_market(symbol).symbol
    except UnknownMarketError as exc:
        raise fail(str(exc)) from None


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


# The journal's candidate_id column holds the other model of a row: a challenger for training
# and comparison rows, but the replaced champion for promote, rollback and watch rows.
_OTHER_ROLE = {"promote": "replaced", "rollback": "retired", "watch": "previous"}


def other_model(step: str, model_id: str | None) -> str:
    """The row's second model, named by its role so a champion is never read as a candidate."""
    if not model_id:
        return ""
    return f"{_OTHER_ROLE.get(step, 'candidate')} {model_id}"


def diagnosis_text(causes: list[str], judged: bool, live_days: int, needed: int) -> str:
    """The causes found; "healthy" only when there were enough live days to judge."""
    if causes:
        return "; ".join(causes)
    return "healthy" if judged else f"not judged: {live_days} live days, {needed} needed"


def diagnose(
    market: MarketOpt = "ZO",
    as_of: Annotated[str | None, typer.Option("--as-of", help="Trade date to diagnose for "
                                              "(default: the day after the last stored bar).")]
    = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Observe and diagnose the champion on the stored bars; print health and the drift report.

    Reads the bar store the daily cycles fill (no broker connection) and changes nothing.
    """
    from hydra.agent.loop import observe_only
    from hydra.agent.status import next_trade_date_after
    from hydra.config import ConfigError, load_config
    from hydra.reference.markets import get_market

    root, sym = _root(data_dir), _market(market)
    day = parse_date(as_of, "--as-of") or next_trade_date_after(root, sym)
    if day is None:
        raise fail(f"no {sym} bars stored in {root} yet: run a cycle first "
                   "(`hydra run daily-cycle` or `hydra replay`)")
    try:
        cfg = load_config(root)
        out = observe_only(root, get_market(sym), day, cfg)
    except (LookupError, ValueError, ConfigError) as exc:
        raise fail(str(exc)) from None
    h = out.health
    console.print(f"[bold]{sym}[/] diagnose for trade date {day}: champion "
                  f"[bold]{out.champion_id}[/] trained {out.champion_train[0]}.."
                  f"{out.champion_train[1]}; rollback target {out.previous_id or 'none'}")
    m = h.metrics
    if m is None:
        console.print("health: no live days after the training window yet")
    else:
        console.print(
            f"health over {m.days} live days ({h.live_days} in all): hit rate "
            f"{_fmt(m.hit_rate, '.3f')}, Sharpe {_fmt(m.sharpe, '+.2f')}, model drawdown "
            f"per contract {m.max_drawdown:.1%} (not the account's), net return "
            f"{m.total_return:+.2%}, Brier skill "
            f"{_fmt(m.brier_skill, '+.3f')}"
            + ("" if h.judged else " [yellow](too few live days to judge)[/]"))
    table = Table(title=f"feature drift: last {out.drift.n_current} days vs the "
                        f"{out.drift.n_reference} training days", title_justify="left")
    for col in ("feature", "PSI", "KS stat", "KS p-value", "drifted"):
        table.add_column(col)
    for f in out.drift.features:
        table.add_row(f.feature, f"{f.psi:.3f}", f"{f.ks_stat:.3f}", f"{f.ks_pvalue:.4f}",
                      "[red]yes[/]" if f.drifted else "no")
    console.print(table)
    console.print("diagnosis: " + diagnosis_text(out.causes, h.judged, h.live_days,
                                                 cfg.agent.min_live_days))
    console.print(f"loop would: {out.action} ({out.detail})")


def rollback(
    market: MarketOpt = "ZO",
    reason: Annotated[str, typer.Option(help="Why; written to the agent journal.")] = "",
    data_dir: DataDirOpt = None,
) -> None:
    """Restore the previous champion: the next cycle trades it. Starts the promotion cooldown."""
    from hydra.agent.journal import AgentJournal, agent_db_path
    from hydra.agent.loop import WatchState, models_dir
    from hydra.agent.status import next_trade_date_after
    from hydra.model.registry import Registry, RegistryError

    try:
        root = ensure_writable(_root(data_dir))
    except DataDirError as exc:
        raise fail(str(exc)) from None
    sym = _market(market)
    reg = Registry(models_dir(root), sym)
    if reg.champion_id() is None:
        raise fail(f"no {sym} champion in {root}: nothing to roll back")
    day = next_trade_date_after(root, sym) or datetime.now(UTC).date()
    why = reason or "manual rollback by the operator"
    try:
        restored, retired = reg.rollback(at=day.isoformat(), reason=why)
    except RegistryError as exc:
        raise fail(str(exc)) from None
    reg.update_meta(retired, status="rolled_back", rolled_back_as_of=day.isoformat())
    with AgentJournal(agent_db_path(root)) as journal:
        detail = f"manual rollback: {restored} restored, {retired} retired ({why})"
        journal.record(at=datetime.now(UTC), as_of=day, market=sym, cycle_id="cli-rollback",
                       step="rollback", outcome="rolled_back", detail=detail,
                       model_id=restored, candidate_id=retired)
        journal.put_state(sym, {"watch": WatchState(restored).as_dict(),
                                "cooldown_since": day.isoformat()})
    console.print(f"[bold]{sym}[/]: champion is now [bold green]{restored}[/] "
                  f"(was {retired}); the next cycle trades it")


def journal_cmd(
    since: Annotated[str | None, typer.Option(help="Trade dates from YYYY-MM-DD.")] = None,
    outcome: Annotated[str | None, typer.Option(
        help="Only this outcome: healthy, degraded, drifted, not_judged, trained, won, lost, "
             "promoted, rolled_back, rejected, skipped, watching.")] = None,
    step: Annotated[str | None, typer.Option(
        help="Only this step: initial, observe, watch, diagnose, train, evaluate, promote, "
             "rollback, decision.")] = None,
    market: Annotated[str | None, typer.Option(help="Only this market.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """List the agent journal: what the loop observed, tried and decided."""
    from hydra.agent.journal import OUTCOMES, AgentJournal, agent_db_path

    root = _root(data_dir)
    start = parse_date(since, "--since")
    if outcome is not None and outcome not in OUTCOMES:
        raise fail(f"--outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    db = agent_db_path(root)
    if not db.exists():
        console.print(f"no agent journal in {root} yet (no cycle has run)")
        return
    with AgentJournal(db) as journal:
        events = journal.events(since=start, outcome=outcome, step=step,
                                market=_market(market) if market else None, limit=limit,
                                newest_first=True)
    if as_json:
        for e in events:
            print(json.dumps(e.__dict__, default=str))
        return
    table = Table(title=f"agent journal ({len(events)} newest first)")
    for col in ("id", "as_of", "market", "step", "outcome", "model", "other model", "detail"):
        table.add_column(col, overflow="fold")
    for e in events:
        table.add_row(str(e.id), e.as_of, e.market, e.step, e.outcome, e.model_id or "",
                      other_model(e.step, e.candidate_id), e.detail)
    console.print(table)


def replay(
    start: Annotated[str, typer.Option("--start", help="First trade date YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--end", help="Last trade date YYYY-MM-DD.")],
    market: MarketOpt = "ZO",
    contracts: Annotated[int, typer.Option(min=0, help="Position size cap per cycle.")] = 1,
    seed: Annotated[int | None, typer.Option(help="Simulator seed (default: sim.seed).")]
    = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="Only the final summary.")] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Run the daily cycle in-process over the simulated trading days of a range.

    Same loop, execution and journaling as a daily run; prints what the loop did (drift found,
    candidates trained, promotions, rollbacks) and the resulting P&L.
    """
    from hydra.cycle.params import ParameterError
    from hydra.cycle.replay import ReplayDay, ReplayError
    from hydra.cycle.replay import replay as run_replay

    first, last = parse_date(start, "--start"), parse_date(end, "--end")
    assert first is not None and last is not None

    def show(d: ReplayDay) -> None:
        if quiet or d.action == "healthy":
            return
        colour = {"promoted": "green", "rolled_back": "red", "rejected": "yellow"}.get(
            d.action, "white")
        console.print(f"{d.as_of} [{colour}]{d.action:>11}[/] {d.detail}")

    try:
        result = run_replay(start=first, end=last, market=_market(market), contracts=contracts,
                            data_dir=data_dir, seed=seed, on_day=show)
    except (ReplayError, ParameterError, DataDirError) as exc:
        raise fail(str(exc)) from None
    s = result.as_dict()
    traded = sum(1 for d in result.days if d.status == "traded")
    console.print(
        f"[bold]replay {s['market']} {s['start']}..{s['end']}[/]: {s['days']} cycles "
        f"({traded} traded) in {s['elapsed_seconds']:.1f}s")
    console.print(
        f"loop: drift found on {s['drift_days']} days, performance degraded on "
        f"{s['degraded_days']}, {s['candidates_trained']} candidate(s) trained, "
        f"{s['promotions']} promotion(s), {s['rollbacks']} rollback(s)")
    console.print(f"P&L: net liquidation {s['start_equity']:,.2f} -> {s['end_equity']:,.2f} "
                  f"({s['pnl']:+,.2f} USD)")
    for line in result.reconciliation_lines():
        console.print(line, highlight=False)
    if result.days:
        console.print(f"champion at the end: {result.days[-1].model}")
    if not result.days:
        err.print("no cycles ran")

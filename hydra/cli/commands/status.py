"""`hydra status`: one screen for the operator: broker, kill switch, model, jobs, position, P&L."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from hydra.cli.commands.schedule import CrontabOpt, SchedulesOpt
from hydra.cli.common import DataDirOpt, console
from hydra.paths import DataPaths, resolve_data_dir

_COLOURS = {"succeeded": "green", "failed": "red", "running": "yellow", "skipped": "cyan"}


def register(app: typer.Typer) -> None:
    app.command("status")(status)


MISSED_DAYS = 7


def _missed(sch: Any, index: Any, job: Any, now: datetime) -> list[Any] | None:
    """Scheduled slots of the last week with no run at all, counted from the job's first run
    (None before the job has any run to count from)."""
    records = index.list(job=job.name, since=(now - timedelta(days=MISSED_DAYS + 1)).date())
    first = index.first(job.name)
    if first is None:
        return None
    since = max(now - timedelta(days=MISSED_DAYS),
                datetime.fromisoformat(first.started_at))
    recorded = {date.fromisoformat(r.as_of) for r in records if _is_date(r.as_of)}
    return sch.missed_runs(job, since, now, recorded)


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def market_lines(paths: DataPaths, jobs: dict[str, Any], held: list[Any] | None
                 ) -> list[str]:
    """One line per market that has a job, a model or a position at the broker.

    A position in a market no job trades is the one that must not go unseen: nothing in Hydra
    will manage or close it, so its line says so. `held` None: the broker could not be read,
    so no market is called flat.
    """
    from hydra.agent.status import health_summary, status_line

    by_job: dict[str, list[str]] = {}
    for name, job in sorted(jobs.items()):
        if getattr(job, "market", None):
            by_job.setdefault(str(job.market), []).append(name)
    by_position: dict[str, list[Any]] = {}
    for x in held or []:
        by_position.setdefault(str(x.symbol), []).append(x)
    summary = health_summary(paths.root, also=set(by_job) | set(by_position))
    lines = []
    for sym in sorted(set(summary) | set(by_job) | set(by_position)):
        entry = summary.get(sym) or {"champion": None}
        if entry.get("champion") is None and sym not in by_job:
            model = "no model"
        else:
            model = status_line(entry)
        jobs_text = (f"jobs: {', '.join(by_job[sym])}" if sym in by_job
                     else "[bold red]no job trades it[/]")
        pos = by_position.get(sym, [])
        pos_text = ("position: " + ", ".join(f"{x.local_symbol} {x.quantity:+d}" for x in pos)
                    if pos else "position: flat" if held is not None else
                    "[yellow]position: unknown (broker not read)[/]")
        if pos and sym not in by_job:
            pos_text = (f"[bold red]{pos_text} at the broker, held outside Hydra's jobs[/]: "
                        "no run manages or closes it; close it at the broker or add a job "
                        "for this market")
        lines.append(f"{sym}: {escape(model)}; {jobs_text}; {pos_text}")
    return lines


def _broker_section(paths: DataPaths, job: Any | None, client_id: int) -> list[Any] | None:
    """Open the broker the daily cycle uses, at its own clock (never moving the sim forward).

    Returns the positions held (None when the broker could not be read)."""
    from hydra.broker.factory import BrokerSpec, make_broker
    from hydra.config import ConfigError, load_config
    from hydra.domain.broker import BrokerError

    p = job.parameters if job is not None else {}
    kind = str(p.get("broker", "sim"))
    spec = BrokerSpec(kind=kind, host=str(p.get("host", "127.0.0.1")),
                      port=int(p.get("port", 4002)), client_id=client_id,
                      seed=None if int(p.get("seed", -1)) < 0 else int(p["seed"]))
    if kind == "sim" and not paths.sim_db.exists():
        console.print(f"broker: sim, [yellow]no simulated account yet[/] ({paths.sim_db}); the "
                      "first daily-cycle run opens it")
        return []
    try:
        config = load_config(paths.root)
        broker, _clock = make_broker(spec, config, paths, sim_start=None, follow_account=True)
        broker.connect()
    except (BrokerError, ConfigError, OSError) as exc:
        console.print(f"broker: {kind}, [bold red]NOT CONNECTED[/]: {escape(str(exc))}")
        return None
    try:
        account = broker.account_state()
        positions = broker.positions()
        when = broker.now()
    finally:
        broker.close()
    where = f"port {spec.port}" if kind != "sim" else str(paths.sim_db)
    console.print(f"broker: {kind} ({where}), [green]connected[/]: account {account.account_id}, "
                  f"broker time {when:%Y-%m-%d %H:%M %Z}")
    console.print(f"account: net liquidation {account.net_liquidation:,.2f} {account.currency}, "
                  f"cash {account.cash:,.2f}, day P&L {account.daily_pnl:+,.2f}, realized "
                  f"{account.realized_pnl:+,.2f}, unrealized {account.unrealized_pnl:+,.2f}")
    held = [x for x in positions if x.quantity]
    if not held:
        console.print("positions: flat")
        return []
    table = Table(title="positions")
    for col in ("contract", "quantity", "avg price", "market price", "unrealized P&L",
                "realized P&L"):
        table.add_column(col, justify="right")
    for x in held:
        table.add_row(x.local_symbol, f"{x.quantity:+d}", f"{x.avg_price:g}",
                      f"{x.market_price:g}", f"{x.unrealized_pnl:+,.2f}",
                      f"{x.realized_pnl:+,.2f}")
    console.print(table)
    return held


def status(
    client_id: Annotated[int, typer.Option(help="IB client id for this check (not the "
                                           "cycle's, so the two never collide).")] = 99,
    crontab_file: CrontabOpt = None,
    schedules: SchedulesOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Broker connectivity, paused or not, model, last and next run of each job, position, P&L."""
    from hydra.execution.killswitch import read_state
    from hydra.ops import notebook_runs as runs
    from hydra.ops import schedule as sch

    root = resolve_data_dir(data_dir)
    paths = DataPaths(root)
    now = datetime.now(UTC)
    console.rule(f"Hydra status {now:%Y-%m-%d %H:%M} UTC: {root}")
    try:
        jobs = sch.load_jobs(sch.jobs_file(schedules))
    except sch.ScheduleError as exc:
        console.print(f"[bold red]jobs file error[/]: {escape(str(exc))}")
        jobs = {}
    held = _broker_section(paths, jobs.get("daily-cycle"), client_id)

    ks = read_state(paths)
    console.print(f"trading: [bold red]PAUSED[/] ({escape(ks.describe())})"
                  if ks.paused else "trading: [bold green]allowed[/] (not paused)")
    lines = market_lines(paths, jobs, held) or ["none: no job, no model and no position"]
    console.print("markets (model; jobs; position):")
    for line in lines:
        console.print("  " + line)
    store = sch.CrontabStore.from_option(crontab_file)
    block = None
    try:
        block = store.installed_block()
        console.print(f"schedule: {'[green]installed[/]' if block else '[yellow]not installed[/]'}"
                      f" in {store.describe()}")
    except sch.ScheduleError as exc:
        console.print(f"schedule: [red]unknown[/] ({escape(str(exc))})")

    runs.reap_dead_runs(paths, "hydra status")
    index = runs.RunIndex(paths.run_index) if paths.run_index.exists() else None
    table = Table(title="jobs")
    for col in ("job", "last run", "outcome", "next run", f"missed ({MISSED_DAYS} days)"):
        table.add_column(col, overflow="fold")
    for name, job in sorted(jobs.items()):
        last = index.last(name) if index else None
        if last is None:
            last_text, outcome = "never", ""
        else:
            colour = _COLOURS.get(last.status, "white")
            last_text = (f"{last.started_at.replace('+00:00', 'Z')} for {last.as_of} "
                         f"([{colour}]{last.status}[/], run {last.run_id})")
            outcome = escape(last.short_outcome)
        if runs.is_running(paths, name):
            last_text = "[yellow]RUNNING NOW[/]; before: " + last_text
        nxt = sch.next_runs(job, now, 1)
        next_text = (f"{nxt[0].local:%a %Y-%m-%d %H:%M %Z} ({nxt[0].utc:%H:%M} UTC)"
                     if nxt else "none in the next year")
        missed = _missed(sch, index, job, now) if block and index else None
        if not block:
            missed_text = "n/a (not scheduled)"
        elif missed is None:
            missed_text = "n/a (no runs yet)"
        elif missed:
            missed_text = "[red]" + ", ".join(f"{m.local:%a %m-%d %H:%M}" for m in missed) + "[/]"
        else:
            missed_text = "[green]none[/]"
        table.add_row(name, last_text, outcome, next_text, missed_text)
    if index:
        index.close()
    console.print(table)

"""`hydra paper-trade start|stop|status`: scheduled paper trading switched on and off as one act.

start: the live-safety checks for every trading job, then the schedule goes into the crontab,
then trading resumes. stop: trading pauses at once (the kill switch), then the schedule comes
out. A live port is refused here whatever the confirmations: scheduled trading is paper only.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from hydra.cli.commands.schedule import (
    CrontabOpt,
    CronTzOpt,
    SchedulesOpt,
    install_schedule,
    uninstall_schedule,
)
from hydra.cli.common import DataDirOpt, console, err, fail, writable_data_dir
from hydra.paths import DataPaths, resolve_data_dir

pt_app = typer.Typer(help="Scheduled paper trading: safety checks, the crontab, the kill switch.",
                     no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(pt_app, name="paper-trade")


def trading_jobs(schedules: str | None) -> list[Any]:
    """Jobs that talk to a broker (they have a `broker` parameter)."""
    from hydra.ops import schedule as sch

    try:
        jobs = sch.load_jobs(sch.jobs_file(schedules))
    except sch.ScheduleError as exc:
        raise fail(str(exc)) from None
    return [j for j in sorted(jobs.values(), key=lambda j: j.name) if "broker" in j.parameters]


def job_safety(job: Any, account: str | None = None) -> Any:
    """The live-safety verdict for a job's broker settings and, once known, the account behind
    them (hydra.broker.safety is the one authority)."""
    from hydra.broker.safety import safety_verdict

    p = job.parameters
    return safety_verdict(str(p.get("broker", "sim")), int(p.get("port", 4002)),
                          bool(p.get("confirm_live", False)), account=account)


def broker_account(job: Any, paths: DataPaths, client_id: int = 98) -> str:
    """Connect to a job's IB port (its own client id) and read which account is logged in."""
    from hydra.broker.factory import BrokerSpec, make_broker
    from hydra.config import load_config

    p = job.parameters
    spec = BrokerSpec(kind=str(p.get("broker")), host=str(p.get("host", "127.0.0.1")),
                      port=int(p.get("port", 4002)), client_id=client_id)
    broker, _ = make_broker(spec, load_config(paths.root), paths)
    broker.connect()
    try:
        return broker.account_state().account_id
    finally:
        broker.close()


def _refusals(jobs: list[Any], paths: DataPaths) -> list[str]:
    """Why scheduled paper trading may not start: the port first, then (IB) the account."""
    from hydra.config import ConfigError
    from hydra.domain.broker import BrokerError

    out = []
    for job in jobs:
        v = job_safety(job)
        if not v.allowed:
            out.append(f"{job.name}: {v.reason}")
        elif v.mode == "live":
            out.append(f"{job.name}: port {v.port} is a LIVE port; scheduled trading is for "
                       "paper accounts only (run live cycles by hand)")
        elif v.mode != "simulated":
            try:
                v = job_safety(job, broker_account(job, paths))
            except (BrokerError, ConfigError, OSError) as exc:
                out.append(f"{job.name}: cannot check which account is behind port {v.port}: "
                           f"{exc}")
                continue
            if not v.allowed:
                out.append(f"{job.name}: {v.reason}")
    return out


@pt_app.command("start")
def start(
    crontab_file: CrontabOpt = None,
    cron_timezone: CronTzOpt = None,
    schedules: SchedulesOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Run the safety checks, install the schedule, resume trading."""
    from hydra.execution.killswitch import resume

    paths = DataPaths(writable_data_dir(data_dir))
    jobs = trading_jobs(schedules)
    refused = _refusals(jobs, paths)
    if refused:
        raise fail("paper trading not started, nothing changed:\n  - " + "\n  - ".join(refused))
    for job in jobs:
        v = job_safety(job)
        console.print(f"safety {job.name}: [green]ok[/] ({v.mode}: {escape(v.reason)})")
    install_schedule(str(paths.root), schedules, crontab_file, cron_timezone)
    resume(paths)
    console.print("[bold green]paper trading started[/]: the schedule is installed and new "
                  "orders are allowed (`hydra paper-trade stop` to stop)")


@pt_app.command("stop")
def stop(
    crontab_file: CrontabOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Pause trading at once (the kill switch), then remove the schedule."""
    from hydra.execution.killswitch import pause

    paths = DataPaths(writable_data_dir(data_dir))
    pause(paths, "paper trading stopped (hydra paper-trade stop)")
    console.print("[bold red]PAUSED[/]: no new orders")
    uninstall_schedule(crontab_file)
    console.print("paper trading stopped (`hydra paper-trade start` to start again)")


@pt_app.command("status")
def status(
    crontab_file: CrontabOpt = None,
    cron_timezone: CronTzOpt = None,
    schedules: SchedulesOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Configuration, safety verdicts, whether the schedule is installed, paused or not."""
    from hydra.config import ConfigError, load_config
    from hydra.execution.killswitch import read_state
    from hydra.ops import schedule as sch

    root = resolve_data_dir(data_dir)
    paths = DataPaths(root)
    console.print(f"data directory: {root}")
    try:
        console.print(f"configuration: {load_config(root).source}")
    except ConfigError as exc:
        err.print(f"[red]configuration error[/]: {escape(str(exc))}")
    console.print(f"jobs file: {sch.jobs_file(schedules)}")
    table = Table(title="jobs that use a broker")
    for col in ("job", "when", "broker", "market / size", "safety"):
        table.add_column(col, overflow="fold")
    for job in trading_jobs(schedules):
        p, v = job.parameters, job_safety(job)
        broker = str(p.get("broker", "sim")) + (f" port {v.port}" if v.port else "")
        colour = "green" if v.allowed and v.mode != "live" else "red"
        table.add_row(job.name, f"'{job.cron}' {job.timezone}", broker,
                      f"{p.get('market', job.market)} x {p.get('contracts', '?')}",
                      f"[{colour}]{v.mode}[/]: {escape(v.reason)}")
    console.print(table)
    try:
        plan = sch.plan_install(root, jobs=schedules, crontab_file=crontab_file,
                                cron_timezone=cron_timezone)
        state = plan.state()
        colour = {"installed": "green", "stale": "yellow"}.get(state, "red")
        console.print(f"schedule: [{colour}]{state}[/] in {plan.store.describe()}"
                      + (" (differs from the jobs file: run `hydra schedule install`)"
                         if state == "stale" else ""))
        if plan.store.file is None and sch.cron_daemon_running() is False:
            console.print("[yellow]warning[/]: no cron daemon is running on this machine")
    except sch.ScheduleError as exc:
        console.print(f"schedule: [red]unknown[/] ({escape(str(exc))})")
    ks = read_state(paths)
    if ks.paused:
        console.print(f"trading: [bold red]PAUSED[/] ({escape(ks.describe())})")
    else:
        console.print("trading: [bold green]allowed[/] (not paused)")

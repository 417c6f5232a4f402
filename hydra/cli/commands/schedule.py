"""`hydra schedule check|render|install|uninstall`: the jobs file, its runs, its crontab block."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from hydra.cli.common import DataDirOpt, console, err, fail
from hydra.paths import REPO_DIR, DataDirError, ensure_writable, resolve_data_dir

schedule_app = typer.Typer(help="Scheduled jobs (schedules/jobs.toml) and their crontab block.",
                           no_args_is_help=True)

SchedulesOpt = Annotated[
    str | None,
    typer.Option("--schedules", envvar="HYDRA_SCHEDULES",
                 help="Jobs file. Default: schedules/jobs.toml in the checkout."),
]
CrontabOpt = Annotated[
    str | None,
    typer.Option("--crontab-file", envvar="HYDRA_CRONTAB_FILE",
                 help="Manage this file instead of your user crontab (`crontab -l`)."),
]
CronTzOpt = Annotated[
    str | None,
    typer.Option("--cron-timezone", help="The zone your cron daemon reads crontab times in. "
                 "Default: the host's /etc/localtime (Debian's cron ignores CRON_TZ)."),
]
DEFAULT_RENDER = REPO_DIR / "cron" / "hydra.crontab"


def register(app: typer.Typer) -> None:
    app.add_typer(schedule_app, name="schedule")


def _when(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"--from must be a date or time like 2026-11-25 or 2026-11-25T15:00Z, "
                   f"got {value!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@schedule_app.command("check")
def check(
    count: Annotated[int, typer.Option("--count", "-n", min=1, max=500,
                                       help="Runs to list per job.")] = 5,
    start: Annotated[str | None, typer.Option(
        "--from", help="List runs after this time (ISO; UTC unless it has an offset). "
        "Default: now.")] = None,
    job: Annotated[str | None, typer.Option(help="Only this job.")] = None,
    schedules: SchedulesOpt = None,
) -> None:
    """Validate every job and print its next runs in the market's timezone and in UTC, closed
    exchange days shown as skipped. Exit 1 if a job has an error."""
    from hydra.ops import schedule as sch

    after = _when(start)
    try:
        jobs = sch.load_jobs(sch.jobs_file(schedules))
    except sch.ScheduleError as exc:
        raise fail(str(exc), code=1) from None
    if job and job not in jobs:
        raise fail(f"unknown job {job!r}; jobs are: {', '.join(sorted(jobs))}")
    console.print(f"jobs file: {sch.jobs_file(schedules)}")
    errors = 0
    for name in sorted(jobs):
        if job and name != job:
            continue
        j = jobs[name]
        problems = sch.validate_job(j, after)
        errors += sum(p.level == "error" for p in problems)
        _print_job(j, after, count)
        for p in problems:
            colour = "red" if p.level == "error" else "yellow"
            console.print(f"  [{colour}]{p.level}[/]: {escape(p.message)}")
        if not problems:
            console.print("  [green]ok[/]: valid; every run in the next year respects its window")
    if errors:
        err.print(f"[bold red]{errors} error(s)[/]: fix the jobs file before installing it")
        raise typer.Exit(1)


def _print_job(j, after: datetime, count: int) -> None:  # j: hydra.ops.schedule.Job
    from cronsim import CronSim

    from hydra.ops import schedule as sch

    console.rule(f"[bold]{j.name}[/]")
    if j.description:
        console.print(f"  {escape(j.description)}")
    days = f"{j.calendar} trading days" if j.trading_days_only else "every day the cron names"
    window = {"session": f"inside the session, >= {j.min_minutes_before_close} min before the "
                         "close", "after-close": "after the close", "any": "any time"}[j.window]
    console.print(f"  notebook {j.notebook}; cron '{j.cron}' in {j.timezone} "
                  f"({CronSim(j.cron, after).explain()}); {days}")
    console.print(f"  market {j.market}; window: {window}; timeout {j.timeout} s; "
                  f"on failure: {escape(j.on_failure) or '(nothing)'}; parameters "
                  f"{escape(str(j.parameters))}")
    # -n N lists N rows: closed days count as rows (marked skipped), so N means what it says
    runs = sch.next_runs(j, after, count, include_skipped=True)[:count]
    table = Table(title=f"next {count} scheduled times after {after:%Y-%m-%d %H:%M %Z} "
                        "(closed days marked skipped)", title_justify="left")
    for col in (j.timezone, "UTC", "trade date", "note"):
        table.add_column(col)
    for r in runs:
        note = (f"[cyan]skipped[/]: {escape(r.skipped)}" if r.skipped else
                f"session closes {r.session_close:%H:%M}" if r.session_close else "")
        table.add_row(f"{r.local:%a %Y-%m-%d %H:%M %Z}", f"{r.utc:%Y-%m-%d %H:%M}",
                      r.trade_date.isoformat(), note)
    console.print(table)


@schedule_app.command("render")
def render(
    output: Annotated[Path, typer.Option(help="Where to write the block.")] = DEFAULT_RENDER,
    cron_timezone: CronTzOpt = None,
    schedules: SchedulesOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Write the crontab block cron would run (absolute paths, flock, logs) to a file."""
    plan = _plan(data_dir, schedules, None, cron_timezone)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(plan.block)
    print(plan.block, end="")
    console.print(f"written to {output} (cron reads these times in {plan.host_tz_name}); "
                  "`hydra schedule install` puts this block in your crontab")


def _plan(data_dir: str | None, schedules: str | None, crontab_file: str | None,
          cron_timezone: str | None):  # -> hydra.ops.schedule.InstallPlan
    from hydra.ops import schedule as sch

    try:
        root = ensure_writable(resolve_data_dir(data_dir))
        return sch.plan_install(root, jobs=schedules, crontab_file=crontab_file,
                                cron_timezone=cron_timezone)
    except (sch.ScheduleError, DataDirError) as exc:
        raise fail(str(exc)) from None


def validate_all(schedules: str | None) -> list[str]:
    """Every error of every job (warnings aside), as `hydra schedule check` reports them."""
    from hydra.ops import schedule as sch

    jobs = sch.load_jobs(sch.jobs_file(schedules))
    now = datetime.now(UTC)
    return [f"{p.job}: {p.message}" for j in jobs.values() for p in sch.validate_job(j, now)
            if p.level == "error"]


def install_schedule(data_dir: str | None, schedules: str | None, crontab_file: str | None,
                     cron_timezone: str | None) -> None:
    """Validate, then put the block in the crontab (shared with `hydra paper-trade start`)."""
    from hydra.ops import schedule as sch

    try:
        errors = validate_all(schedules)
    except sch.ScheduleError as exc:
        raise fail(str(exc)) from None
    if errors:
        raise fail("the jobs file has errors, nothing installed:\n  - " + "\n  - ".join(errors))
    plan = _plan(data_dir, schedules, crontab_file, cron_timezone)
    try:
        changed = sch.install(plan)
    except sch.ScheduleError as exc:
        raise fail(str(exc)) from None
    print(plan.block, end="")
    verb = "installed in" if changed else "already installed, unchanged, in"
    console.print(f"[green]schedule {verb}[/] {plan.store.describe()} (times read in "
                  f"{plan.host_tz_name}); logs go to {plan.target.data_dir / 'logs'}")
    if plan.store.file is None and sch.cron_daemon_running() is False:
        err.print("[yellow]warning[/]: no cron daemon is running on this machine; nothing will "
                  "fire until it runs (service cron start)")


def uninstall_schedule(crontab_file: str | None) -> None:
    from hydra.ops import schedule as sch

    store = sch.CrontabStore.from_option(crontab_file)
    try:
        removed = store.uninstall()
    except sch.ScheduleError as exc:
        raise fail(str(exc)) from None
    console.print(f"schedule removed from {store.describe()}" if removed
                  else f"no Hydra schedule in {store.describe()}; nothing to remove")


@schedule_app.command("install")
def install(
    crontab_file: CrontabOpt = None,
    cron_timezone: CronTzOpt = None,
    schedules: SchedulesOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Validate the jobs and put (or replace) Hydra's marked block in the crontab; idempotent."""
    install_schedule(data_dir, schedules, crontab_file, cron_timezone)


@schedule_app.command("uninstall")
def uninstall(crontab_file: CrontabOpt = None) -> None:
    """Remove Hydra's marked block from the crontab; every other line stays as it was."""
    uninstall_schedule(crontab_file)

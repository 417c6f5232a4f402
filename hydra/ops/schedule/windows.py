"""Window checks: each run inside the market's session with enough time before the close (or
after it), checked for a year of runs by `hydra schedule check`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hydra.ops.schedule.calendar import ScheduledRun, _market, next_runs
from hydra.ops.schedule.jobs import Job


def window_problem(job: Job, run: ScheduledRun) -> str | None:
    """Why a run's time breaks the job's `window` (e.g. orders after the close), or None."""
    if job.window == "any" or run.skipped:
        return None
    from hydra.reference.sessions import session_windows

    market = _market(job)
    windows = session_windows(market, run.trade_date)
    if not windows:
        return None
    t = run.utc

    def hm(x: datetime) -> str:
        return f"{x.astimezone(job.tz):%H:%M}"

    when = f"{run.local:%a %Y-%m-%d %H:%M %Z}"
    if job.window == "session":
        for start, end in windows:
            if start <= t < end:
                left = (end - t).total_seconds() / 60
                if left < job.min_minutes_before_close:
                    return (f"{when} leaves {left:.0f} min before the {hm(end)} close; the job "
                            f"needs {job.min_minutes_before_close} min to work its orders")
                return None
        spans = ", ".join(f"{hm(a)}-{hm(b)}" for a, b in windows)
        return (f"{when} is outside the {market.exchange} session of {run.trade_date} "
                f"({spans} {job.timezone}): orders could not be worked")
    close = windows[-1][1]
    if t < close:
        return f"{when} is before that day's {hm(close)} close, but the job runs after the close"
    return None


@dataclass(frozen=True)
class Problem:
    level: str  # "error" | "warning"
    job: str
    message: str


def validate_job(job: Job, now: datetime, horizon_days: int = 366) -> list[Problem]:
    """Everything `hydra schedule check` reports for a job, checked over a year of runs."""
    problems: list[Problem] = []
    if not job.source.is_file():
        problems.append(Problem("warning", job.name, f"notebook {job.notebook} does not exist "
                                f"yet; `hydra run {job.name}` refuses until it does"))
    else:
        import papermill

        declared = papermill.inspect_notebook(str(job.source))
        unknown = [k for k in job.parameters if k not in declared]
        if unknown:
            problems.append(Problem("error", job.name, f"parameter(s) {', '.join(unknown)} are "
                                    f"not declared by {job.notebook}; it declares "
                                    f"{', '.join(declared) or 'none'}"))
    runs = next_runs(job, now, 10**6, horizon_days=horizon_days)
    if not runs:
        problems.append(Problem("error", job.name, f"cron {job.cron!r} never runs on a trading "
                                f"day in the next {horizon_days} days"))
    broken = [msg for run in runs if (msg := window_problem(job, run))]
    if broken:
        problems.append(Problem("error", job.name, f"{len(broken)} of {len(runs)} runs in the "
                                f"next {horizon_days} days break window={job.window!r}; the "
                                f"first: {broken[0]}"))
    return problems



"""A job's runs on the exchange calendar: fire times, closed days, the next and the missed runs, and
which scheduled slot a firing of cron is (or that it is the other DST offset's)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from cronsim import CronSim

from hydra.ops.schedule.jobs import LATE_START_TOLERANCE, Job


@dataclass(frozen=True)
class ScheduledRun:
    job: str
    local: datetime  # aware, in the job's timezone
    trade_date: date
    skipped: str | None  # why this firing records a SKIPPED run; None: it runs
    session_close: datetime | None  # the trade date's last close, local (early closes show)

    @property
    def utc(self) -> datetime:
        return self.local.astimezone(UTC)


def fire_times(job: Job, after: datetime, until: datetime) -> Iterator[datetime]:
    """Every local time the cron expression names, strictly after `after`, up to `until`."""
    if not job.cron:
        return
    for local in CronSim(job.cron, after.astimezone(job.tz)):
        if local > until:
            return
        yield local


def _market(job: Job):  # -> hydra.reference.markets.Market
    from hydra.reference.markets import get_market

    return get_market(job.market)


def closed_reason(job: Job, day: date) -> str | None:
    """Why a run of `job` on `day` is skipped (exchange closed), or None when it runs."""
    if not job.trading_days_only:
        return None
    from hydra.reference.sessions import non_trading_reason

    return non_trading_reason(_market(job), day)


def _close(job: Job, day: date) -> datetime | None:
    from hydra.reference.sessions import session_windows

    windows = session_windows(_market(job), day)
    return windows[-1][1].astimezone(job.tz) if windows else None


def next_runs(job: Job, after: datetime, count: int, *, include_skipped: bool = False,
              horizon_days: int = 400) -> list[ScheduledRun]:
    """The next `count` runs after `after` (closed days skipped, or listed as skipped)."""
    out: list[ScheduledRun] = []
    runs = 0
    for local in fire_times(job, after, after + timedelta(days=horizon_days)):
        day = local.date()
        why = closed_reason(job, day)
        if why and not include_skipped:
            continue
        out.append(ScheduledRun(job.name, local, day, why, None if why else _close(job, day)))
        runs += 0 if why else 1
        if runs >= count:
            break
    return out


def missed_runs(job: Job, since: datetime, now: datetime, recorded: set[date],
                grace: timedelta = timedelta(minutes=30)) -> list[ScheduledRun]:
    """Scheduled runs on open days after `since` (and over by `grace`) with no record at all.

    Any indexed run for the trade date counts (succeeded, failed or skipped): a missing one
    means cron never fired, the machine was down, or the lock refused every firing.
    """
    out: list[ScheduledRun] = []
    for local in fire_times(job, since, now - grace):
        day = local.date()
        if closed_reason(job, day) is None and day not in recorded:
            out.append(ScheduledRun(job.name, local, day, None, _close(job, day)))
    return out


def due_slot(job: Job, now: datetime,
             tolerance: timedelta = LATE_START_TOLERANCE) -> datetime | None:
    """The scheduled local time this firing belongs to, or None when `now` is not one.

    `now` must be within `tolerance` after a time the cron expression names in the job's zone;
    cron's other-DST-offset firing is an hour away from any such time and gets None.
    """
    if not job.cron:
        return None
    start = now.astimezone(job.tz).replace(microsecond=0) + timedelta(seconds=1)
    previous = next(CronSim(job.cron, start, reverse=True))
    return previous if timedelta(0) <= now - previous <= tolerance else None



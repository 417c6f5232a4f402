"""Cron lines: the host-time lines a job's local-time expression maps to (both DST offsets), the
command each line runs under flock, and the block of them with its header."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim

from hydra.ops.schedule.calendar import fire_times
from hydra.ops.schedule.jobs import (
    BLOCK_BEGIN,
    BLOCK_END,
    DEFAULT_JOBS_FILE,
    FLOCK_BUSY,
    Job,
    ScheduleError,
    jobs_file,
)


def host_timezone(name: str | None = None) -> tuple[tzinfo, str]:
    """The zone the host's cron daemon reads crontab times in: /etc/localtime (Debian's cron
    ignores CRON_TZ and TZ lines), or `name` when given."""
    if name:
        try:
            return ZoneInfo(name), name
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(f"host timezone {name!r} is not an IANA zone") from None
    localtime = Path("/etc/localtime")
    try:
        target = os.readlink(localtime)
        if "zoneinfo/" in target:
            zone = target.split("zoneinfo/", 1)[1]
            return ZoneInfo(zone), zone
    except (OSError, ZoneInfoNotFoundError, ValueError):
        pass
    try:
        zone = Path("/etc/timezone").read_text().strip()
        return ZoneInfo(zone), zone
    except (OSError, ZoneInfoNotFoundError, ValueError):
        pass
    if localtime.is_file():
        with localtime.open("rb") as fh:
            return ZoneInfo.from_file(fh, key="localtime"), str(localtime)
    return ZoneInfo("UTC"), "UTC"


@dataclass(frozen=True)
class CronLine:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    dows: tuple[int, ...]  # cron numbering, 0 = Sunday

    @property
    def spec(self) -> str:
        return f"{_ranges(self.minutes)} {_ranges(self.hours)} * * {_ranges(self.dows, 7)}"


def _ranges(values: tuple[int, ...], full: int | None = None) -> str:
    if full is not None and len(values) == full:
        return "*"
    parts: list[str] = []
    run: list[int] = []
    for v in sorted(values):
        if run and v == run[-1] + 1:
            run.append(v)
            continue
        if run:
            parts.append(f"{run[0]}-{run[-1]}" if len(run) > 2 else ",".join(map(str, run)))
        run = [v]
    if run:
        parts.append(f"{run[0]}-{run[-1]}" if len(run) > 2 else ",".join(map(str, run)))
    return ",".join(parts)


def host_cron_lines(job: Job, host_tz: tzinfo, start: datetime) -> list[CronLine]:
    """Host-time cron lines that fire at least at every local time of the job over a year.

    A superset on purpose: with a DST offset that differs from the host's, each local time maps
    to two host times, and `hydra run --scheduled` drops the firing that is not a scheduled time.
    Day-of-month and month restrictions fire daily and are left to that check too.
    """
    fields = job.cron.split()
    restricted_days = fields[2] != "*" or fields[3] != "*"
    at: dict[tuple[int, int], set[int]] = {}
    for local in fire_times(job, start, start + timedelta(days=371)):
        host = local.astimezone(host_tz)
        at.setdefault((host.minute, host.hour), set()).add(host.isoweekday() % 7)
    grouped: dict[tuple[int, tuple[int, ...]], list[int]] = {}
    for (minute, hour), dows in at.items():
        key = (hour, tuple(range(7)) if restricted_days else tuple(sorted(dows)))
        grouped.setdefault(key, []).append(minute)
    lines = [CronLine(tuple(sorted(m)), (h,), d) for (h, d), m in grouped.items()]
    return sorted(lines, key=lambda c: (c.hours, c.minutes, c.dows))


@dataclass(frozen=True)
class CronTarget:
    """What the crontab lines call, all absolute: cron's PATH and environment are minimal."""

    hydra: Path
    flock: Path
    data_dir: Path
    jobs_file: Path | None = None  # passed on only when it is not the default
    config: Path | None = None  # HYDRA_CONFIG, passed on when the operator uses one

    def log_file(self, job: Job) -> Path:
        return self.data_dir / "logs" / f"{job.name}.log"

    def lock_file(self, job: Job) -> Path:
        return self.data_dir / "runs" / "locks" / f"{job.name}.cron.lock"


def default_target(data_dir: Path, jobs: Path | None = None) -> CronTarget:
    """The installed `hydra` next to this interpreter, the system's flock."""
    import shutil
    import sys

    hydra = Path(sys.executable).parent / "hydra"
    if not hydra.is_file():
        raise ScheduleError(f"no installed `hydra` next to {sys.executable}; install Hydra "
                            "(scripts/setup) and run this command with the venv's hydra")
    flock = shutil.which("flock") or "/usr/bin/flock"
    if not Path(flock).is_file():
        raise ScheduleError("no `flock` command (util-linux); install it: apt-get install "
                            "util-linux")
    jobs = jobs_file(jobs)
    config = os.environ.get("HYDRA_CONFIG")
    return CronTarget(hydra=hydra.absolute(), flock=Path(flock), data_dir=data_dir.absolute(),
                      jobs_file=None if jobs == DEFAULT_JOBS_FILE.resolve() else jobs,
                      config=Path(config).absolute() if config else None)


def _q(value: str | Path) -> str:
    text = str(value)
    if "%" in text or "\n" in text:
        raise ScheduleError(f"{text!r} cannot go into a crontab line ('%' and newlines are "
                            "special there); use a path without them")
    return shlex.quote(text)


def cron_command(job: Job, target: CronTarget) -> str:
    """The shell command of a job's crontab lines."""
    args: list[str | Path] = []
    if target.config:
        args += ["/usr/bin/env", f"HYDRA_CONFIG={target.config}"]
    args += [target.hydra, "run", job.name, "--scheduled", "--data-dir", target.data_dir]
    if target.jobs_file:
        args += ["--schedules", target.jobs_file]
    log = _q(target.log_file(job))
    busy = (f"echo \"$(date -u -Iseconds) hydra cron: {job.name} is still running from an "
            f"earlier firing; this firing did nothing\" >> {log}")
    return (f"{_q(target.flock)} -n -E {FLOCK_BUSY} {_q(target.lock_file(job))} "
            f"{' '.join(_q(a) for a in args)} >> {log} 2>&1; test $? -ne {FLOCK_BUSY} || {busy}")


def render_block(jobs: dict[str, Job], target: CronTarget, host_tz: tzinfo, host_tz_name: str,
                 start: datetime) -> str:
    """The marked crontab block; the same inputs give the same text (installs are idempotent)."""
    lines = [
        f"{BLOCK_BEGIN}: managed by `hydra schedule install`; edit the jobs file, then reinstall",
        f"# Jobs file: {target.jobs_file or DEFAULT_JOBS_FILE}. This cron reads times in "
        f"{host_tz_name}.",
        "# Each job fires at every host time its local time maps to (both DST offsets); "
        "`hydra run --scheduled`",
        "# runs only the firing that is the scheduled local time, and records closed exchange "
        "days as SKIPPED.",
        f"# Logs: {target.data_dir / 'logs'}/JOB.log",
    ]
    for job in sorted(jobs.values(), key=lambda j: j.name):
        if not job.cron:
            continue
        days = (f"{job.calendar} trading days" if job.trading_days_only else "every day")
        lines.append(f"# {job.name}: '{job.cron}' in {job.timezone} "
                     f"({CronSim(job.cron, start).explain()}), {days}")
        command = cron_command(job, target)
        lines += [f"{c.spec} {command}" for c in host_cron_lines(job, host_tz, start)]
    lines.append(BLOCK_END)
    return "\n".join(lines) + "\n"



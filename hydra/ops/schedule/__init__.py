"""Scheduled jobs: definitions from schedules/jobs.toml, their runs on the exchange calendar, and
the crontab block that fires them.

Time model. A job's cron expression is read in the job's timezone (America/Chicago), never the
host's. Debian's cron ignores CRON_TZ and reads every line in the host's zone (usually UTC), so a
fixed host time cannot follow Chicago across DST. The block therefore fires each job at every
host time its local time maps to during a year (10:00 Chicago -> 15:00 and 16:00 UTC), and
`hydra run JOB --scheduled` decides: it runs only when "now" is a scheduled local time (within
LATE_START_TOLERANCE, well under the one-hour DST shift) and records nothing for the other
firing. On a closed exchange day the scheduled run is recorded as SKIPPED. A run's trade date
is its local calendar date in the job's timezone.

Light at import (cron starts it): cronsim, zoneinfo, tomllib. The exchange calendar (pandas)
loads only when a trading day is asked about.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tempfile
import tomllib
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from hydra.paths import REPO_DIR

DEFAULT_JOBS_FILE = REPO_DIR / "schedules" / "jobs.toml"
JOBS_FILE_ENV = "HYDRA_SCHEDULES"
CRONTAB_FILE_ENV = "HYDRA_CRONTAB_FILE"
# A firing this late after a scheduled local time still counts as that slot; it must stay well
# below the one-hour DST shift so the other-offset firing never does.
LATE_START_TOLERANCE = timedelta(minutes=15)
RESERVED_PARAMETERS = ("as_of", "data_dir", "run_id")
RUN_ON = ("trading-days", "every-day")
WINDOWS = ("session", "after-close", "any")
BLOCK_BEGIN = "# BEGIN HYDRA SCHEDULE"
BLOCK_END = "# END HYDRA SCHEDULE"
FLOCK_BUSY = 75  # flock's exit code when the previous firing of the job still runs

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class ScheduleError(ValueError):
    """The jobs file, a job or the crontab is wrong; the message says what to fix."""


# --------------------------------------------------------------------------------------------
# Job definitions
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Job:
    name: str
    notebook: str  # relative to the checkout, or absolute
    folder: str  # audit-trail folder under <data_dir>/runs
    timezone: str = "America/Chicago"
    cron: str = ""  # empty: run by hand only
    market: str = "ZO"
    calendar: str = ""
    run_on: str = "trading-days"
    window: str = "any"
    min_minutes_before_close: int = 0
    timeout: int = 900
    on_failure: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def source(self) -> Path:
        """The notebook papermill runs."""
        return REPO_DIR / self.notebook

    @property
    def notebook_label(self) -> str:
        """The notebook as the run index records it: relative to the checkout when inside it."""
        try:
            return str(self.source.resolve().relative_to(REPO_DIR.resolve()))
        except ValueError:
            return str(self.source)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def trading_days_only(self) -> bool:
        return self.run_on == "trading-days"


_KEYS = {"description", "notebook", "cron", "timezone", "market", "calendar", "run_on",
         "window", "min_minutes_before_close", "timeout", "on_failure", "parameters", "folder"}
_REQUIRED = ("notebook", "cron", "timezone", "market")


def _expect(name: str, key: str, value: Any, kind: type) -> Any:
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        raise ScheduleError(f"job {name}: {key} must be {kind.__name__}, got {value!r}")
    return value


def parse_cron(expr: str, job: str = "?") -> str:
    """A 5-field cron expression, checked by cronsim (the same parser that computes the runs)."""
    text = " ".join(str(expr).split())
    if len(text.split()) != 5:
        raise ScheduleError(f"job {job}: cron {expr!r} must have 5 fields: minute hour "
                            "day-of-month month day-of-week (e.g. '0 10 * * 1-5')")
    try:
        CronSim(text, datetime(2026, 1, 1))
    except CronSimError as exc:
        raise ScheduleError(f"job {job}: cron {expr!r} is invalid: {exc}") from None
    return text


def _parse_job(name: str, spec: Any, source: str) -> Job:
    from hydra.reference.markets import UnknownMarketError, get_market

    if not _NAME.match(name):
        raise ScheduleError(f"{source}: job name {name!r} must be lower-case letters, digits "
                            "and '-' (it names files, locks and log files)")
    if not isinstance(spec, dict):
        raise ScheduleError(f"{source}: [jobs.{name}] must be a table")
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise ScheduleError(f"{source}: job {name}: unknown key(s) {', '.join(unknown)}; "
                            f"known: {', '.join(sorted(_KEYS))}")
    missing = [k for k in _REQUIRED if k not in spec]
    if missing:
        raise ScheduleError(f"{source}: job {name} lacks {', '.join(missing)}")
    for key in ("description", "notebook", "cron", "timezone", "market", "calendar", "run_on",
                "window", "on_failure", "folder"):
        if key in spec:
            _expect(name, key, spec[key], str)
    for key in ("min_minutes_before_close", "timeout"):
        if key in spec:
            _expect(name, key, spec[key], int)
    cron = parse_cron(spec["cron"], name)
    try:
        ZoneInfo(spec["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"job {name}: timezone {spec['timezone']!r} is not an IANA zone "
                            "(e.g. America/Chicago)") from None
    try:
        market = get_market(spec["market"])
    except UnknownMarketError as exc:
        raise ScheduleError(f"job {name}: {exc}") from None
    calendar = spec.get("calendar", market.calendar)
    if calendar != market.calendar:
        raise ScheduleError(f"job {name}: calendar {calendar!r} is not market {market.symbol}'s "
                            f"calendar {market.calendar!r}; fix one of them")
    run_on = spec.get("run_on", "trading-days")
    if run_on not in RUN_ON:
        raise ScheduleError(f"job {name}: run_on must be one of {', '.join(RUN_ON)}")
    window = spec.get("window", "any")
    if window not in WINDOWS:
        raise ScheduleError(f"job {name}: window must be one of {', '.join(WINDOWS)}")
    minutes = spec.get("min_minutes_before_close", 0)
    if minutes < 0:
        raise ScheduleError(f"job {name}: min_minutes_before_close must be >= 0")
    timeout = spec.get("timeout", 900)
    if timeout < 1:
        raise ScheduleError(f"job {name}: timeout must be at least 1 second")
    params = spec.get("parameters", {})
    if not isinstance(params, dict):
        raise ScheduleError(f"job {name}: parameters must be a table")
    for key, value in params.items():
        if key in RESERVED_PARAMETERS:
            raise ScheduleError(f"job {name}: parameter {key} is set by `hydra run` itself; "
                                "remove it from the jobs file")
        if not isinstance(value, str | int | float | bool):
            raise ScheduleError(f"job {name}: parameter {key} must be a string, number or "
                                f"boolean, got {value!r}")
    if "market" in params and str(params["market"]).upper() != market.symbol:
        raise ScheduleError(f"job {name}: parameter market={params['market']!r} trades another "
                            f"market than the job's calendar market {market.symbol}")
    return Job(
        name=name, notebook=spec["notebook"], folder=spec.get("folder", name.replace("-", "_")),
        timezone=spec["timezone"], cron=cron, market=market.symbol, calendar=calendar,
        run_on=run_on, window=window, min_minutes_before_close=minutes, timeout=timeout,
        on_failure=spec.get("on_failure", ""), parameters=dict(params),
        description=spec.get("description", ""),
    )


def parse_jobs(text: str, source: str) -> dict[str, Job]:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScheduleError(f"{source} is not valid TOML: {exc}") from None
    extra = sorted(set(raw) - {"jobs"})
    if extra:
        raise ScheduleError(f"{source}: unknown top-level key(s) {', '.join(extra)}; jobs go "
                            "in [jobs.NAME] tables")
    jobs = raw.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        raise ScheduleError(f"{source} defines no jobs (add a [jobs.NAME] table)")
    out: dict[str, Job] = {}
    errors: list[str] = []
    for name, spec in jobs.items():
        try:
            out[name] = _parse_job(name, spec, source)
        except ScheduleError as exc:
            errors.append(str(exc))
    if errors:
        raise ScheduleError(f"{source} has errors:\n  - " + "\n  - ".join(errors))
    return out


def jobs_file(value: str | os.PathLike[str] | None = None) -> Path:
    """--schedules, else HYDRA_SCHEDULES, else schedules/jobs.toml in the checkout."""
    chosen = value or os.environ.get(JOBS_FILE_ENV) or DEFAULT_JOBS_FILE
    return Path(chosen).expanduser().resolve()


def load_jobs(path: Path | None = None) -> dict[str, Job]:
    path = jobs_file(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScheduleError(f"cannot read the jobs file {path}: {exc.strerror or exc}") from None
    return parse_jobs(text, str(path))


class JobTable(MutableMapping[str, Job]):
    """The jobs, loaded from the jobs file on first use (a bad file fails the command that needs
    it, not every import). Items set here (tests, embedding code) override the file's."""

    def __init__(self) -> None:
        self._path: Path | None = None
        self._loaded: tuple[Path, dict[str, Job]] | None = None
        self._overrides: dict[str, Job] = {}

    @property
    def path(self) -> Path:
        return jobs_file(self._path)

    def use_file(self, path: str | os.PathLike[str] | None) -> None:
        self._path = Path(path) if path else None

    def file_jobs(self) -> dict[str, Job]:
        path = self.path
        if self._loaded is None or self._loaded[0] != path:
            self._loaded = (path, load_jobs(path))
        return self._loaded[1]

    def _all(self) -> dict[str, Job]:
        return {**self.file_jobs(), **self._overrides}

    def __getitem__(self, name: str) -> Job:
        if name in self._overrides:
            return self._overrides[name]
        return self.file_jobs()[name]

    def __setitem__(self, name: str, job: Job) -> None:
        self._overrides[name] = job

    def __delitem__(self, name: str) -> None:
        del self._overrides[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __contains__(self, name: object) -> bool:
        return name in self._overrides or name in self.file_jobs()


JOBS = JobTable()


# --------------------------------------------------------------------------------------------
# Runs on the calendar
# --------------------------------------------------------------------------------------------
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


def _market(job: Job):  # -> hydra.markets.Market
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


# --------------------------------------------------------------------------------------------
# The crontab block
# --------------------------------------------------------------------------------------------
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


def split_block(text: str) -> tuple[str, str | None]:
    """(the crontab without Hydra's block, the block or None)."""
    rows = text.splitlines(keepends=True)
    begins = [i for i, r in enumerate(rows) if r.startswith(BLOCK_BEGIN)]
    ends = [i for i, r in enumerate(rows) if r.rstrip("\n") == BLOCK_END]
    if not begins and not ends:
        return text, None
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise ScheduleError(f"the crontab has a damaged Hydra block ({len(begins)} begin and "
                            f"{len(ends)} end marker lines); remove the lines between "
                            f"'{BLOCK_BEGIN}' and '{BLOCK_END}' by hand (crontab -e) and reinstall")
    b, e = begins[0], ends[0]
    return "".join(rows[:b] + rows[e + 1:]), "".join(rows[b:e + 1])


def with_block(text: str, block: str) -> str:
    """The crontab with Hydra's block at its end (after every line of the user's own)."""
    rest, _ = split_block(text)
    if rest and not rest.endswith("\n"):
        rest += "\n"
    return rest + block


class CrontabStore:
    """Where the crontab lives: the user's (through the `crontab` command) or a file (tests, or a
    system cron directory). Only the marked block is ever changed."""

    def __init__(self, file: Path | None = None) -> None:
        self.file = file

    @classmethod
    def from_option(cls, value: str | None) -> CrontabStore:
        chosen = value or os.environ.get(CRONTAB_FILE_ENV)
        return cls(Path(chosen).expanduser().absolute() if chosen else None)

    def describe(self) -> str:
        return f"crontab file {self.file}" if self.file else "your user crontab (crontab -l)"

    def read(self) -> str:
        if self.file is not None:
            try:
                return self.file.read_text()
            except FileNotFoundError:
                return ""
        proc = self._crontab(["-l"])
        if proc.returncode != 0:
            if "no crontab for" in proc.stderr:
                return ""
            raise ScheduleError(f"`crontab -l` failed: {proc.stderr.strip()}")
        return proc.stdout

    def write(self, text: str) -> None:
        if self.file is not None:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.file.parent, prefix=".crontab-")
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
            os.replace(tmp, self.file)
            return
        proc = self._crontab(["-"], text)
        if proc.returncode != 0:
            raise ScheduleError(f"`crontab -` refused the new crontab: {proc.stderr.strip()}")

    def _crontab(self, args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(["crontab", *args], input=stdin, capture_output=True,
                                  text=True, timeout=30)
        except FileNotFoundError:
            raise ScheduleError("no `crontab` command on this machine: install and start cron "
                                "(apt-get install cron; service cron start), or pass --crontab-file"
                                f" / set {CRONTAB_FILE_ENV} to write a file") from None
        except subprocess.TimeoutExpired:
            raise ScheduleError("`crontab` did not answer within 30 s") from None

    def installed_block(self) -> str | None:
        return split_block(self.read())[1]

    def install(self, block: str) -> bool:
        """Put the block in (replacing an older one); True when the crontab changed."""
        old = self.read()
        new = with_block(old, block)
        if new == old:
            return False
        self.write(new)
        return True

    def uninstall(self) -> bool:
        """Take the block out; True when there was one."""
        old = self.read()
        rest, block = split_block(old)
        if block is None:
            return False
        self.write(rest)
        return True


def cron_daemon_running() -> bool | None:
    """Whether a cron daemon process is visible (None when /proc cannot tell)."""
    names = {"cron", "crond", "cronie", "busybox-crond"}
    try:
        for comm in Path("/proc").glob("[0-9]*/comm"):
            try:
                if comm.read_text().strip() in names:
                    return True
            except OSError:
                continue
    except OSError:
        return None
    return False


@dataclass(frozen=True)
class InstallPlan:
    """The block `hydra schedule install` would put in the crontab, and where."""

    block: str
    store: CrontabStore
    target: CronTarget
    host_tz_name: str

    def state(self) -> str:
        """"installed", "stale" (an older block: reinstall) or "not installed"."""
        block = self.store.installed_block()
        if block is None:
            return "not installed"
        return "installed" if block == self.block else "stale"


def plan_install(data_dir: Path, *, jobs: str | None = None, crontab_file: str | None = None,
                 cron_timezone: str | None = None, now: datetime | None = None) -> InstallPlan:
    jobs_path = jobs_file(jobs)
    table = load_jobs(jobs_path)
    tz, tz_name = host_timezone(cron_timezone)
    target = default_target(data_dir, jobs_path)
    block = render_block(table, target, tz, tz_name, now or datetime.now(UTC))
    return InstallPlan(block, CrontabStore.from_option(crontab_file), target, tz_name)


def install(plan: InstallPlan) -> bool:
    """Install the plan's block (creating its log and lock folders); True if the crontab changed."""
    (plan.target.data_dir / "logs").mkdir(parents=True, exist_ok=True)
    (plan.target.data_dir / "runs" / "locks").mkdir(parents=True, exist_ok=True)
    return plan.store.install(plan.block)

"""The jobs file (schedules/jobs.toml): each job's notebook, cron expression read in the
market's timezone, calendar, window, timeout and on_failure, parsed and checked."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from hydra.domain.errors import HydraError
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


class ScheduleError(HydraError, ValueError):
    """The jobs file, a job or the crontab is wrong; the message says what to fix."""


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


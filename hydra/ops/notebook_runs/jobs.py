"""The jobs a run can be of (the jobs file's, by name) and the errors a run raises."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hydra.domain.errors import HydraError

if TYPE_CHECKING:
    from hydra.ops.schedule import Job

STATUSES = ("running", "succeeded", "failed", "skipped")


class RunError(HydraError, RuntimeError):
    """A run could not start (bad job, parameter name, or data directory); nothing ran."""


class JobBusyError(RunError):
    """The same job is already running; this run did not start."""


def get_job(name: str) -> Job:
    """A job from the jobs file (schedules/jobs.toml), or a clear error naming the known ones."""
    from hydra.ops.schedule import JOBS, ScheduleError  # the calendar: not for every reader

    try:
        if name in JOBS:
            return JOBS[name]
        known = ", ".join(sorted(JOBS))
    except ScheduleError as exc:
        raise RunError(str(exc)) from None
    raise RunError(f"unknown job {name!r}; jobs are: {known} (defined in {JOBS.path})")

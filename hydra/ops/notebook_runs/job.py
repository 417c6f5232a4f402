"""`hydra run JOB`: the calendar (a closed day is SKIPPED), the lock, the run, and the
on-failure command."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from hydra import __version__
from hydra.ops.notebook_runs.execution import (
    EarlyKernel,
    RunResult,
    _as_of_for,
    execute,
    git_commit,
    notebook_imports,
)
from hydra.ops.notebook_runs.index import RunIndex, RunRecord, _now
from hydra.ops.notebook_runs.jobs import RunError, get_job
from hydra.ops.notebook_runs.locks import _note_run_in_lock, job_lock
from hydra.ops.notebook_runs.params import notebook_parameters
from hydra.ops.schedule import JOBS, Job, closed_reason, due_slot
from hydra.paths import DataPaths, ensure_writable


@dataclass(frozen=True)
class JobOutcome:
    kind: str  # "ran" | "skipped" | "not-due" | "already-ran"
    job: Job
    message: str
    result: RunResult | None = None

    @property
    def exit_code(self) -> int:
        if self.kind == "ran" and self.result is not None and not self.result.ok:
            return 1
        return 0


def run_job(job_name: str, data_dir: Path, *, as_of: str | None = None,
            parameters: dict[str, Any] | None = None, timeout: int | None = None,
            scheduled: bool = False, now: datetime | None = None,
            even_if_closed: bool = False, kernel: EarlyKernel | None = None) -> JobOutcome:
    """What `hydra run` (and cron) does: decide, lock, run or skip, record.

    scheduled: a cron firing; it runs only if `now` is a scheduled local time of the job (the
    other DST offset's firing returns "not-due" and records nothing) and at most once per slot.
    On a closed exchange day a trading-days job records a SKIPPED run and executes nothing.
    kernel: one `early_kernel` started for this run; the caller closes it when the run did
    not go ahead (it is closed here once it ran the notebook). Without one, the kernel starts
    once the lock is held and the exchange is open.
    Raises RunError (nothing ran) or JobBusyError (the job is running already).
    """
    job = get_job(job_name)
    now = now or datetime.now(UTC)
    slot: datetime | None = None
    if scheduled:
        if as_of:
            raise RunError("--scheduled takes the trade date from the clock; drop --as-of")
        slot = due_slot(job, now)
        if slot is None:
            local = now.astimezone(job.tz)
            return JobOutcome("not-due", job, (
                f"{local:%Y-%m-%d %H:%M %Z} is not a scheduled time of {job.name} "
                f"('{job.cron}' in {job.timezone}); this is cron's firing for the other DST "
                "offset: nothing to do, nothing recorded"))
    if not job.source.is_file():
        raise RunError(f"job {job.name}: its notebook {job.notebook} does not exist yet, so the "
                       f"job cannot run (it is defined in {JOBS.path}); add the notebook, or "
                       "remove the job and reinstall the schedule")
    ensure_writable(data_dir)
    paths = DataPaths(data_dir)
    params = {**job.parameters, **(parameters or {})}
    day = slot.date().isoformat() if slot is not None else _as_of_for(job, as_of, params)
    try:
        trade_date = date.fromisoformat(day)
    except ValueError:
        raise RunError(f"as_of must be a date like 2026-11-27, got {day!r}") from None
    slot_utc = slot.astimezone(UTC).isoformat(timespec="seconds") if slot else None
    with job_lock(paths, job) as fd:
        if paths.run_index.exists():  # we hold the lock: a "running" run of this job is dead
            index = RunIndex(paths.run_index)
            index.mark_interrupted(job.name, f"hydra run {job.name} at {_now()}")
            index.close()
        if slot_utc and paths.run_index.exists():
            index = RunIndex(paths.run_index)
            earlier = index.for_slot(job.name, slot_utc)
            index.close()
            if earlier is not None:
                return JobOutcome("already-ran", job, (
                    f"{job.name} already ran for the slot {slot:%Y-%m-%d %H:%M %Z} "
                    f"(run {earlier.run_id}, {earlier.status}); nothing to do"))
        why = None if even_if_closed else closed_reason(job, trade_date)
        if why:
            rec = _record_skipped(paths, job, day, params, why, slot_utc)
            _note_run_in_lock(fd, rec.run_id)
            return JobOutcome("skipped", job, (
                f"{job.name} {day}: SKIPPED, {why}; no notebook executed (run {rec.run_id} "
                "recorded)"), RunResult(rec, None))
        # boots, and loads what the notebook imports, on another core while the run is
        # checked and indexed
        if kernel is None:
            kernel = EarlyKernel(preload=notebook_imports(job.source))
        try:
            declared = notebook_parameters(job.source)
            unknown = [k for k in params if k not in declared]
            if unknown:
                raise RunError(f"job {job.name}: parameter(s) {', '.join(unknown)} are not "
                               f"declared by {job.notebook}; it declares {', '.join(declared)}")
            result = execute(job.name, data_dir, as_of=day, parameters=params,
                             timeout=job.timeout if timeout is None else timeout,
                             scheduled_for=slot_utc, kernel=kernel)
        finally:
            kernel.close(now=True)  # a no-op after execute; kills one that never ran code
        rec = result.record
        message = f"run {rec.run_id} {rec.status}" + (f": {rec.reason}" if rec.reason else "")
        return JobOutcome("ran", job, message, result)


def early_kernel(job: Job, *, scheduled: bool = False,
                 now: datetime | None = None) -> EarlyKernel | None:
    """The kernel for a run of `job` that may go ahead, started before the run is checked, so
    that its start and the notebook's imports (seconds, on another core) overlap the parameter,
    config and calendar checks and the lock. None when the run certainly will not execute (no
    notebook; a cron firing at no scheduled time). A kernel started for a run that is then
    refused or skipped ran nothing: the caller kills it (`close(now=True)`)."""
    if not job.source.is_file():
        return None
    if scheduled and due_slot(job, now or datetime.now(UTC)) is None:
        return None
    return EarlyKernel(preload=notebook_imports(job.source))


def _record_skipped(paths: DataPaths, job: Job, day: str, params: dict[str, Any], why: str,
                    slot_utc: str | None) -> RunRecord:
    run_id = uuid.uuid4().hex[:10]
    now = _now()
    rec = RunRecord(
        run_id=run_id, job=job.name, notebook=job.notebook_label, as_of=day,
        parameters={**params, "as_of": day, "data_dir": str(paths.root), "run_id": run_id},
        started_at=now, ended_at=now, status="skipped", reason=why, output_path=None,
        sha256=None, hydra_version=__version__, git_commit=git_commit(), summary=None,
        scheduled_for=slot_utc,
    )
    index = RunIndex(paths.run_index)
    try:
        index.add(rec)
    finally:
        index.close()
    return rec

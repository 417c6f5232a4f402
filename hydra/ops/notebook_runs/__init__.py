"""Notebook runs into the audit trail. The package is the one entry point (`from hydra.ops import
runs`); each module is one concept:

    jobs       which job a run is of (the jobs file's), and the errors a run raises
    index      the run index (SQLite): one record per run, its outcome, sha256 and code version
    params     notebook parameters typed from the CLI's text
    evidence   what a run's cycle sent (orders at the broker and in the journal), its summary
    marking    a failed run's notebook marked on its first screen (timeout, dead kernel, ...)
    execution  one papermill execution into a new notebook, never over an existing file
    locks      one run of a job at a time (flock), and runs whose process died
    on_failure the job's on_failure command, with the run's details in its environment
    job        `hydra run JOB`: the calendar, the lock, the run, the on-failure command
    audit      `hydra runs verify`: the audit trail against its index
    readback   reading runs back: scraps and the history across runs

Every run writes a new executed notebook under <data_dir>/runs/<job>/YYYY/MM/DD/ (the trade
date), named <UTC start time>Z-<run id>.ipynb. This package stays free of the trading core's
imports (cron runs it): papermill, pandas and the calendar load inside functions.

May import: reference, domain and the leaves; ops.schedule and ops.kernels.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hydra.ops.notebook_runs.audit import (
        VerifyIssue,
        VerifyReport,
        notebook_damage,
        verify,
    )
    from hydra.ops.notebook_runs.evidence import (
        CycleOrders,
        cycle_orders,
        orders_sent,
        read_summary,
    )
    from hydra.ops.notebook_runs.execution import (
        JOB_TIMEOUT,
        EarlyKernel,
        RunResult,
        execute,
        git_commit,
        output_path_for,
        sha256_of,
    )
    from hydra.ops.notebook_runs.index import (
        SCHEMA_VERSION,
        RunIndex,
        RunRecord,
    )
    from hydra.ops.notebook_runs.job import (
        JobOutcome,
        early_kernel,
        run_job,
    )
    from hydra.ops.notebook_runs.jobs import (
        STATUSES,
        JobBusyError,
        RunError,
        get_job,
    )
    from hydra.ops.notebook_runs.locks import (
        is_running,
        job_lock,
        lock_path,
        reap_dead_runs,
    )
    from hydra.ops.notebook_runs.on_failure import (
        ON_FAILURE_TIMEOUT,
        run_on_failure,
    )
    from hydra.ops.notebook_runs.params import (
        coerce_parameters,
        notebook_parameters,
    )
    from hydra.ops.notebook_runs.readback import (
        history,
        read_scraps,
    )
    from hydra.ops.schedule import JOBS, Job
    from hydra.paths import NOTEBOOKS_DIR

# Names load with their module on first use (PEP 562): `hydra runs list` needs the index and
# the locks only, not papermill's execution, the audit or the schedule's calendar (~35 ms of
# every such command's start-up).
_EXPORTS = {
    "VerifyIssue": "hydra.ops.notebook_runs.audit",
    "VerifyReport": "hydra.ops.notebook_runs.audit",
    "notebook_damage": "hydra.ops.notebook_runs.audit",
    "verify": "hydra.ops.notebook_runs.audit",
    "CycleOrders": "hydra.ops.notebook_runs.evidence",
    "cycle_orders": "hydra.ops.notebook_runs.evidence",
    "orders_sent": "hydra.ops.notebook_runs.evidence",
    "read_summary": "hydra.ops.notebook_runs.evidence",
    "EarlyKernel": "hydra.ops.notebook_runs.execution",
    "JOB_TIMEOUT": "hydra.ops.notebook_runs.execution",
    "RunResult": "hydra.ops.notebook_runs.execution",
    "execute": "hydra.ops.notebook_runs.execution",
    "git_commit": "hydra.ops.notebook_runs.execution",
    "output_path_for": "hydra.ops.notebook_runs.execution",
    "sha256_of": "hydra.ops.notebook_runs.execution",
    "RunIndex": "hydra.ops.notebook_runs.index",
    "RunRecord": "hydra.ops.notebook_runs.index",
    "SCHEMA_VERSION": "hydra.ops.notebook_runs.index",
    "JobOutcome": "hydra.ops.notebook_runs.job",
    "early_kernel": "hydra.ops.notebook_runs.job",
    "run_job": "hydra.ops.notebook_runs.job",
    "JobBusyError": "hydra.ops.notebook_runs.jobs",
    "RunError": "hydra.ops.notebook_runs.jobs",
    "STATUSES": "hydra.ops.notebook_runs.jobs",
    "get_job": "hydra.ops.notebook_runs.jobs",
    "is_running": "hydra.ops.notebook_runs.locks",
    "job_lock": "hydra.ops.notebook_runs.locks",
    "lock_path": "hydra.ops.notebook_runs.locks",
    "reap_dead_runs": "hydra.ops.notebook_runs.locks",
    "ON_FAILURE_TIMEOUT": "hydra.ops.notebook_runs.on_failure",
    "run_on_failure": "hydra.ops.notebook_runs.on_failure",
    "coerce_parameters": "hydra.ops.notebook_runs.params",
    "notebook_parameters": "hydra.ops.notebook_runs.params",
    "history": "hydra.ops.notebook_runs.readback",
    "read_scraps": "hydra.ops.notebook_runs.readback",
    "JOBS": "hydra.ops.schedule",
    "Job": "hydra.ops.schedule",
    "NOTEBOOKS_DIR": "hydra.paths",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "JOBS",
    "JOB_TIMEOUT",
    "NOTEBOOKS_DIR",
    "ON_FAILURE_TIMEOUT",
    "SCHEMA_VERSION",
    "STATUSES",
    "CycleOrders",
    "EarlyKernel",
    "Job",
    "JobBusyError",
    "JobOutcome",
    "RunError",
    "RunIndex",
    "RunRecord",
    "RunResult",
    "VerifyIssue",
    "VerifyReport",
    "coerce_parameters",
    "cycle_orders",
    "early_kernel",
    "execute",
    "get_job",
    "git_commit",
    "history",
    "is_running",
    "job_lock",
    "lock_path",
    "notebook_damage",
    "notebook_parameters",
    "orders_sent",
    "output_path_for",
    "read_scraps",
    "read_summary",
    "reap_dead_runs",
    "run_job",
    "run_on_failure",
    "sha256_of",
    "verify",
]

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

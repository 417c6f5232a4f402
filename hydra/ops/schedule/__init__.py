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

    jobs      the jobs file: Job, load_jobs, JOBS
    calendar  runs on the exchange calendar: next_runs, missed_runs, due_slot
    windows   session/after-close window checks: window_problem, validate_job
    cron      host cron lines and the block: host_cron_lines, render_block
    crontab   the crontab's managed block: CrontabStore, plan_install, install

May import: reference, domain and the leaves.
"""

from __future__ import annotations

from hydra.ops.schedule.calendar import (
    ScheduledRun,
    closed_reason,
    due_slot,
    fire_times,
    missed_runs,
    next_runs,
)
from hydra.ops.schedule.cron import (
    CronLine,
    CronTarget,
    cron_command,
    default_target,
    host_cron_lines,
    host_timezone,
    render_block,
)
from hydra.ops.schedule.crontab import (
    CrontabStore,
    InstallPlan,
    cron_daemon_running,
    install,
    plan_install,
    split_block,
    with_block,
)
from hydra.ops.schedule.jobs import (
    BLOCK_BEGIN,
    BLOCK_END,
    CRONTAB_FILE_ENV,
    DEFAULT_JOBS_FILE,
    FLOCK_BUSY,
    JOBS,
    JOBS_FILE_ENV,
    LATE_START_TOLERANCE,
    RESERVED_PARAMETERS,
    RUN_ON,
    WINDOWS,
    Job,
    JobTable,
    ScheduleError,
    jobs_file,
    load_jobs,
    parse_cron,
    parse_jobs,
)
from hydra.ops.schedule.windows import (
    Problem,
    validate_job,
    window_problem,
)

__all__ = [
    "BLOCK_BEGIN",
    "BLOCK_END",
    "CRONTAB_FILE_ENV",
    "DEFAULT_JOBS_FILE",
    "FLOCK_BUSY",
    "JOBS",
    "JOBS_FILE_ENV",
    "LATE_START_TOLERANCE",
    "RESERVED_PARAMETERS",
    "RUN_ON",
    "WINDOWS",
    "CronLine",
    "CronTarget",
    "CrontabStore",
    "InstallPlan",
    "Job",
    "JobTable",
    "Problem",
    "ScheduleError",
    "ScheduledRun",
    "closed_reason",
    "cron_command",
    "cron_daemon_running",
    "default_target",
    "due_slot",
    "fire_times",
    "host_cron_lines",
    "host_timezone",
    "install",
    "jobs_file",
    "load_jobs",
    "missed_runs",
    "next_runs",
    "parse_cron",
    "parse_jobs",
    "plan_install",
    "render_block",
    "split_block",
    "validate_job",
    "window_problem",
    "with_block",
]

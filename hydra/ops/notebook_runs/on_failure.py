"""The job's on_failure command, run when a run fails (or cannot start), with the run's
details in its environment."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import asdict
from pathlib import Path

from hydra.ops.notebook_runs.index import RunRecord
from hydra.ops.schedule import Job

ON_FAILURE_TIMEOUT = 120  # seconds


def run_on_failure(job: Job, data_dir: Path, *, status: str, reason: str,
                   record: RunRecord | None = None) -> str | None:
    """Run the job's on_failure command with the run's details; say what became of it.

    The details go in environment variables (never spliced into the command line, so a reason
    text cannot inject shell syntax). None when the job has no on_failure command.
    """
    command = job.on_failure.strip()
    if not command:
        return None
    notebook = str(data_dir / record.output_path) if record and record.output_path else ""
    env = dict(os.environ, HYDRA_JOB=job.name, HYDRA_RUN_STATUS=status, HYDRA_RUN_REASON=reason,
               HYDRA_RUN_ID=record.run_id if record else "", HYDRA_RUN_NOTEBOOK=notebook,
               HYDRA_AS_OF=record.as_of if record else "", HYDRA_DATA_DIR=str(data_dir),
               HYDRA_RUN_JSON=json.dumps(asdict(record), default=str) if record else "{}")
    try:
        proc = subprocess.run(command, shell=True, env=env, cwd=str(data_dir),
                              capture_output=True, text=True, timeout=ON_FAILURE_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"on_failure command did not finish within {ON_FAILURE_TIMEOUT} s and was killed"
    except OSError as exc:
        return f"on_failure command could not start: {exc}"
    output = (proc.stdout + proc.stderr).strip()
    tail = f"; its output: {output[-2000:]}" if output else ""
    return f"on_failure command exited {proc.returncode}{tail}"

"""One run of a job at a time: a lock file per job (flock, released by the kernel when the
process dies, so a crash never leaves it stuck), and runs whose process is gone."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from hydra.ops.notebook_runs.index import RunIndex, _now
from hydra.ops.notebook_runs.jobs import JobBusyError
from hydra.paths import DataPaths

if TYPE_CHECKING:
    from hydra.ops.schedule import Job


def lock_path(paths: DataPaths, job_name: str) -> Path:
    return paths.runs_dir / "locks" / f"{job_name}.lock"


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "holder unknown"
    return (f"pid {info.get('pid')} on {info.get('host')}, started {info.get('started_at')}"
            + (f", run {info['run_id']}" if info.get("run_id") else ""))


@contextmanager
def job_lock(paths: DataPaths, job: Job) -> Iterator[int]:
    """Hold the job's lock for the whole run, or raise JobBusyError at once (never wait).

    flock(2) on a file under <data_dir>/runs/locks: the kernel drops it when the holding process
    exits, however it exits, so a crash never leaves a stale lock behind. The descriptor is not
    inherited by the notebook's kernel (PEP 446), which therefore cannot keep it.
    """
    path = lock_path(paths, job.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JobBusyError(
                f"job {job.name} is already running ({_holder(path)}); this run did not start. "
                f"Let it finish (`hydra runs list --job {job.name} --status running`); the "
                "lock is released as soon as that process ends.") from None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started_at": _now(),
                "argv": sys.argv}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield fd
    finally:
        os.close(fd)  # releases the lock


def _note_run_in_lock(fd: int, run_id: str) -> None:
    try:
        info = json.loads(os.pread(fd, 65536, 0) or b"{}")
        info["run_id"] = run_id
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
    except (OSError, ValueError):
        pass


def reap_dead_runs(paths: DataPaths, found_by: str) -> list[str]:
    """Mark failed (interrupted) every run indexed as running whose job lock nobody holds:
    the lock is taken before a run is indexed and dropped only when its process ends, so a
    free lock means the process is gone. Readers call this, so no dead run shows as running."""
    if not paths.run_index.exists():
        return []
    index = RunIndex(paths.run_index)
    try:
        dead: list[str] = []
        for job in index.running_jobs():
            if not is_running(paths, job):
                dead += index.mark_interrupted(job, found_by)
        return dead
    finally:
        index.close()


def is_running(paths: DataPaths, job_name: str) -> bool:
    """Whether some process holds the job's lock now."""
    path = lock_path(paths, job_name)
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False

"""Notebook runs into the audit trail: papermill execution, failure marking, the run index.

Every run writes a new executed notebook under <data_dir>/runs/<job>/YYYY/MM/DD/ (the trade
date) named <UTC start>-<run id>.ipynb, never over an existing file, and is recorded in an
SQLite index with its parameters, outcome, sha256 and code version. Papermill marks only cell
errors in the notebook; a timeout or a dead kernel is marked here, so every failed record says
so on its first screen. This module stays free of the trading core's imports (cron runs it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import stat
import subprocess
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hydra import __version__
from hydra.paths import NOTEBOOKS_DIR, REPO_DIR, DataPaths, ensure_writable


class RunError(RuntimeError):
    """A run could not start (bad job, parameter name, or data directory); nothing ran."""


@dataclass(frozen=True)
class Job:
    name: str
    notebook: str
    folder: str
    timezone: str = "America/Chicago"


JOBS: dict[str, Job] = {
    "daily-cycle": Job("daily-cycle", "daily_cycle.ipynb", "daily_cycle"),
}


def get_job(name: str) -> Job:
    if name not in JOBS:
        raise RunError(f"unknown job {name!r}; jobs are: {', '.join(sorted(JOBS))}")
    return JOBS[name]


@dataclass
class RunRecord:
    run_id: str
    job: str
    notebook: str
    as_of: str
    parameters: dict[str, Any]
    started_at: str
    ended_at: str | None
    status: str  # running | succeeded | failed
    reason: str
    output_path: str  # relative to the data directory
    sha256: str | None
    hydra_version: str
    git_commit: str | None
    summary: dict[str, Any] | None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    job TEXT NOT NULL,
    notebook TEXT NOT NULL,
    as_of TEXT NOT NULL,
    parameters TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    output_path TEXT NOT NULL UNIQUE,
    sha256 TEXT,
    hydra_version TEXT NOT NULL,
    git_commit TEXT,
    summary TEXT
);
CREATE INDEX IF NOT EXISTS runs_job_started ON runs(job, started_at);
"""


class RunIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise RunError(f"the run index {path} cannot be opened ({exc}); it was left "
                           "untouched: move it aside or restore it from a backup") from exc

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def add(self, rec: RunRecord) -> None:
        row = asdict(rec)
        row["parameters"] = json.dumps(rec.parameters, sort_keys=True, default=str)
        row["summary"] = json.dumps(rec.summary) if rec.summary is not None else None
        cols = ", ".join(row)
        with self._tx() as db:
            db.execute(f"INSERT INTO runs ({cols}) VALUES ({', '.join('?' * len(row))})",
                       tuple(row.values()))

    def finish(self, run_id: str, *, status: str, reason: str, sha256: str | None,
               summary: dict[str, Any] | None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET status=?, reason=?, sha256=?, summary=?, ended_at=? "
                "WHERE run_id=?",
                (status, reason, sha256, json.dumps(summary) if summary is not None else None,
                 _now(), run_id),
            )

    def get(self, run_id: str) -> RunRecord | None:
        row = self._db.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return _record(row) if row else None

    def list(self, *, job: str | None = None, status: str | None = None,
             since: date | None = None, limit: int | None = None) -> list[RunRecord]:
        clauses, args = [], []
        if job:
            clauses.append("job = ?")
            args.append(job)
        if status:
            clauses.append("status = ?")
            args.append(status)
        if since:
            clauses.append("as_of >= ?")
            args.append(since.isoformat())
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT * FROM runs {where} ORDER BY started_at DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [_record(r) for r in self._db.execute(sql, args)]


def _record(row: sqlite3.Row) -> RunRecord:
    d = dict(row)
    d["parameters"] = json.loads(d["parameters"])
    d["summary"] = json.loads(d["summary"]) if d["summary"] else None
    return RunRecord(**d)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------
def notebook_parameters(notebook: Path) -> dict[str, dict[str, Any]]:
    import papermill

    return papermill.inspect_notebook(str(notebook))


_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")


def coerce_parameters(notebook: Path, raw: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Type each `-p NAME VALUE` by the notebook's declared type, never by guessing.

    A value that does not fit its type is passed through as text: the notebook's own
    validation then fails the run with a message, and the failed run is recorded.
    """
    declared = notebook_parameters(notebook)
    out: dict[str, Any] = {}
    for name, value in raw:
        if name not in declared:
            raise RunError(f"unknown parameter {name!r} for {notebook.name}; parameters are: "
                           f"{', '.join(declared)}")
        kind = declared[name]["inferred_type_name"]
        text = value.strip()
        if kind == "int" and _INT.match(text):
            out[name] = int(text)
        elif kind == "float" and _FLOAT.match(text):
            out[name] = float(text)
        elif kind == "bool" and text.lower() in ("true", "false", "1", "0", "yes", "no"):
            out[name] = text.lower() in ("true", "1", "yes")
        else:
            out[name] = value  # str parameters stay exactly as typed (no "007" -> 7)
    return out


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------
def git_commit() -> str | None:
    """The checkout's commit (with "-dirty" when it has local changes), if it is a git repo."""
    try:
        head = subprocess.run(["git", "-C", str(REPO_DIR), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_DIR), "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}-dirty" if dirty.strip() else head


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _as_of_for(job: Job, given: str | None, params: dict[str, Any]) -> str:
    if given:
        return given
    if params.get("as_of"):
        return str(params["as_of"])
    tz = job.timezone
    market = params.get("market")
    if market:
        try:
            from hydra.markets import get_market

            tz = get_market(str(market)).timezone
        except ValueError:
            pass
    return datetime.now(ZoneInfo(tz)).date().isoformat()


def output_path_for(paths: DataPaths, job: Job, as_of: str, started: datetime,
                    run_id: str) -> Path:
    try:
        day = date.fromisoformat(as_of)
    except ValueError:  # a malformed as_of still gets a record, filed under the run's date
        day = started.date()
    folder = paths.runs_dir / job.folder / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"
    return folder / f"{started:%Y%m%dT%H%M%SZ}-{run_id}.ipynb"


@dataclass(frozen=True)
class RunResult:
    record: RunRecord
    output: Path

    @property
    def ok(self) -> bool:
        return self.record.status == "succeeded"


def execute(job_name: str, data_dir: Path, *, as_of: str | None = None,
            parameters: dict[str, Any] | None = None, timeout: int | None = 900,
            kernel_name: str = "python3") -> RunResult:
    """Run a job's notebook through papermill into the audit trail and index the outcome."""
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    job = get_job(job_name)
    source = NOTEBOOKS_DIR / job.notebook
    if not source.is_file():
        raise RunError(f"notebook {source} is missing")
    ensure_writable(data_dir)
    paths = DataPaths(data_dir)
    params = dict(parameters or {})
    day = _as_of_for(job, as_of, params)
    run_id = uuid.uuid4().hex[:10]
    params.update(as_of=day, data_dir=str(data_dir), run_id=run_id)
    started = datetime.now(UTC)
    output = output_path_for(paths, job, day, started, run_id)
    output.parent.mkdir(parents=True, exist_ok=True)
    # claim the path exclusively: an existing record is never overwritten
    try:
        fd = os.open(output, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        os.close(fd)
    except FileExistsError as exc:
        raise RunError(f"{output} already exists; refusing to overwrite an audit record") from exc

    index = RunIndex(paths.run_index)
    record = RunRecord(
        run_id=run_id, job=job.name, notebook=f"notebooks/{job.notebook}", as_of=day,
        parameters=params, started_at=started.isoformat(timespec="seconds"), ended_at=None,
        status="running", reason="", output_path=str(output.relative_to(data_dir)),
        sha256=None, hydra_version=__version__, git_commit=git_commit(), summary=None,
    )
    index.add(record)
    status, reason = "succeeded", ""
    try:
        papermill.execute_notebook(
            str(source), str(output), parameters=params, kernel_name=kernel_name,
            cwd=str(REPO_DIR), execution_timeout=timeout, progress_bar=False,
            log_output=False, request_save_on_cell_execute=True,
            kernel_manager_class="hydra.kernels.IPCKernelManager",
        )
    except PapermillExecutionError as exc:
        status = "failed"
        detail = " ".join(line.strip() for line in str(exc.evalue).splitlines() if line.strip())
        reason = f"cell error in cell {exc.exec_count}: {exc.ename}: {detail}"
    except CellTimeoutError:
        status, reason = "failed", f"timeout: a cell ran longer than {timeout} s"
    except DeadKernelError:
        status, reason = "failed", "dead kernel: the notebook's kernel died during the run"
    except BaseException as exc:
        status, reason = "failed", f"{type(exc).__name__}: {exc}"
        if isinstance(exc, KeyboardInterrupt):
            reason = "interrupted (SIGINT) during the run"
    summary = _finalise_notebook(output, record, status, reason)
    digest = sha256_of(output) if output.exists() and output.stat().st_size else None
    if output.exists():
        output.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)  # a record, not a draft
    index.finish(run_id, status=status, reason=reason, sha256=digest, summary=summary)
    final = index.get(run_id)
    index.close()
    assert final is not None
    return RunResult(final, output)


def _finalise_notebook(output: Path, record: RunRecord, status: str,
                       reason: str) -> dict[str, Any] | None:
    """Stamp the run's outcome into the notebook; mark failures papermill leaves unmarked."""
    import nbformat

    if not output.exists() or output.stat().st_size == 0:
        return None
    nb = nbformat.read(output, as_version=4)
    nb.metadata["hydra"] = {"run_id": record.run_id, "job": record.job, "status": status,
                            "reason": reason, "hydra_version": record.hydra_version,
                            "git_commit": record.git_commit}
    papermill_marked = any("papermill-error-cell-tag" in c.metadata.get("tags", [])
                           for c in nb.cells)
    if status == "failed" and not papermill_marked:
        cell = nbformat.v4.new_markdown_cell(
            f'<span style="color:red; font-size:1.4em">**HYDRA RUN FAILED: {reason}**</span>'
            "\n\nThis run did not finish. Cells after the failure did not run, even where the "
            "notebook shows them without an error. The run index records this run as failed.")
        cell.metadata["tags"] = ["hydra-run-failed"]
        nb.cells.insert(0, cell)
    nbformat.write(nb, output)
    return read_summary(output)


def read_summary(output: Path) -> dict[str, Any] | None:
    import scrapbook as sb

    try:
        scraps = sb.read_notebook(str(output)).scraps
    except Exception:
        return None
    return scraps["summary"].data if "summary" in scraps else None

"""Notebook runs into the audit trail: papermill execution, failure marking, the run index.

Every run writes a new executed notebook under <data_dir>/runs/<job>/YYYY/MM/DD/ (the trade
date) named <UTC start time>Z-<run id>.ipynb, never over an existing file, and is recorded in an
SQLite index with its parameters, outcome, sha256 and code version. Papermill marks only cell
errors in the notebook; a timeout or a dead kernel is marked here, so every failed record says
so on its first screen. A scheduled run on a closed exchange day is indexed as SKIPPED with no
notebook. One run of a job at a time: a lock file per job (flock, released by the kernel when
the process dies, so a crash never leaves it stuck). This module stays free of the trading
core's imports (cron runs it): papermill, pandas and the calendar load inside functions.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import socket
import sqlite3
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from hydra import __version__
from hydra.domain.errors import HydraError
from hydra.faults import kill_point
from hydra.ops.schedule import JOBS, Job, ScheduleError, closed_reason, due_slot
from hydra.paths import NOTEBOOKS_DIR, REPO_DIR, DataPaths, ensure_writable
from hydra.sqlite_tx import immediate

__all__ = ["JOBS", "NOTEBOOKS_DIR", "Job", "RunError", "RunIndex", "RunRecord", "execute",
           "get_job", "run_job", "verify"]

STATUSES = ("running", "succeeded", "failed", "skipped")


class RunError(HydraError, RuntimeError):
    """A run could not start (bad job, parameter name, or data directory); nothing ran."""


class JobBusyError(RunError):
    """The same job is already running; this run did not start."""


def get_job(name: str) -> Job:
    """A job from the jobs file (schedules/jobs.toml), or a clear error naming the known ones."""
    try:
        if name in JOBS:
            return JOBS[name]
        known = ", ".join(sorted(JOBS))
    except ScheduleError as exc:
        raise RunError(str(exc)) from None
    raise RunError(f"unknown job {name!r}; jobs are: {known} (defined in {JOBS.path})")


@dataclass
class RunRecord:
    run_id: str
    job: str
    notebook: str
    as_of: str
    parameters: dict[str, Any]
    started_at: str
    ended_at: str | None
    status: str  # running | succeeded | failed | skipped
    reason: str
    output_path: str | None  # relative to the data directory; None: no notebook (skipped)
    sha256: str | None
    hydra_version: str
    git_commit: str | None
    summary: dict[str, Any] | None
    scheduled_for: str | None = None  # the schedule slot (UTC) a cron firing ran for

    @property
    def short_outcome(self) -> str:
        s = self.summary or {}
        if not s:
            return self.reason
        if "headline" in s:
            return f"{s.get('status', '')}: {s['headline']}"
        return (f"{s.get('status', '')} {s.get('signal', '')} pos {s.get('position_before', '')}"
                f"→{s.get('position_after', '')} fills {s.get('fills', '')}")


SCHEMA_VERSION = 1
_COLUMNS = """
    run_id TEXT PRIMARY KEY,
    job TEXT NOT NULL,
    notebook TEXT NOT NULL,
    as_of TEXT NOT NULL,
    parameters TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    output_path TEXT UNIQUE,
    sha256 TEXT,
    hydra_version TEXT NOT NULL,
    git_commit TEXT,
    summary TEXT,
    scheduled_for TEXT
"""
_INDEXES = """
CREATE INDEX IF NOT EXISTS runs_job_started ON runs(job, started_at);
CREATE INDEX IF NOT EXISTS runs_job_slot ON runs(job, scheduled_for);
"""
# The newest runs first without sorting the history (`hydra runs list`: 50,000 runs, 0.4 s to
# milliseconds); added to existing indexes on open, with no schema change.
_STARTED_INDEX = "CREATE INDEX IF NOT EXISTS runs_started ON runs(started_at)"
# Version 0 (the first release) had output_path NOT NULL and no scheduled_for.
_V0_COLUMNS = ("run_id, job, notebook, as_of, parameters, started_at, ended_at, status, reason, "
               "output_path, sha256, hydra_version, git_commit, summary")


class RunIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            if self._db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                self._migrate()
            if not self._db.execute("SELECT 1 FROM sqlite_master WHERE name='runs_started'"
                                    ).fetchone():  # an index only: older Hydras read it too
                with self._tx() as db:
                    db.execute(_STARTED_INDEX)
        except sqlite3.DatabaseError as exc:
            raise RunError(f"the run index {path} cannot be opened ({exc}); it was left "
                           "untouched: move it aside or restore it from a backup") from exc

    def _migrate(self) -> None:
        """Create the index, or bring an older one to this version in one transaction."""
        with self._tx() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                return
            if version > SCHEMA_VERSION:
                raise RunError(f"the run index {self.path} has schema {version}; this Hydra "
                               f"understands up to {SCHEMA_VERSION}: upgrade Hydra")
            exists = db.execute("SELECT 1 FROM sqlite_master WHERE name='runs'").fetchone()
            if exists:
                db.execute(f"CREATE TABLE runs_v1 ({_COLUMNS})")
                db.execute(f"INSERT INTO runs_v1 ({_V0_COLUMNS}) SELECT {_V0_COLUMNS} FROM runs")
                db.execute("DROP TABLE runs")
                db.execute("ALTER TABLE runs_v1 RENAME TO runs")
            else:
                db.execute(f"CREATE TABLE runs ({_COLUMNS})")
            for statement in filter(str.strip, _INDEXES.split(";")):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self._db.close()

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate(self._db)

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

    def mark_interrupted(self, job: str, found_by: str) -> list[str]:
        """Runs of `job` still indexed as running, called while holding the job's lock: their
        process is gone (else it would hold the lock), so they are failed, interrupted."""
        with self._tx() as db:
            ids = [r[0] for r in db.execute(
                "SELECT run_id FROM runs WHERE job=? AND status='running'", (job,))]
            for run_id in ids:
                db.execute("UPDATE runs SET status='failed', reason=?, ended_at=? "
                           "WHERE run_id=?",
                           (f"interrupted: the process running it died before it finished "
                            f"(found by {found_by}); a rerun of its date resumes from the "
                            "broker's position", _now(), run_id))
        return ids

    def get(self, run_id: str) -> RunRecord | None:
        row = self._db.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return _record(row) if row else None

    def find(self, prefix: str) -> list[RunRecord]:
        """Runs whose id starts with `prefix` (operators type the first few characters)."""
        rows = self._db.execute("SELECT * FROM runs WHERE run_id >= ? AND run_id < ? "
                                "ORDER BY started_at", (prefix, prefix + "\uffff"))
        return [_record(r) for r in rows]

    def for_slot(self, job: str, slot: str) -> RunRecord | None:
        row = self._db.execute("SELECT * FROM runs WHERE job=? AND scheduled_for=? "
                               "ORDER BY started_at DESC LIMIT 1", (job, slot)).fetchone()
        return _record(row) if row else None

    def first(self, job: str) -> RunRecord | None:
        row = self._db.execute("SELECT * FROM runs WHERE job=? ORDER BY started_at LIMIT 1",
                               (job,)).fetchone()
        return _record(row) if row else None

    def last(self, job: str) -> RunRecord | None:
        row = self._db.execute("SELECT * FROM runs WHERE job=? ORDER BY started_at DESC "
                               "LIMIT 1", (job,)).fetchone()
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
        # runs_started (started_at, then rowid) walked backwards: no sort of the history
        sql = f"SELECT * FROM runs {where} ORDER BY started_at DESC, rowid DESC"
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
    """The trade date: given, else the `as_of` parameter, else today in the job's timezone."""
    if given:
        return given
    if params.get("as_of"):
        return str(params["as_of"])
    return datetime.now(job.tz).date().isoformat()


def output_path_for(paths: DataPaths, job: Job, as_of: str, started: datetime,
                    run_id: str) -> Path:
    """<runs>/<job>/YYYY/MM/DD (the trade date)/<HHMMSS>Z-<run id>.ipynb.

    Time first and no date (the folders carry the trade date, the index the start): JupyterLab's
    file panel shows about 22 characters, so two runs of one date must differ in those. Older
    records named <YYYYmmddTHHMMSS>Z-<run id>.ipynb are read the same way (the index holds
    each record's path; nothing parses the name).
    """
    try:
        day = date.fromisoformat(as_of)
    except ValueError:  # a malformed as_of still gets a record, filed under the run's date
        day = started.date()
    folder = paths.runs_dir / job.folder / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"
    return folder / f"{started:%H%M%S}Z-{run_id}.ipynb"


@dataclass(frozen=True)
class RunResult:
    record: RunRecord
    output: Path | None

    @property
    def ok(self) -> bool:
        return self.record.status == "succeeded"


JOB_TIMEOUT = "job"  # execute(timeout=JOB_TIMEOUT): the job's own `timeout` from the jobs file
_HISTORY = "--HistoryManager.hist_file=:memory:"  # what nbclient passes a kernel it starts


class EarlyKernel:
    """A notebook kernel started as soon as a run is known to go ahead (lock held, exchange
    open), so that its start (a process importing ipykernel: seconds) runs on another core
    while `hydra run` reads the notebook's parameters, indexes the run and loads papermill.
    `execute(kernel=...)` hands it to papermill; it starts as nbclient starts one (the same
    manager, cwd and arguments) and is shut down as nbclient shuts one down."""

    def __init__(self, kernel_name: str = "python3") -> None:
        from jupyter_core.utils import run_sync

        from hydra.ops.kernels import IPCKernelManager

        self.kernel_name = kernel_name
        self.km: Any = IPCKernelManager(kernel_name=kernel_name)
        self._run = run_sync
        self._closed = False
        run_sync(self.km.start_kernel)(extra_arguments=[_HISTORY], cwd=str(REPO_DIR))

    def close(self, *, now: bool = False) -> None:
        """Shut the kernel down (now: kill it; a kernel that ran nothing has nothing to finish)
        and remove its sockets. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._run(self.km.is_alive)():
                self._run(self.km.shutdown_kernel)(now=now)
        except RuntimeError as exc:
            if "No kernel is running!" not in str(exc):
                raise
        finally:
            self._run(self.km.cleanup_resources)()


def execute(job_name: str, data_dir: Path, *, as_of: str | None = None,
            parameters: dict[str, Any] | None = None, timeout: int | str | None = JOB_TIMEOUT,
            kernel_name: str = "python3", scheduled_for: str | None = None,
            kernel: EarlyKernel | None = None) -> RunResult:
    """Run a job's notebook through papermill into the audit trail and index the outcome.

    No calendar check and no lock here: `run_job` (what `hydra run` calls) adds both.
    kernel: one started early (`run_job` does); it runs the notebook and is shut down here.
    """
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    job = get_job(job_name)
    source = job.source
    if not source.is_file():
        raise RunError(f"notebook {source} is missing")
    if timeout == JOB_TIMEOUT:
        timeout = job.timeout
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
        run_id=run_id, job=job.name, notebook=job.notebook_label, as_of=day,
        parameters=params, started_at=started.isoformat(timespec="seconds"), ended_at=None,
        status="running", reason="", output_path=str(output.relative_to(data_dir)),
        sha256=None, hydra_version=__version__, git_commit=git_commit(), summary=None,
        scheduled_for=scheduled_for,
    )
    index.add(record)
    before = cycle_orders(data_dir, record)  # what this run's cycle had sent before it began
    status, reason = "succeeded", ""
    early = ({"km": kernel.km} if kernel is not None and kernel.kernel_name == kernel_name
             else {})
    try:
        papermill.execute_notebook(
            str(source), str(output), parameters=params, kernel_name=kernel_name,
            cwd=str(REPO_DIR), execution_timeout=timeout, progress_bar=False,
            log_output=False, request_save_on_cell_execute=True,
            kernel_manager_class="hydra.ops.kernels.IPCKernelManager", **early,
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
    finally:
        if kernel is not None:  # papermill shuts down only a kernel it started itself
            kernel.close(now=False)
    summary = _finalise_notebook(output, record, status, reason, before)
    digest = sha256_of(output) if output.exists() and output.stat().st_size else None
    if output.exists():
        output.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)  # a record, not a draft
    kill_point("before_index_finished")
    index.finish(run_id, status=status, reason=reason, sha256=digest, summary=summary)
    final = index.get(run_id)
    index.close()
    assert final is not None
    return RunResult(final, output)


def _finalise_notebook(output: Path, record: RunRecord, status: str, reason: str,
                       before: CycleOrders | None = None) -> dict[str, Any] | None:
    """Stamp the run's outcome into the notebook; mark failures papermill leaves unmarked.

    A failure's banner also says whether this run sent any order (the journal and the
    simulator's book, compared with what they held when the run began): the operator's first
    question, before deciding whether a rerun is safe.
    """
    import nbformat

    if not output.exists() or output.stat().st_size == 0:
        return None
    try:
        nb = nbformat.read(output, as_version=4)
    except Exception:  # a notebook cut short mid-write: `hydra runs verify` names it
        return None
    nb.metadata["hydra"] = {"run_id": record.run_id, "job": record.job, "status": status,
                            "reason": reason, "hydra_version": record.hydra_version,
                            "git_commit": record.git_commit}
    for cell in nb.cells:  # the reader's first screen is the banner, not parameter code
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
    papermill_marked = any("papermill-error-cell-tag" in c.metadata.get("tags", [])
                           for c in nb.cells)
    if status == "failed":
        sent = orders_sent(Path(record.parameters["data_dir"]), record, before)
        nb.metadata["hydra"]["orders"] = sent
        cell = nbformat.v4.new_markdown_cell(
            f'<span style="color:red; font-size:1.4em">**HYDRA RUN FAILED: {reason}**</span>'
            f"\n\n**Orders: {sent}.**"
            "\n\nThis run did not finish. Cells after the failure did not run, even where the "
            "notebook shows them without an error. The run index records this run as failed.")
        cell.metadata["tags"] = ["hydra-run-failed"]
        nb.cells.insert(1 if papermill_marked else 0, cell)  # first screen either way
    nbformat.write(nb, output)
    return read_summary(output)


@dataclass(frozen=True)
class CycleOrders:
    """The orders of one daily cycle (<market>-<YYYYMMDD>) on record at a moment: journaled
    child orders (what was sent to the broker) and, for the simulator, the broker's own."""

    cycle_id: str
    journal: dict[str, str]  # child_ref -> "BUY 1 ZOH7 limit 350.25"
    broker: frozenset[int] | None  # the simulator's order ids; None: not the simulator
    error: str = ""


def _cycle_of(record: RunRecord) -> str | None:
    """The daily cycle a run trades, or None for a job that sends no orders."""
    try:
        job = get_job(record.job)
    except RunError:
        return None
    if job.source.name != "daily_cycle.ipynb":
        return None
    from hydra.reference.markets import DEFAULT_MARKET, get_market

    try:  # the cycle's own spelling ("-p market zo" trades ZO-...)
        market = get_market(record.parameters.get("market") or job.market or DEFAULT_MARKET)
        day = date.fromisoformat(record.as_of)
    except ValueError:  # an unknown market or a bad date: such a run sent nothing
        return None
    return f"{market.symbol}-{day:%Y%m%d}"


def _read_only(db: Path) -> sqlite3.Connection:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    con.row_factory = sqlite3.Row
    return con


def cycle_orders(data_dir: Path, record: RunRecord) -> CycleOrders | None:
    """This run's cycle's orders as the journal and the simulator hold them now (read-only:
    the banner never writes to the books it describes). None for a job that sends none."""
    cycle_id = _cycle_of(record)
    if cycle_id is None:
        return None
    paths = DataPaths(data_dir)
    journal: dict[str, str] = {}
    broker: frozenset[int] | None = None
    try:
        if paths.journal_db.exists():
            with closing(_read_only(paths.journal_db)) as con:
                has = con.execute("SELECT 1 FROM sqlite_master WHERE name='child_orders'")
                rows = con.execute(
                    "SELECT c.child_ref, c.side, c.quantity, c.limit_price, o.local_symbol "
                    "FROM child_orders c JOIN orders o ON o.order_ref = c.parent_ref "
                    "WHERE c.cycle_id = ? ORDER BY c.sent_at, c.child_ref",
                    (cycle_id,)).fetchall() if has.fetchone() else []
            journal = {r["child_ref"]: f"{r['side']} {r['quantity']} {r['local_symbol']} "
                                       f"limit {r['limit_price']:g}" for r in rows}
    except sqlite3.Error as exc:
        return CycleOrders(cycle_id, {}, None, f"the fill journal {paths.journal_db} could not "
                                               f"be read ({exc})")
    try:
        if paths.sim_db.exists():
            with closing(_read_only(paths.sim_db)) as con:
                broker = frozenset(r[0] for r in con.execute(
                    "SELECT order_id FROM orders WHERE order_ref LIKE ?", (f"HYD-{cycle_id}-%",)))
    except sqlite3.Error:
        broker = None
    return CycleOrders(cycle_id, journal, broker)


def orders_sent(data_dir: Path, record: RunRecord, before: CycleOrders | None) -> str:
    """Whether this run sent any order, in one sentence: "no order was sent ..." or "N orders
    were sent ...", from what its cycle's books hold now against what they held at its start."""
    after = cycle_orders(data_dir, record)
    if after is None:
        return "none (this job sends no orders)"
    if after.error or (before is not None and before.error):
        return (f"UNKNOWN whether any order was sent: {after.error or before.error}; check the "
                f"broker's orders for {after.cycle_id} (`hydra fill-report`) before rerunning")
    if before is None:
        before = CycleOrders(after.cycle_id, {}, frozenset() if after.broker is not None else None)
    new = [f"{ref} {text}" for ref, text in after.journal.items() if ref not in before.journal]
    if not new:
        text = f"no order was sent for {after.cycle_id} by this run"
    else:
        listed = "; ".join(new[:10]) + (f"; and {len(new) - 10} more" if len(new) > 10 else "")
        text = (f"{len(new)} order{'s were' if len(new) > 1 else ' was'} sent for "
                f"{after.cycle_id} by this run: {listed}")
    if after.broker is not None and before.broker is not None:
        at_broker = len(after.broker - before.broker)
        if at_broker != len(new):
            text += (f"; BUT the simulated broker received {at_broker}: the journal and the "
                     "broker disagree, reconcile (`hydra fill-report`) before rerunning")
    earlier = len(before.journal)
    if earlier:
        text += f" ({earlier} sent earlier for this cycle by other runs)"
    return text


def read_summary(output: Path) -> dict[str, Any] | None:
    import scrapbook as sb

    try:
        scraps = sb.read_notebook(str(output)).scraps
    except Exception:
        return None
    if "summary" in scraps:
        return scraps["summary"].data
    if "reconciliation" in scraps:  # the reconciliation job's report: its headline and verdict
        rec = scraps["reconciliation"].data
        breaks = scraps["breaks"].data if "breaks" in scraps else None
        return {"status": rec.get("status"), "headline": rec.get("headline"), "breaks": breaks}
    return None


# --------------------------------------------------------------------------------------------
# One run of a job at a time
# --------------------------------------------------------------------------------------------
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
        for job in sorted({r.job for r in index.list(status="running")}):
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


# --------------------------------------------------------------------------------------------
# `hydra run JOB`: the calendar, the lock, the run, the on-failure command
# --------------------------------------------------------------------------------------------
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
            even_if_closed: bool = False) -> JobOutcome:
    """What `hydra run` (and cron) does: decide, lock, run or skip, record.

    scheduled: a cron firing; it runs only if `now` is a scheduled local time of the job (the
    other DST offset's firing returns "not-due" and records nothing) and at most once per slot.
    On a closed exchange day a trading-days job records a SKIPPED run and executes nothing.
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
        kernel = EarlyKernel()  # boots on another core while the run is checked and indexed
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


# --------------------------------------------------------------------------------------------
# `hydra runs verify`: the audit trail against its index
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VerifyIssue:
    kind: str  # "edited" | "truncated" | "missing" | "extra" | "unfinished" | "unknown"
    path: str  # relative to the data directory
    run_id: str | None
    detail: str


@dataclass
class VerifyReport:
    checked: int = 0
    in_progress: int = 0
    without_notebook: int = 0
    issues: list[VerifyIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues


def verify(data_dir: Path) -> VerifyReport:
    """Every indexed notebook's sha256 against the index, and every notebook against the index.

    Edited (digest differs), missing (indexed, not on disk) and extra (on disk, not indexed)
    notebooks are issues, and so is a run still marked running whose process is gone.
    """
    paths = DataPaths(data_dir)
    report = VerifyReport()
    records = []
    if paths.run_index.exists():
        index = RunIndex(paths.run_index)
        records = index.list()
        index.close()
    referenced: set[str] = set()
    busy: dict[str, bool] = {}
    for rec in records:
        if rec.output_path is None:
            report.without_notebook += 1
            continue
        referenced.add(rec.output_path)
        path = data_dir / rec.output_path
        if rec.status == "running":
            if busy.setdefault(rec.job, is_running(paths, rec.job)):
                report.in_progress += 1
                continue
            report.issues.append(VerifyIssue(
                "unfinished", rec.output_path, rec.run_id,
                f"run {rec.run_id} is indexed as running but no {rec.job} process holds the "
                "job's lock: it died without recording its end (killed or power loss)"))
            continue
        report.checked += 1
        if not path.exists():
            report.issues.append(VerifyIssue("missing", rec.output_path, rec.run_id,
                                             f"run {rec.run_id} ({rec.status}): the executed "
                                             "notebook is gone"))
            continue
        damage = notebook_damage(path)
        if damage:
            report.issues.append(VerifyIssue(
                "truncated", rec.output_path, rec.run_id,
                f"run {rec.run_id} ({rec.status}): not a complete notebook ({damage}). The "
                "record was cut short (a full disk, a crash mid-save, an interrupted copy or "
                "restore?) and no notebook reader can open it. Its outcome is still in the "
                f"index (`hydra runs show {rec.run_id}`); restore it from a backup, and do not "
                "edit or delete it here: the index expects this file"))
            continue
        actual = sha256_of(path) if path.stat().st_size else None
        if actual != rec.sha256:
            report.issues.append(VerifyIssue(
                "edited", rec.output_path, rec.run_id,
                f"run {rec.run_id}: sha256 is {(actual or 'empty')[:16]}, the index recorded "
                f"{(rec.sha256 or 'none')[:16]}: the notebook changed after the run"))
    if paths.runs_dir.exists():
        for nb in sorted(paths.runs_dir.rglob("*.ipynb")):
            rel = str(nb.relative_to(data_dir))
            if rel not in referenced and not _hidden(nb.relative_to(paths.runs_dir)):
                damage = notebook_damage(nb)
                report.issues.append(VerifyIssue(
                    "extra", rel, None, "a notebook in the audit trail that no indexed run "
                    "produced" + (f", and not a complete notebook ({damage}); move it out "
                                  "of runs/" if damage else "")))
        report.issues += _unknown_files(paths)
    return report


def notebook_damage(path: Path) -> str | None:
    """Why a file is not a readable notebook (cut short, not JSON, no cells), or None."""
    size = path.stat().st_size
    if size == 0:
        return "the file is empty"
    try:
        nb = json.loads(path.read_bytes())
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text at byte {exc.start} of {size}"
    except json.JSONDecodeError as exc:
        return (f"invalid JSON: {exc.msg.removesuffix(' at')} at byte {exc.pos} (line "
                f"{exc.lineno}) of a {size}-byte file")
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list) \
            or "nbformat" not in nb:
        return f"JSON, but not a notebook (no cells or no nbformat) in {size} bytes"
    return None


_INDEX_FILES = {"index.sqlite", "index.sqlite-wal", "index.sqlite-shm", "index.sqlite-journal"}


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def _unknown_files(paths: DataPaths) -> list[VerifyIssue]:
    """Whatever under runs/ is neither the index, a job lock nor an executed notebook.

    A front end or an editor leaves such things (.ipynb_checkpoints/, ~ backups); each is a
    write into the audit trail that no run made, so it is reported, empty folders included.
    """
    issues = []
    root = paths.runs_dir

    def issue(path: Path, detail: str) -> None:
        issues.append(VerifyIssue("unknown", str(path.relative_to(paths.root)), None, detail))

    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        for name in sorted(dirs):
            if name.startswith("."):
                issue(here / name, "a hidden folder in the audit trail that no run made "
                                   "(a front end's checkpoints?)")
            elif not any((here / name).iterdir()):
                issue(here / name, "an empty folder in the audit trail")
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            rel = (here / name).relative_to(root)
            known = (name.endswith(".ipynb") or (here == root and name in _INDEX_FILES)
                     or (rel.parts[0] == "locks" and len(rel.parts) == 2
                         and name.endswith(".lock")))
            if not known:
                issue(here / name, "a file in the audit trail that the run index does not know")
    return issues


# --------------------------------------------------------------------------------------------
# Reading runs back: scraps and history
# --------------------------------------------------------------------------------------------
def read_scraps(output: Path) -> dict[str, Any]:
    """Every scrap glued in an executed notebook, by name (plain values and DataFrames)."""
    import scrapbook as sb

    return {name: scrap.data for name, scrap in sb.read_notebook(str(output)).scraps.items()}


def history(data_dir: Path, *, job: str = "daily-cycle", since: date | None = None,
            source: str = "index") -> list[dict[str, Any]]:
    """One row per finished run with a summary, oldest first: the run's index fields and its
    glued `summary` scrap, read from the index's copy (fast) or from each notebook ("notebooks",
    the slow scrapbook scan the index exists to avoid)."""
    paths = DataPaths(data_dir)
    if not paths.run_index.exists():
        return []
    index = RunIndex(paths.run_index)
    records = index.list(job=job or None, since=since)
    index.close()
    rows: list[dict[str, Any]] = []
    for rec in reversed(records):
        if source == "notebooks":
            if not rec.output_path or not (data_dir / rec.output_path).is_file():
                continue
            summary = read_summary(data_dir / rec.output_path)
        elif source == "index":
            summary = rec.summary
        else:
            raise ValueError(f"source must be 'index' or 'notebooks', got {source!r}")
        if not summary:
            continue
        rows.append({**summary, "run_id": rec.run_id, "job": rec.job, "run_status": rec.status,
                     "started_at": rec.started_at, "as_of": rec.as_of})
    return rows

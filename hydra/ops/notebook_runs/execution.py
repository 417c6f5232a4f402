"""One papermill execution of a job's notebook into a new file of the audit trail, indexed
before it starts and after it ends."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import stat
import subprocess
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from hydra import __version__
from hydra.faults import kill_point
from hydra.ops.notebook_runs.evidence import cycle_orders
from hydra.ops.notebook_runs.index import RunIndex, RunRecord
from hydra.ops.notebook_runs.jobs import RunError, get_job
from hydra.ops.notebook_runs.marking import _finalise_notebook
from hydra.ops.schedule import Job
from hydra.paths import REPO_DIR, DataPaths, ensure_writable


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


def notebook_imports(source: Path) -> list[str]:
    """The modules a notebook's code cells import at their top level, in order: what a kernel
    can load before the notebook's first cell asks for them. `from a import b` names `a.b`
    (b may be a submodule) and `a`; a cell that is not plain Python (magics) is skipped."""
    names: list[str] = []
    for cell in json.loads(source.read_text(encoding="utf-8")).get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse("".join(cell.get("source", "")))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names += [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
    return list(dict.fromkeys(names))


def _preload_argument(modules: Sequence[str]) -> str:
    """The kernel option that imports `modules` as it starts (IPython's exec_lines, no
    execution count), in a namespace of its own: no name is bound in the notebook's (a cell
    that forgot its import still fails as in JupyterLab), and every error is swallowed (the
    cell that imports the module shows it, in the record)."""
    source = ("import importlib\n"
              f"for name in {list(modules)!r}:\n"
              "    try:\n"
              "        importlib.import_module(name)\n"
              "    except BaseException:\n"
              "        pass\n")
    return f"--IPKernelApp.exec_lines=exec({source!r}, {{}})"


class EarlyKernel:
    """A notebook kernel started as soon as a run is known to go ahead (lock held, exchange
    open), so that its start (a process importing ipykernel: seconds) runs on another core
    while `hydra run` reads the notebook's parameters, indexes the run and loads papermill.
    `execute(kernel=...)` hands it to papermill; it starts as nbclient starts one (the same
    manager, cwd and arguments) and is shut down as nbclient shuts one down.

    preload: modules the kernel imports as it starts (`notebook_imports`), before it answers
    anyone: no execution count, no output, no name bound; the notebook's first cell then
    finds them loaded."""

    def __init__(self, kernel_name: str = "python3", preload: Sequence[str] = ()) -> None:
        from jupyter_core.utils import run_sync

        from hydra.ops.kernels import IPCKernelManager

        self.kernel_name = kernel_name
        self.km: Any = IPCKernelManager(kernel_name=kernel_name)
        self._run = run_sync
        self._closed = False
        arguments = [_HISTORY, *([_preload_argument(preload)] if preload else [])]
        run_sync(self.km.start_kernel)(extra_arguments=arguments, cwd=str(REPO_DIR))

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

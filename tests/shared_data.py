"""Data dirs an expensive run makes once per test session, for every test file that needs that
same run: a `hydra run` of the daily cycle costs seconds of CPU (a CLI, papermill, a kernel),
and several files only read what it left. Each test gets its own copy; none touches the
template."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.kit import TRADE_DATE, copy_data_dir, pin_signal, run_hydra


def tree_digest(root: Path) -> str:
    """Every entry's path and mode, and every file's bytes, under `root`: whatever a test that
    changed the template instead of its copy would have changed (times left out: a copy keeps
    them, a reader does not move them)."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        h.update(f"{path.relative_to(root).as_posix()}\0{st.st_mode:o}\0".encode())
        if path.is_file() and not path.is_symlink():
            h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


@dataclass(frozen=True)
class SharedDataDir:
    """A built template (never opened by a test: even a SQLite reader writes -wal/-shm files
    next to it), what the build returned, and the template's digest when it was built."""

    template: Path
    info: dict[str, Any]
    digest: str

    def copy_to(self, data_dir: Path) -> Path:
        """A test's own copy; a template changed since its build fails the test, not later
        tests with puzzling results."""
        assert tree_digest(self.template) == self.digest, (
            f"the shared data dir {self.template} changed after it was built: a test wrote "
            "into the template instead of its copy")
        return copy_data_dir(self.template, data_dir)


def session_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test session's temporary root, one for all xdist workers (each worker's own basetemp
    is a folder in it), or the basetemp itself without xdist."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def shared_data_dir(tmp_path_factory: pytest.TempPathFactory, name: str,
                    build: Callable[[Path], dict[str, Any]]) -> SharedDataDir:
    """`build(data_dir)` run once per test session, whichever worker asks first: the others wait
    on the lock and reuse its result (pytest-xdist's recipe for a session fixture run once)."""
    return build_once(session_root(tmp_path_factory), name, build)


def build_once(base: Path, name: str, build: Callable[[Path], dict[str, Any]]) -> SharedDataDir:
    """`build` into <base>/shared-<name>/data unless a finished build is there, under a lock on
    <base>/shared-<name>.lock. A build that raised leaves no record, so the next caller builds
    again from scratch."""
    root = base / f"shared-{name}"
    record = root / "built.json"
    data = root / "data"
    with open(root.with_name(f"shared-{name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # held until the file is closed, also on an error
        if not record.exists():
            shutil.rmtree(root, ignore_errors=True)  # whatever a failed build left
            data.mkdir(parents=True)
            info = build(data)
            tmp = record.with_suffix(".tmp")
            tmp.write_text(json.dumps({"info": info, "digest": tree_digest(data)}))
            tmp.replace(record)
    saved = json.loads(record.read_text())
    return SharedDataDir(data, saved["info"], saved["digest"])


def _traded_day(data_dir: Path) -> dict[str, Any]:
    pin_signal(data_dir, +1)  # a LONG on TRADE_DATE: orders and fills, whatever a model says
    proc = run_hydra("run", "daily-cycle", "--as-of", TRADE_DATE, "-p", "contracts", "2",
                     data_dir=data_dir)
    return {"returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}


@pytest.fixture(scope="session")
def traded_run(tmp_path_factory: pytest.TempPathFactory) -> SharedDataDir:
    """`hydra run daily-cycle --as-of TRADE_DATE -p contracts 2` on a fresh data dir with the
    signal pinned LONG: one traded day on record. info: the command's returncode, stdout and
    stderr (the run's own checks are tests/cycle/test_daily_cycle_notebook.py's)."""
    return shared_data_dir(tmp_path_factory, "traded-run", _traded_day)

"""The suite's set-up and fixtures; the helpers they and the tests share live in tests/kit.py."""

import os
import sys

import pytest

# This machine's image sets PYTHONDONTWRITEBYTECODE=1, so every Python process the suite
# starts (`hydra`, each kernel, each gateway, the lab server) compiled pandas, scipy, sklearn
# and the rest from source again: 3-11 s of CPU each, most of the IB crash tests' time. The
# suite lets Python keep its bytecode caches (__pycache__, git-ignored), so each module is
# compiled once per checkout; nothing a test runs or asserts changes.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

from tests.kit import data_dir  # noqa: E402, F401  (the fixture, seen by every test)
from tests.shared_data import traded_run  # noqa: E402, F401  (built once a session, all workers)

# ------------------------------------------------------------------ how xdist shares the tests
# `--dist loadfile` keeps a file's tests on one worker (its module-scoped fixtures are built
# once), but a file of slow independent tests is then one long unit: the IB kill matrix alone
# (a gateway at 3x, 11-13 s a test; ~25 s at 1x before the adapter followed --speed) kept one
# worker busy for minutes while the others ran out of work. The files below hold only
# function-scoped fixtures (and session ones built once for all workers:
# tests/shared_data.py): their tests are handed out one by one. Every
# other file stays whole, as loadfile has it. Order matters as much: the longest units go first
# (these files, then the files of `slow` tests), so the tail of the run is short fast tests,
# not one of them.
SPREAD = (  # longest real-time waits first
    "tests/cycle/test_crash_recovery_ib.py",
    "tests/cycle/test_crash_recovery_ib_fills.py",
    "tests/cycle/test_crash_recovery.py",
    "tests/cycle/test_crash_recovery_hydra_run.py",
    "tests/views/test_review.py",
    "tests/cycle/test_daily_cycle_notebook.py",
    "tests/cycle/test_replay.py",
    "tests/ops/test_ops.py",
    "tests/cycle/test_ib_notebook.py",
    "tests/ops/test_run_durability.py",
    "tests/ops/test_runs.py",
)


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest first (see SPREAD); a file's tests stay together and in their order."""
    slow_files = {_file_of(i.nodeid) for i in items if i.get_closest_marker("slow")}

    def rank(pair: tuple[int, pytest.Item]) -> tuple[int, int, int]:
        index, item = pair
        file = _file_of(item.nodeid)
        if file in SPREAD:
            return 0, SPREAD.index(file), index
        return (1 if file in slow_files else 2), 0, index

    items[:] = [item for _, item in sorted(enumerate(items), key=rank)]


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which would pick plain loadfile
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """loadfile, but SPREAD files' tests one by one, in collection order (no reordering by
    size: pytest_collection_modifyitems put the longest first)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FilesWholeButSpread(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = _file_of(nodeid)
            return nodeid if file in SPREAD else file

    config.option.loadscopereorder = False
    return FilesWholeButSpread(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto`: one worker more than half again the cores (3 on 2 cores). Much of the suite
    waits on child processes (kernels, gateways, the browser, killed and rerun cycles), so a
    worker per core leaves cores idle: 197.6 s at 2 workers against 169.7 s at 3 on the same
    warm 2-core clone. PYTEST_XDIST_AUTO_NUM_WORKERS still decides when set (xdist's own)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's hook reads it
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) * 3 // 2)

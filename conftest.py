"""Test-wide set-up: no test (nbval's notebook runs included) touches the operator's data."""

from __future__ import annotations

import os
import tempfile

import pytest

# Set before any kernel starts, so nbval's kernels inherit it as well.
_TMP = tempfile.mkdtemp(prefix="hydra-test-data-")
os.environ["HYDRA_DATA_DIR"] = _TMP
os.environ.pop("HYDRA_CONFIG", None)
os.environ.pop("HYDRA_LIVE_CONFIRMED", None)


# The suite runs on every core (pytest-xdist, `--dist loadgroup`). A test file is one group, so
# its module fixtures are built once and a notebook's cells run in order in one kernel; the
# crash-recovery files are spread test by test instead: each test is its own real processes
# and data dir, and on the IB path most of its time is the gateway's real-time clock.
_SPREAD = {"test_crash_recovery.py", "test_crash_recovery_ib.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name not in _SPREAD:
            item.add_marker(pytest.mark.xdist_group(item.path.name))

"""The reconciliation tests' history, built once a session for both files that read it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.shared_data import SharedDataDir, shared_data_dir


def _history(data_dir: Path) -> dict[str, Any]:
    from tests.reconcile.test_notebook import mixed_history

    mixed_history(data_dir)
    return {}


@pytest.fixture(scope="session")
def mixed_history_run(tmp_path_factory: pytest.TempPathFactory) -> SharedDataDir:
    """tests/reconcile/test_notebook.py's mixed_history (seven weeks of replayed cycles), made
    once for test_notebook.py and test_fill_report_cli.py; each copies it."""
    return shared_data_dir(tmp_path_factory, "mixed-history", _history)

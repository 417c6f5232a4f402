"""Test-wide set-up: no test (nbval's notebook runs included) touches the operator's data."""

from __future__ import annotations

import os
import tempfile

# Set before any kernel starts, so nbval's kernels inherit it as well.
_TMP = tempfile.mkdtemp(prefix="hydra-test-data-")
os.environ["HYDRA_DATA_DIR"] = _TMP
os.environ.pop("HYDRA_CONFIG", None)
os.environ.pop("HYDRA_LIVE_CONFIRMED", None)


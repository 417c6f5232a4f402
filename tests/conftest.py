"""The suite's set-up and fixtures; the helpers they and the tests share live in tests/kit.py."""

import os
import sys

# This machine's image sets PYTHONDONTWRITEBYTECODE=1, so every Python process the suite
# starts (`hydra`, each kernel, each gateway, the lab server) compiled pandas, scipy, sklearn
# and the rest from source again: 3-11 s of CPU each, most of the IB crash tests' time. The
# suite lets Python keep its bytecode caches (__pycache__, git-ignored), so each module is
# compiled once per checkout; nothing a test runs or asserts changes.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

from tests.kit import data_dir  # noqa: E402, F401  (the fixture, seen by every test)

"""The suite's fixtures; the helpers they and the tests share live in tests/kit.py."""

from tests.kit import data_dir  # noqa: F401  (the fixture, seen by every test)

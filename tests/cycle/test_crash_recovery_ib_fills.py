"""Crash recovery on the IB path around a fill: between TWAP slices, after a fill arrives but
before it is journaled, and inside the journal's transaction. Apart from
tests/cycle/test_crash_recovery_ib.py only so that the suite's second worker takes them (each runs a
gateway at 3x wall time for about ten seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cycle.test_crash_recovery_ib import killed_on_ib_then_rerun


@pytest.mark.slow
@pytest.mark.parametrize("point,after", [
    ("between_slices", 1), ("before_fill_journaled", 1), ("while_journaling", 1),
])
def test_killed_around_a_fill_on_the_ib_path_a_rerun_finishes_the_day(data_dir: Path, point: str,
                                                                       after: int) -> None:
    killed_on_ib_then_rerun(data_dir, point, after)

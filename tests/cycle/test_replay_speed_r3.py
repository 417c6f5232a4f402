"""Session 6's replay shortcuts may not change what the cycle sees: the same fills frame."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from hydra.execution.journal import FillRecord, Journal

FILL = FillRecord(
    exec_id="0000e0d5.6564c2a1.01.01", order_ref="HYD-ZO-20261124-1-s1-a1",
    parent_ref="HYD-ZO-20261124-1", cycle_id="ZO-20261124", as_of="2026-11-24", symbol="ZO",
    local_symbol="ZOH7", side="BUY", quantity=1, price=320.25,
    fill_time="2026-11-24T16:00:00+00:00", route="limit-patience", slice=1,
    decision_mid=320.0, arrival_mid=320.125, tick=0.25, point_value=50.0,
    predicted_price=0.15, predicted_ticks=0.6, predicted_bps=4.7, predicted_usd=7.5,
    actual_price=0.125, actual_ticks=0.5, actual_bps=3.9, actual_usd=6.25, commission=None,
    latency_ms=120.0, broker="ib", account_id="DU123",
)


def test_cycle_fills_is_the_fills_frame_with_and_without_fills(tmp_path: Path):
    """The empty answer is a copy of pandas' own empty frame (same columns and dtypes), and a
    fill journaled after an empty answer shows at once (the shortcut asks the journal first)."""
    with Journal(tmp_path / "j.sqlite") as j:
        pd.testing.assert_frame_equal(j.cycle_fills("ZO-20261124"),
                                      j.fills(cycle_id="ZO-20261124"))
        empty = j.cycle_fills("ZO-20261124")
        empty["quantity"] = [1] * len(empty)  # a caller's change stays in its copy
        assert list(j.cycle_fills("ZO-20261124").columns) == list(j.fills().columns)
        j.record_fill(FILL)
        got = j.cycle_fills("ZO-20261124")
        assert len(got) == 1
        pd.testing.assert_frame_equal(got, j.fills(cycle_id="ZO-20261124"))
        j.record_fill(replace(FILL, exec_id="0000e0d5.6564c2a2.01.01", cycle_id="ZO-20261125",
                              as_of="2026-11-25"))
        pd.testing.assert_frame_equal(j.cycle_fills("ZO-20261126"),
                                      j.fills(cycle_id="ZO-20261126"))
        assert len(j.cycle_fills("ZO-20261125")) == 1

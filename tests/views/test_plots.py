"""The execution chart draws each child limit over the time it rested, not as a stub."""

from __future__ import annotations

import pandas as pd

from hydra.views.cycle_charts import execution_window, resting_intervals

T0 = pd.Timestamp("2026-11-24T16:00:00Z")


def _frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    quotes = pd.DataFrame({"time": [T0 + pd.Timedelta(seconds=s) for s in (0, 30, 60, 120)],
                           "bid": [500.0, 500.25, 500.25, 500.5],
                           "ask": [500.5, 500.75, 500.75, 501.0]})
    children = pd.DataFrame({
        "sent_at": [(T0 + pd.Timedelta(seconds=s)).isoformat() for s in (0, 45)],
        "limit_price": [500.25, 500.5], "status": ["cancelled", "filled"], "filled": [0, 2]})
    fills = pd.DataFrame({"fill_time": [T0 + pd.Timedelta(seconds=90)], "price": [500.5],
                          "arrival_mid": [500.25]})
    return quotes, children, fills


def test_each_child_rests_until_the_next_send_and_the_last_until_its_fill() -> None:
    quotes, children, fills = _frames()
    rests = resting_intervals(quotes, children, fills)
    assert list(rests["start"]) == [T0, T0 + pd.Timedelta(seconds=45)]
    assert list(rests["end"]) == [T0 + pd.Timedelta(seconds=45), T0 + pd.Timedelta(seconds=90)]


def test_an_unfilled_last_child_rests_until_the_last_quote() -> None:
    quotes, children, _ = _frames()
    children = children.assign(filled=[0, 0], status=["cancelled", "cancelled"])
    rests = resting_intervals(quotes, children, pd.DataFrame(columns=["fill_time", "price"]))
    assert rests["end"].iloc[-1] == T0 + pd.Timedelta(seconds=120)


def test_the_chart_draws_intervals_fills_and_the_arrival_mid() -> None:
    fig = execution_window(*_frames())
    assert fig is not None
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "child limit (while resting)" in labels and "arrival mid" in labels
    assert "fills" in labels

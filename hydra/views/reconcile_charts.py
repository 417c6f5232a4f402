"""Charts for the reconciliation report (matplotlib Figures, no pyplot state).

Each function returns None when there is nothing to draw, so the notebook says so in words
instead of showing an empty frame. Scatter plots thin very long histories to at most
MAX_POINTS evenly spaced fills (a million dots draw slowly and read no better).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hydra.domain.money import money

MAX_POINTS = 20_000
ROUTE_COLOURS = {"limit-patience": "#35618f", "twap": "#b35900"}


def _thin(frame: pd.DataFrame) -> pd.DataFrame:
    if len(frame) <= MAX_POINTS:
        return frame
    idx = np.linspace(0, len(frame) - 1, MAX_POINTS).astype(int)
    return frame.iloc[idx]


def _pairs(fills: pd.DataFrame, unit: str = "ticks") -> pd.DataFrame:
    if not len(fills):
        return fills
    return fills[fills[f"predicted_{unit}"].notna() & fills[f"actual_{unit}"].notna()]


def predicted_vs_actual(fills: pd.DataFrame, unit: str = "ticks") -> Figure | None:
    """Each fill's predicted vs actual slippage per contract, by route, with the y = x line."""
    pairs = _pairs(fills, unit)
    if not len(pairs):
        return None
    fig = Figure(figsize=(5.6, 5.0), layout="constrained")
    ax = fig.add_subplot()
    for route, g in pairs.groupby("route"):
        g = _thin(g)
        ax.scatter(g[f"predicted_{unit}"], g[f"actual_{unit}"], s=18, alpha=0.6,
                   color=ROUTE_COLOURS.get(str(route), "#777"), label=f"{route} ({len(g)})")
    lo = float(min(pairs[f"predicted_{unit}"].min(), pairs[f"actual_{unit}"].min(), 0))
    hi = float(max(pairs[f"predicted_{unit}"].max(), pairs[f"actual_{unit}"].max()))
    pad = 0.05 * (hi - lo or 1)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="black", lw=1, ls="--",
            label="y = x (perfect prediction)")
    ax.set_xlabel(f"predicted slippage ({unit} per contract)")
    ax.set_ylabel(f"actual slippage ({unit} per contract, + is a cost)")
    ax.set_title("predicted vs actual slippage")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return fig


def slippage_over_time(fills: pd.DataFrame, window: int = 20) -> Figure | None:
    """Actual slippage per fill (ticks) over time, its rolling mean, and the prediction."""
    pairs = _pairs(fills)
    if not len(pairs):
        return None
    t = pd.to_datetime(pairs["fill_time"], utc=True, format="ISO8601")
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax = fig.add_subplot()
    thin = _thin(pairs.assign(_t=t))
    ax.scatter(thin["_t"], thin["actual_ticks"], s=12, alpha=0.5, color="#b00020",
               label="actual per fill")
    ax.plot(thin["_t"], thin["predicted_ticks"], color="#35618f", lw=1, marker=".", ms=3,
            label="predicted")
    roll = pairs["actual_ticks"].rolling(window, min_periods=1).mean()
    ax.plot(t, roll, color="black", lw=1.4, label=f"actual, rolling mean of {window} fills")
    ax.axhline(0, color="#777", lw=0.8)
    ax.set_ylabel("slippage (ticks per contract)")
    ax.set_title("slippage over time (UTC)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return fig


def cumulative_cost(fills: pd.DataFrame) -> Figure | None:
    """Running total of slippage dollars, actual vs predicted (positive = money paid away)."""
    pairs = _pairs(fills, "usd")
    if not len(pairs):
        return None
    t = pd.to_datetime(pairs["fill_time"], utc=True, format="ISO8601")
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax = fig.add_subplot()
    ax.step(t, pairs["actual_usd"].cumsum(), where="post", color="#b00020", lw=1.4,
            label=f"actual (total {money(pairs['actual_usd'].sum())})")
    ax.step(t, pairs["predicted_usd"].cumsum(), where="post", color="#35618f", lw=1.2,
            ls="--", label=f"predicted (total {money(pairs['predicted_usd'].sum())})")
    ax.set_ylabel("cumulative slippage cost (USD)")
    ax.set_title("cumulative slippage cost")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return fig


def position_over_time(history: pd.DataFrame, since: date | None = None,
                       until: date | None = None) -> Figure | None:
    """Position per contract and per market after every fill (the whole history, framed to
    the report's range: a position carries over from before the range)."""
    if history is None or not len(history):
        return None
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax = fig.add_subplot()
    end = pd.Timestamp(until, tz="UTC") + pd.Timedelta(days=1) if until is not None \
        else history["time"].max()

    def held(times: pd.Series, values: pd.Series) -> tuple[pd.Series, pd.Series]:
        """The series carried on to the chart's right edge (a position lasts until changed)."""
        if end > times.iloc[-1]:
            return (pd.concat([times, pd.Series([end])], ignore_index=True),
                    pd.concat([values, values.iloc[-1:]], ignore_index=True))
        return times, values

    for local, g in history.groupby("local_symbol", sort=True):
        ax.step(*held(g["time"], g["position"]), where="post", lw=1.2, label=str(local))
    for symbol, g in history.groupby("symbol", sort=True):
        if g["local_symbol"].nunique() > 1:
            ax.step(*held(g["time"], g["market_position"]), where="post", lw=2.5,
                    color="black", alpha=0.35, label=f"{symbol} total")
    if since is not None:
        ax.set_xlim(left=pd.Timestamp(since, tz="UTC"))
    if until is not None:
        ax.set_xlim(right=end)
    ax.axhline(0, color="#777", lw=0.8)
    ax.set_ylabel("position (contracts)")
    ax.set_title("position over time, from the journal (+ explained broker executions)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return fig

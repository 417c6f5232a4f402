"""Charts for the notebooks (matplotlib Figures, no pyplot state, so nothing shows twice)."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from hydra.cycle import SignalResult


def price_signal_fills(sig: SignalResult, fills: pd.DataFrame, days: int = 60) -> Figure:
    """Recent closes, today's signal and today's fills on one chart."""
    bars = sig.bars_frame().tail(days)
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(pd.to_datetime(bars.index), bars["close"], color="#35618f", lw=1.4, label="close")
    ax.fill_between(pd.to_datetime(bars.index), bars["low"], bars["high"], color="#35618f",
                    alpha=0.12, label="daily range")
    when = pd.Timestamp(sig.signal.as_of)
    marker = {1: "^", -1: "v", 0: "o"}[sig.signal.direction]
    colour = {1: "#1b7f3b", -1: "#b00020", 0: "#777"}[sig.signal.direction]
    ax.scatter([when], [sig.signal.last_close], marker=marker, s=120, color=colour, zorder=3,
               label=f"signal {sig.signal.label} (target {sig.target_position:+d})")
    if len(fills):
        for side, group in fills.groupby("side"):
            ax.scatter([when] * len(group), group["price"], marker="x", s=80, zorder=4,
                       color="#1b7f3b" if side == "BUY" else "#b00020",
                       label=f"{side} fills")
    ax.set_title(f"{sig.signal.market} {sig.contract.local_symbol}: last {len(bars)} closes, "
                 f"signal and fills for {sig.signal.as_of}")
    ax.set_ylabel(f"price ({sig.contract.symbol} quote units)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return fig


def execution_window(quotes: pd.DataFrame, children: pd.DataFrame, fills: pd.DataFrame
                     ) -> Figure | None:
    """Bid/ask as the order manager saw them, the child limits, and the fills."""
    if not len(quotes):
        return None
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax = fig.add_subplot()
    t = pd.to_datetime(quotes["time"], utc=True)
    ax.step(t, quotes["bid"], where="post", color="#1b7f3b", lw=1, label="bid")
    ax.step(t, quotes["ask"], where="post", color="#b00020", lw=1, label="ask")
    if len(children):
        ax.scatter(pd.to_datetime(children["sent_at"], utc=True), children["limit_price"],
                   marker="_", s=300, color="#35618f", label="child limit")
    if len(fills):
        ax.scatter(pd.to_datetime(fills["fill_time"], utc=True), fills["price"], marker="o",
                   s=50, color="black", zorder=4, label="fills")
    ax.set_title("execution window: quotes seen, child limits and fills (UTC)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return fig

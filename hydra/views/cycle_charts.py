"""Charts for the notebooks (matplotlib Figures, no pyplot state, so nothing shows twice)."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from hydra.cycle.signal import SignalResult

# Fixed margins (in figure fractions, for these fixed sizes), not layout="constrained": the
# layout solver measured every text twice and took about half of each chart's drawing time
# (benchmarks/papermill_cycle.py); the texts here are of bounded length, the margins fit them.
_MARGINS = {"left": 0.085, "right": 0.985, "top": 0.9, "bottom": 0.1}


def _figure(height: float) -> Figure:
    fig = Figure(figsize=(9, height))
    fig.subplots_adjust(**_MARGINS)
    return fig


def price_signal_fills(sig: SignalResult, fills: pd.DataFrame, days: int = 60) -> Figure:
    """Recent closes, today's signal and today's fills on one chart."""
    bars = sig.bars_frame().tail(days)
    fig = _figure(3.6)
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


def resting_intervals(quotes: pd.DataFrame, children: pd.DataFrame,
                      fills: pd.DataFrame) -> pd.DataFrame:
    """When each child limit rested: from its send until the next child replaced it.

    Children are worked one at a time (a slice's next attempt or the next slice replaces the
    previous one), so a child rests until the next send; the last rests until its last fill
    when it filled, else until the last quote the order manager saw.
    """
    if not len(children):
        return pd.DataFrame(columns=["start", "end", "limit_price", "status"])
    kids = children.assign(start=pd.to_datetime(children["sent_at"], utc=True)
                           ).sort_values("start").reset_index(drop=True)
    ends = list(kids["start"].iloc[1:])
    last_quote = pd.to_datetime(quotes["time"], utc=True).max() if len(quotes) else None
    last_fill = pd.to_datetime(fills["fill_time"], utc=True).max() if len(fills) else None
    final = kids["start"].iloc[-1]
    if kids["filled"].iloc[-1] and last_fill is not None and last_fill >= final:
        final = last_fill
    elif last_quote is not None and last_quote >= final:
        final = last_quote
    ends.append(final)
    return pd.DataFrame({"start": kids["start"], "end": ends,
                         "limit_price": kids["limit_price"], "status": kids["status"]})


def execution_window(quotes: pd.DataFrame, children: pd.DataFrame, fills: pd.DataFrame
                     ) -> Figure | None:
    """Bid/ask as the order manager saw them, each child limit over the interval it rested,
    the fills and the arrival mid they are measured against."""
    if not len(quotes):
        return None
    fig = _figure(3.4)
    ax = fig.add_subplot()
    t = pd.to_datetime(quotes["time"], utc=True)
    ax.step(t, quotes["bid"], where="post", color="#1b7f3b", lw=1, label="bid")
    ax.step(t, quotes["ask"], where="post", color="#b00020", lw=1, label="ask")
    rests = resting_intervals(quotes, children, fills)
    for i, r in enumerate(rests.itertuples(index=False)):
        ax.hlines(r.limit_price, r.start, r.end, color="#35618f", lw=3, alpha=0.8,
                  label="child limit (while resting)" if i == 0 else None)
    if len(fills):
        ax.scatter(pd.to_datetime(fills["fill_time"], utc=True), fills["price"], marker="o",
                   s=50, color="black", zorder=4, label="fills")
        if "arrival_mid" in fills and fills["arrival_mid"].notna().any():
            ax.axhline(float(fills["arrival_mid"].dropna().iloc[0]), color="#8a6d00", ls="--",
                       lw=1, label="arrival mid")
    ax.set_title("execution window: quotes seen, child limits while resting, fills (UTC)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return fig

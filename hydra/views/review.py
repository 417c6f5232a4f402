"""History across runs for notebooks/review.ipynb: the run index and glued summaries as tables.

Reads only (the run index, or each executed notebook's scraps); draws with matplotlib Figures.
The notebook's cells are one call each: `load`, then the `show_*` displays, `figure`, `totals`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from IPython.display import Markdown, display
from matplotlib.figure import Figure

from hydra.ops import notebook_runs as runs
from hydra.paths import DataPaths, resolve_data_dir

RUN_COLUMNS = ["run_id", "job", "trade_date", "started_utc", "status", "scheduled", "reason",
               "notebook"]
HISTORY_COLUMNS = ["as_of", "run_id", "status", "signal", "signal_score", "target_position",
                   "position_before", "position_after", "orders_sent", "fills",
                   "filled_contracts", "avg_fill_price", "slippage_ticks", "slippage_usd",
                   "predicted_slippage_usd", "commission", "net_liquidation", "daily_pnl",
                   "blocked"]


@dataclass
class Review:
    index_path: str
    job: str
    since: date | None
    runs: pd.DataFrame  # one row per indexed run
    history: pd.DataFrame  # one row per run with a glued summary
    daily: pd.DataFrame  # the last run of each trade date

    @property
    def problems(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] != "succeeded"]


def load(data_dir: str = "", job: str = "daily-cycle", since: str = "",
         source: str = "index") -> Review:
    """Runs from the index, and summaries from the index (or a scrapbook scan)."""
    root = resolve_data_dir(data_dir or None)
    paths = DataPaths(root)
    first_day = date.fromisoformat(since) if since else None
    records: list[Any] = []
    if paths.run_index.exists():
        index = runs.RunIndex(paths.run_index)
        records = index.list(job=job or None, since=first_day)
        index.close()
    frame = pd.DataFrame(
        [{"run_id": r.run_id, "job": r.job, "trade_date": r.as_of, "started_utc": r.started_at,
          "status": r.status, "scheduled": bool(r.scheduled_for), "reason": r.reason,
          "notebook": r.output_path} for r in records], columns=RUN_COLUMNS)
    history = pd.DataFrame(runs.history(root, job=job, since=first_day, source=source)
                           ).reindex(columns=HISTORY_COLUMNS)
    daily = history.iloc[0:0]
    if not history.empty:
        history["as_of"] = pd.to_datetime(history["as_of"])
        daily = history.groupby("as_of").last()
    return Review(str(paths.run_index), job, first_day, frame, history, daily)


def figure(review: Review) -> Figure | None:
    """Signal and position, slippage predicted vs actual, and the account, by trade date."""
    daily = review.daily
    if daily.empty:
        return None
    fig = Figure(figsize=(11, 9), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(3, 1, sharex=True)
    ax1.step(daily.index, daily["position_after"].astype(float), where="post",
             label="position after")
    ax1.plot(daily.index, daily["target_position"].astype(float), "o", label="target")
    ax1b = ax1.twinx()
    ax1b.plot(daily.index, daily["signal_score"].astype(float), color="grey", alpha=0.5,
              label="signal score")
    ax1.set_ylabel("contracts")
    ax1b.set_ylabel("signal score")
    ax1.legend(loc="upper left")
    ax1.set_title("Signal and position")
    traded = daily[daily["fills"].fillna(0) > 0]
    ax2.bar(traded.index, traded["slippage_usd"].astype(float), width=0.8,
            label="actual slippage (USD)")
    ax2.plot(traded.index, traded["predicted_slippage_usd"].astype(float), "kx",
             label="predicted slippage (USD)")
    ax2.axhline(0, color="black", linewidth=0.5)
    ax2.set_ylabel("USD (positive = cost)")
    ax2.legend(loc="upper left")
    ax2.set_title(f"Slippage on {int(traded['fills'].sum())} fill(s)")
    ax3.plot(daily.index, daily["net_liquidation"].astype(float), label="net liquidation")
    ax3.set_ylabel("net liquidation, USD")
    ax3.set_title("Account")
    pnl = daily["daily_pnl"].astype(float)
    ax3b = ax3.twinx()
    ax3b.bar(daily.index, pnl, alpha=0.3, color=["#1b7f3b" if v >= 0 else "#b00020" for v in pnl],
             label="day P&L")
    ax3b.set_ylabel("day P&L, USD")
    return fig


def totals(review: Review) -> dict[str, Any]:
    """The `review` scrap: plain values only."""
    history = review.history

    def total(col: str) -> float:
        return float(history[col].astype(float).fillna(0).sum()) if not history.empty else 0.0

    last_nlv = history["net_liquidation"].dropna() if not history.empty else pd.Series()
    return {
        "runs": len(review.runs),
        "by_status": {str(s): int(n) for s, n in review.runs["status"].value_counts().items()},
        "trade_dates": int(history["as_of"].nunique()) if not history.empty else 0,
        "orders_sent": int(total("orders_sent")),
        "fills": int(total("fills")),
        "slippage_usd": total("slippage_usd"),
        "predicted_slippage_usd": total("predicted_slippage_usd"),
        "commission": total("commission"),
        "last_net_liquidation": float(last_nlv.iloc[-1]) if len(last_nlv) else None,
    }


def show_header(review: Review) -> None:
    """How many runs of which job, from which index."""
    display(Markdown(f"**{len(review.runs)} run(s)** of `{review.job or 'every job'}` in "
                     f"`{review.index_path}`" + (f" from {review.since}" if review.since else "")))


def show_runs(review: Review) -> None:
    """Runs by job and status, then the runs that did not succeed."""
    if review.runs.empty:
        display(Markdown("_No runs yet: `hydra run daily-cycle` (or the schedule) records the "
                         "first._"))
        return
    display(review.runs.groupby(["job", "status"]).size().rename("runs").to_frame())
    if len(review.problems):
        display(Markdown("Runs that did not succeed:"))
        display(review.problems[["run_id", "job", "trade_date", "status", "reason"]])


def show_daily(review: Review) -> None:
    """The last run of each trade date, or why there is none."""
    if review.history.empty:
        display(Markdown("_No run has glued a summary yet._"))
    else:
        display(review.daily)


def show_totals(values: dict[str, Any]) -> None:
    display(Markdown("\n".join(f"- **{k}**: {v}" for k, v in values.items())))

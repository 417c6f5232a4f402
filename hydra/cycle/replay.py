"""Replay: the daily cycle in-process over a range of simulated trading days.

Each day runs `hydra.cycle.run_in_process` exactly as a daily run would (same loop, same
execution, same fill journal), so a replay builds real history: bars in the store, models in
the registry, agent-journal entries, orders and fills. The simulated account's clock only moves
forward, so a replay into a data dir whose account is already past the start is refused.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from hydra.agent.journal import AgentJournal, agent_db_path
from hydra.agent.pnl import FillLine, PnlReconciliation, reconcile
from hydra.config import load_config
from hydra.domain.errors import HydraError
from hydra.domain.market import Market
from hydra.paths import DataPaths, ensure_writable, resolve_data_dir
from hydra.reference.markets import get_market
from hydra.reference.sessions import trading_days
from hydra.sqlite_tx import without_fsync


class ReplayError(HydraError, ValueError):
    """The replay cannot run as asked; the message says what to do instead."""


@dataclass(frozen=True)
class ReplayDay:
    as_of: date
    status: str
    signal: str
    model: str
    target: int
    position_after: int
    net_liquidation: float
    action: str  # the loop's decision outcome for the day
    detail: str


@dataclass
class ReplayResult:
    market: str
    start: date
    end: date
    days: list[ReplayDay] = field(default_factory=list)
    start_equity: float = 0.0
    elapsed_seconds: float = 0.0
    steps: Counter[str] = field(default_factory=Counter)  # "step:outcome" counts
    drift_days: int = 0  # cycles whose observe step found the inputs drifted
    reconciliation: PnlReconciliation | None = None  # model-scored vs account P&L
    not_reconciled: str = ""  # why there is no reconciliation

    @property
    def end_equity(self) -> float:
        return self.days[-1].net_liquidation if self.days else self.start_equity

    @property
    def pnl(self) -> float:
        return self.end_equity - self.start_equity

    def count(self, step: str, outcome: str | None = None) -> int:
        return sum(n for k, n in self.steps.items()
                   if k.split(":")[0] == step and (outcome is None or k.endswith(":" + outcome)))

    @property
    def notable(self) -> list[ReplayDay]:
        """Days on which the loop did something other than keep a healthy champion."""
        return [d for d in self.days if d.action not in ("healthy", "")]

    def as_dict(self) -> dict[str, Any]:
        return {
            "market": self.market, "start": self.start.isoformat(), "end": self.end.isoformat(),
            "days": len(self.days), "start_equity": self.start_equity,
            "end_equity": self.end_equity, "pnl": self.pnl,
            "drift_days": self.drift_days, "degraded_days": self.count("diagnose", "degraded"),
            "candidates_trained": self.count("train"),
            "promotions": self.count("promote"), "rollbacks": self.count("rollback"),
            "elapsed_seconds": self.elapsed_seconds,
            "reconciliation": (self.reconciliation.as_dict() if self.reconciliation else None),
        }

    def reconciliation_lines(self) -> list[str]:
        if self.reconciliation is None:
            return [f"P&L not reconciled: {self.not_reconciled}"]
        return ["P&L reconciliation, USD (hydra/agent/pnl.py):",
                *self.reconciliation.lines()]


def check_start(root: Path, market: str, start: date) -> None:
    """Refuse when the persistent simulated account is already past the replay's start."""
    from hydra.broker.sim.broker import SimBroker
    from hydra.cycle.context import cycle_start_time

    config = load_config(root)
    clock = SimBroker.last_processed(DataPaths(root).sim_db)
    first = cycle_start_time(get_market(market), start, config)
    if clock is not None and clock > first:
        raise ReplayError(
            f"the simulated account in {root} is already at {clock:%Y-%m-%d %H:%M} UTC and its "
            f"clock only moves forward, so it cannot trade {start} again; replay into a fresh "
            f"data dir (--data-dir NEW_DIR), or start after {clock:%Y-%m-%d}")


def replay(*, start: date, end: date, market: str = "ZO", contracts: int = 1,
           data_dir: str | Path | None = None, seed: int | None = None,
           on_day: Callable[[ReplayDay], None] | None = None,
           fsync_each_commit: bool = False) -> ReplayResult:
    """Run the cycle for every trading day in [start, end]; returns what happened.

    Into a data dir with no journal and no simulated account yet, the cycles' commits skip
    the disk wait (unless `fsync_each_commit`) and the replay is made durable once at its end
    (flush_to_disk); into one that holds records, every commit is fsynced as a daily run's
    is. Same results either way."""
    from hydra import cycle
    from hydra.cycle.context import writable_checked_once

    if end < start:
        raise ReplayError(f"--end {end} is before --start {start}")
    mkt = get_market(market)
    root = ensure_writable(resolve_data_dir(data_dir))
    days = trading_days(mkt, start, end)
    if not days:
        raise ReplayError(f"no {mkt.symbol} trading days between {start} and {end}")
    check_start(root, mkt.symbol, days[0])
    # synchronous=OFF only for a history built from nothing: an OS crash under it can damage
    # a database, which a rerun repairs here but would cost a data dir its earlier records
    paths = DataPaths(root)
    relax = not fsync_each_commit and not (paths.journal_db.exists() or paths.sim_db.exists())
    result = ReplayResult(mkt.symbol, days[0], days[-1])
    t0 = time.perf_counter()
    summaries: list[dict[str, Any]] = []
    with AgentJournal(agent_db_path(root)) as journal, writable_checked_once(root), \
            one_blas_thread():
        first_id = journal.events(limit=1, newest_first=True)
        after = first_id[0].id if first_id else 0
        for i, day in enumerate(days):
            with without_fsync() if relax else nullcontext():
                s = cycle.run_in_process(as_of=day, market=mkt.symbol, contracts=contracts,
                                         data_dir=str(root), seed=-1 if seed is None else seed)
            summaries.append(s)
            if i == 0:
                result.start_equity = float(s["net_liquidation"]) - float(s["daily_pnl"])
            decision = journal.decision(s["cycle_id"])  # the cycle's own, committed
            rd = ReplayDay(day, s["status"], s["signal"], s["model"],
                           int(s["target_position"]), int(s["position_after"]),
                           float(s["net_liquidation"]), decision.outcome if decision else "",
                           decision.detail if decision else "")
            result.days.append(rd)
            if on_day is not None:
                on_day(rd)
        flush_to_disk(root)
        events = [e for e in journal.events(market=mkt.symbol, since=days[0], until=days[-1])
                  if e.id > after]
    result.steps = Counter(f"{e.step}:{e.outcome}" for e in events)
    result.drift_days = sum(1 for e in events
                            if e.step == "observe" and e.data.get("drift", {}).get("is_drifted"))
    try:
        result.reconciliation = reconcile_replay(root, mkt, summaries, result, seed)
    except ReconcileGap as exc:
        result.not_reconciled = str(exc)
    result.elapsed_seconds = round(time.perf_counter() - t0, 2)
    return result


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS (OpenBLAS under numpy, scipy and scikit-learn) on one thread for the replay. Its
    matrices are a few hundred rows by at most nine features, too small to split: the extra
    threads only spin, and on a busy machine a logistic fit took 7x the CPU of a one-thread
    fit. The same arithmetic either way (the replay benchmark's fingerprint compares)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def flush_to_disk(root: Path) -> None:
    """The replay's durability point: every SQLite file in the data dir (and its directory)
    fsynced once, after the last cycle. The cycles ran with synchronous=OFF: each commit
    reached the OS in order (a killed replay loses nothing it committed); only an OS crash or
    a power cut during the replay could cost its recent days, and a replay is rerun into a
    fresh data dir anyway. A daily run is untouched: it fsyncs every commit."""
    dirs = set()
    for path in sorted(Path(root).rglob("*.sqlite*")):
        if path.is_file() and not path.is_symlink():
            _fsync(path)
            dirs.add(path.parent)
    for d in sorted(dirs):
        _fsync(d)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ReconcileGap(LookupError):
    """Something the reconciliation needs is missing (it says what)."""


def _sim_mark(market: Market, seed: int, null: bool, when: datetime) -> float:
    """The simulated broker's valuation price at `when` (SimBroker._mark: the mid in session,
    else the last completed close)."""
    from hydra.broker.sim.market import sim_market

    sm = sim_market(market.symbol, seed, null)
    q = sm.quote_at(when)
    if q.in_session:
        return q.mid
    day = sm.last_completed_trade_date(when)
    return sm.close(day) if day is not None else q.last


def reconcile_replay(root: Path, market: Market, summaries: list[dict[str, Any]],
                     result: ReplayResult, seed: int | None) -> PnlReconciliation:
    """The replay's model-scored P&L against the account's (hydra.agent.pnl)."""
    from hydra.execution.journal import Journal
    from hydra.model.returns import side_costs
    from hydra.model.signal import cost_model
    from hydra.model.store import BarStore, bar_store_path

    config = load_config(root)
    days = [d.as_of for d in result.days]
    with BarStore(bar_store_path(root)) as store:
        entries = store.entries(market.symbol, days[0], days[-1])
        bars = store.bars_before(market.symbol, days[-1])
    missing = [d for d in days if d not in entries.index]
    if missing:
        raise ReconcileGap(f"no 10:00 entry price stored for {len(missing)} day(s) "
                           f"(first {missing[0]}): the broker cannot give past intraday prices")
    costs = side_costs(bars, cost_model(market, config))
    prev = [bars.index[bars.index < d][-1] for d in days]
    with Journal(DataPaths(root).journal_db) as journal:
        frame = journal.fills(since=days[0], until=days[-1], symbol=market.symbol)
    fills = [FillLine(date.fromisoformat(r.as_of), r.side, int(r.quantity), float(r.price),
                      None if pd.isna(r.arrival_mid) else float(r.arrival_mid),
                      0.0 if pd.isna(r.commission) else float(r.commission),
                      float(r.point_value))
             for r in frame.itertuples(index=False)]
    end = datetime.fromisoformat(summaries[-1]["broker_time"])
    mark = _sim_mark(market, config.sim.seed if seed is None else seed,
                     config.sim.null_market, end)
    return reconcile(days, [d.target for d in result.days],
                     [d.position_after for d in result.days], entries,
                     mark, [float(costs.loc[p]) for p in prev], fills, market.point_value,
                     int(summaries[0]["position_before"]), result.pnl)

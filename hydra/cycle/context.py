"""Step 0: open the cycle. The cycle context every later step takes: parameters, config, market,
broker, journal, clock, and the lock that keeps a second process off the same market and date."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hydra.broker.base import Broker
from hydra.broker.factory import BrokerSpec, make_broker
from hydra.broker.safety import SafetyVerdict, safety_verdict
from hydra.config import Config, load_config
from hydra.cycle.params import CycleParams, ParameterError, validate_params
from hydra.domain.broker import Position
from hydra.domain.errors import HydraError
from hydra.domain.market import Market
from hydra.execution import fillsync
from hydra.execution.journal import Journal
from hydra.execution.risk import RiskGate
from hydra.paths import DataPaths, ensure_writable
from hydra.reference.clock import Clock
from hydra.reference.markets import get_market


@dataclass(frozen=True)
class PriorOrder:
    """An order this cycle already sent, as the broker (or, failing it, the journal) knows it."""

    order_ref: str
    status: str
    side: str
    quantity: int
    filled: int
    avg_fill_price: float | None
    local_symbol: str
    source: str  # "broker" | "journal"


@dataclass(frozen=True)
class Recovery:
    """What a rerun found of an earlier, interrupted run of the same cycle."""

    attempt: int  # this run's attempt number (the interrupted run was attempt - 1 or earlier)
    filled_before: int  # contracts this cycle filled before the interruption
    planned_before: int  # contracts the earlier attempts set out to trade
    cancelled: tuple[str, ...]  # children found working and cancelled now
    unconfirmed: tuple[str, ...]  # children whose cancel the broker did not confirm
    target: int | None  # the target recorded before the first order (None: none on record)

    def note(self, sending: int) -> str:
        text = (f"resumed: {self.filled_before} of {self.planned_before} filled before the "
                f"interruption, {sending} sent now")
        if self.cancelled:
            text += f"; cancelled {', '.join(self.cancelled)} left working"
        return text


@dataclass
class Cycle:
    params: CycleParams
    config: Config
    market: Market
    paths: DataPaths
    safety: SafetyVerdict
    clock: Clock
    broker: Broker
    journal: Journal
    started_at: datetime
    lock_fd: int | None = None
    # set by step 1 (check_account): what it found of an interrupted run of this cycle
    resume: Recovery | None = None
    resume_checked: bool = False

    @property
    def cycle_id(self) -> str:
        return f"{self.market.symbol}-{self.params.as_of:%Y%m%d}"

    @property
    def ref_prefix(self) -> str:
        return f"HYD-{self.cycle_id}-"

    def order_ref(self, n: int) -> str:
        return f"{self.ref_prefix}{n}"

    def close(self) -> None:
        try:
            self.broker.close()
            self.journal.close()
        finally:
            if self.lock_fd is not None:
                os.close(self.lock_fd)  # releases the cycle lock
                self.lock_fd = None


_WRITABLE_CHECKED: ContextVar[Path | None] = ContextVar("hydra_writable_checked", default=None)


@contextmanager
def writable_checked_once(root: Path) -> Iterator[None]:
    """A replay's cycles in this process, on one data dir: its files are checked writable
    here, once (DataPaths.require_writable, the check every daily run makes before any
    order), and not again before each day. What the replay's own cycles create in between is
    this user's; rescanning a data dir whose runs/locks and models grow by the day was a
    tenth of a year's replay."""
    paths = DataPaths(Path(root))
    paths.require_writable()
    token = _WRITABLE_CHECKED.set(paths.root.resolve())
    try:
        yield
    finally:
        _WRITABLE_CHECKED.reset(token)


def cycle_start_time(market: Market, day: date, config: Config) -> datetime:
    """When a simulated cycle for `day` acts: the configured exchange-local time."""
    local = datetime.combine(day, config.sim.cycle_local_time, tzinfo=ZoneInfo(market.timezone))
    return local.astimezone(UTC)


def open_cycle(**raw: Any) -> Cycle:
    """Validate parameters, prepare the data directory and connect to the broker."""
    params = validate_params(**raw)
    ensure_writable(params.data_dir)
    config = load_config(params.data_dir)
    market = get_market(params.market)
    verdict = safety_verdict(params.broker, params.port, params.confirm_live)
    if not verdict.allowed:
        raise ParameterError(f"refused before connecting: {verdict.reason}")
    paths = DataPaths(params.data_dir)
    if _WRITABLE_CHECKED.get() != paths.root.resolve():
        paths.require_writable()
    lock_fd = _cycle_lock(paths, f"{market.symbol}-{params.as_of:%Y%m%d}", params.run_id)
    spec = BrokerSpec(kind=params.broker, host=params.host, port=params.port,
                      client_id=params.client_id, seed=params.seed,
                      confirm_live=params.confirm_live)
    journal = Journal(paths.journal_db)
    try:
        broker, clock = make_broker(spec, config, paths,
                                    sim_start=cycle_start_time(market, params.as_of, config))
        broker.connect()
    except BaseException:
        journal.close()
        os.close(lock_fd)
        raise
    # the IB adapter re-checks after connecting (paper account id): show that verdict
    verdict = getattr(broker, "verdict", None) or verdict
    return Cycle(params, config, market, paths, verdict, clock, broker, journal,
                 started_at=clock.now(), lock_fd=lock_fd)


class CycleBusyError(HydraError, RuntimeError):
    """Another process is running the same market and date; this one sends nothing."""


def _cycle_lock(paths: DataPaths, cycle_id: str, run_id: str) -> int:
    """flock(2) on runs/locks/cycle-<id>.lock, held by the process that trades (the kernel
    under papermill, `hydra run`'s parent does not count) for as long as the cycle is open.
    The kernel drops it when that process dies, however it dies."""
    path = paths.root / "runs" / "locks" / f"cycle-{cycle_id}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise CycleBusyError(
            f"cycle {cycle_id} is already being run by another process ({holder}); this run "
            "sent nothing. Let it finish: a rerun afterwards resumes from the broker's "
            "position.") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps({"pid": os.getpid(), "run_id": run_id,
                              "started_at": datetime.now(UTC).isoformat()}).encode(), 0)
    return fd


def market_positions(cyc: Cycle) -> list[Position]:
    """This market's non-zero positions at the broker (every contract month)."""
    return [p for p in cyc.broker.positions() if p.symbol == cyc.market.symbol and p.quantity]


def risk_gate(cyc: Cycle) -> RiskGate:
    return RiskGate(cyc.broker, cyc.journal, cyc.config.risk, cyc.paths, cyc.clock,
                    cyc.cycle_id, cyc.market.symbol, cyc.params.as_of)


def sync_fills(cyc: Cycle) -> int:
    """Journal every execution of this cycle the broker reports and the journal lacks."""
    return fillsync.sync_fills(cyc.broker, cyc.journal, cyc.ref_prefix)

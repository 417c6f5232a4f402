"""Build the broker a cycle or command asked for, with the clock it runs on.

The only place that knows which implementations exist: callers say "sim" or "ib".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hydra.broker.base import Broker
from hydra.config import Config
from hydra.domain.broker import BrokerError
from hydra.paths import DataPaths
from hydra.reference.clock import Clock, SimClock


@dataclass(frozen=True)
class BrokerSpec:
    kind: str  # "sim" | "ib"
    host: str = "127.0.0.1"
    port: int = 4002
    client_id: int = 17
    seed: int | None = None  # sim only; None: config.sim.seed
    confirm_live: bool = False  # ib only


def make_broker(spec: BrokerSpec, config: Config, paths: DataPaths,
                sim_start: datetime | None = None, follow_account: bool = False
                ) -> tuple[Broker, Clock]:
    """A broker (not yet connected) and its clock.

    For the simulator the clock starts at `sim_start`, or where the persistent account's
    clock already is if that is later (its time only moves forward). `follow_account` is for
    readers (reports, status): each read is at the account's own latest time, which a running
    `hydra sim-gateway` may move on while it is open (SimBroker.follow_account).
    """
    if spec.kind == "sim":
        from hydra.broker.sim.broker import SimBroker

        last = SimBroker.last_processed(paths.sim_db)
        candidates = [t for t in (sim_start, last) if t is not None]
        if not candidates:
            raise BrokerError("a new simulated account needs a start time")
        clock = SimClock(max(candidates))
        seed = config.sim.seed if spec.seed is None else spec.seed
        broker = SimBroker(
            paths.sim_db,
            clock,
            seed=seed,
            starting_cash=config.sim.starting_cash,
            commission_per_contract=config.sim.commission_per_contract,
            account_id=config.sim.account_id,
            null_market=config.sim.null_market,
            follow_account=follow_account,
        )
        return broker, clock
    if spec.kind == "ib":
        from hydra.broker.ib.adapter import IBBroker, IBClock

        broker = IBBroker(spec.host, spec.port, spec.client_id, confirm_live=spec.confirm_live,
                          settings=config.ib)
        # IB's time slept through in wall seconds: the wall clock against a real gateway,
        # the simulated time against `hydra sim-gateway`
        return broker, IBClock(broker)
    raise BrokerError(f"unknown broker kind {spec.kind!r}: use 'sim' or 'ib'")

"""Step 3: the signal. The registry's champion (the first one trained on a fresh data dir) on
point-in-time bars from the bar store, and the target position it asks for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from hydra.broker.base import Broker
from hydra.config import Config
from hydra.cycle.context import Cycle
from hydra.domain.broker import Bar, ContractDetails
from hydra.domain.market import Market
from hydra.domain.signal import Signal


@dataclass(frozen=True)
class SignalResult:
    signal: Signal
    contract: ContractDetails
    bars: list[Bar]
    target_position: int

    def bars_frame(self) -> pd.DataFrame:
        return pd.DataFrame([b.__dict__ for b in self.bars]).set_index("date")


def _bars_before(cyc: Cycle, contract: ContractDetails, n: int) -> list[Bar]:
    """n completed bars dated before the trade date (never the trade date's own bar)."""
    now_date = cyc.broker.now().astimezone(ZoneInfo(cyc.market.timezone)).date()
    extra = max(0, (now_date - cyc.params.as_of).days) + 5
    bars = cyc.broker.daily_bars(contract, n + extra)
    return [b for b in bars if b.date < cyc.params.as_of][-n:]


def compute_signal(cyc: Cycle) -> SignalResult:
    """The registry's champion on point-in-time bars from the bar store (see model_signal)."""
    contract = cyc.broker.contract_details(cyc.market.symbol, cyc.params.as_of)
    bars = _bars_before(cyc, contract, cyc.config.model.history_days)
    sig, target = model_signal(cyc.broker, contract, cyc.market, cyc.params.as_of, cyc.config,
                               cyc.paths.root, cyc.params.contracts, cyc.cycle_id)
    return SignalResult(sig, contract, bars, target_position=target)


def model_signal(broker: Broker, contract: ContractDetails, market: Market, as_of: date,
                 config: Config, root: object, contracts: int,
                 cycle_id: str) -> tuple[Signal, int]:
    """The champion's signal and target position for `as_of` (first champion trained if none)."""
    # the model's libraries (scikit-learn, scipy) load here, not when the notebook imports
    from hydra.agent.journal import AgentJournal, agent_db_path
    from hydra.agent.loop import ensure_champion
    from hydra.model.features import VOL_DAYS
    from hydra.model.signal import cost_model, load_data, predict, sync_store
    from hydra.model.sizing import target_contracts
    from hydra.model.store import BarStore, bar_store_path

    root = Path(str(root))
    with BarStore(bar_store_path(root)) as store, AgentJournal(agent_db_path(root)) as journal:
        sync_store(broker, contract, store, as_of, config.model.backfill_days,
                   config.sim.cycle_local_time, market.timezone)
        data = load_data(store, market.symbol, as_of, config.model.backfill_days,
                         cost_model(market, config))
        record = ensure_champion(root, market, as_of, config, data, journal,
                                 at=broker.now(), cycle_id=cycle_id)
        pred = predict(record.model, data, config.model.prob_band)
        equity = broker.account_state().net_liquidation  # the notional limit needs it
        target = target_contracts(
            pred.direction, pred.probability, sizing=config.model.sizing, cap=contracts,
            kelly_fraction=config.model.kelly_fraction, daily_sigma=pred.daily_sigma,
            equity=equity, notional_per_contract=pred.last_close * market.point_value,
            max_position_contracts=config.risk.max_position_contracts,
            max_notional_fraction=config.risk.max_notional_fraction)
        journal.record_prediction(market=market.symbol, as_of=as_of, model_id=record.model_id,
                                  last_bar_date=pred.last_bar_date,
                                  probability=pred.probability, direction=pred.direction,
                                  target=target, recorded_at=broker.now())
    sig = Signal(
        as_of=as_of,
        market=market.symbol,
        model=record.model_id,
        direction=pred.direction,
        score=round(2 * pred.probability - 1, 6),
        lookback_days=VOL_DAYS,
        last_bar_date=pred.last_bar_date,
        last_close=pred.last_close,
        probability=round(pred.probability, 6),
    )
    return sig, target

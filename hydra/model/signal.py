"""The champion's signal for a trade date, from point-in-time bars in the store.

`sync_store` appends the broker's completed bars to the store; `load_data` reads back only bars
dated before the trade date and turns them into features and labels; `predict` asks the
champion for P(up) on the last completed bar; `model_signal` is what the cycle's signal step
calls (it also makes sure a champion exists, training the first one if needed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from hydra.broker.base import Broker, ContractDetails
from hydra.config import Config
from hydra.markets import Market
from hydra.model.baseline import Signal
from hydra.model.classifier import FittedModel
from hydra.model.evaluate import CostModel, directions
from hydra.model.features import VOL_DAYS, labelled, make_features
from hydra.model.sizing import target_contracts
from hydra.model.store import AppendResult, BarStore

MODEL_KIND = "logreg"


def sync_store(broker: Broker, contract: ContractDetails, store: BarStore, as_of: date,
               backfill_days: int) -> AppendResult:
    """Append the completed bars the store lacks (all of `backfill_days` the first time)."""
    last = store.last_date(contract.symbol)
    wanted = backfill_days if last is None else min(backfill_days, (as_of - last).days + 5)
    if last is not None and (as_of - last).days <= 1:
        return AppendResult(0, 0, 0)  # nothing can be missing: the previous day is stored
    bars = broker.daily_bars(contract, wanted)
    return store.append(contract.symbol, bars, recorded_at=broker.now())


@dataclass(frozen=True)
class ModelData:
    """Everything the loop and the signal know on a trade date (bars before it only)."""

    as_of: date
    bars: pd.DataFrame
    X: pd.DataFrame  # labelled feature rows (their next bar is known)
    up: pd.Series
    fwd: pd.Series
    latest: pd.DataFrame  # the feature row of the last completed bar (what today trades on)

    @property
    def close(self) -> pd.Series:
        return self.bars["close"].astype(float)

    @property
    def all_features(self) -> pd.DataFrame:
        return pd.concat([self.X, self.latest]) if len(self.latest) else self.X


def load_data(store: BarStore, market: str, as_of: date, limit: int) -> ModelData:
    bars = store.bars_before(market, as_of, limit=limit)
    if len(bars) < VOL_DAYS + 40:
        raise ValueError(f"the bar store holds {len(bars)} {market} bars before {as_of}; the "
                         f"model needs at least {VOL_DAYS + 40} (is model.backfill_days too "
                         "small, or did the broker return no history?)")
    X, up, fwd = labelled(bars)
    feats = make_features(bars.tail(VOL_DAYS + 5))
    latest = feats.tail(1) if len(feats) and feats.index[-1] == bars.index[-1] else feats.iloc[:0]
    return ModelData(as_of, bars, X, up, fwd, latest)


def cost_model(market: Market, config: Config) -> CostModel:
    return CostModel(tick=market.tick, point_value=market.point_value,
                     cost_ticks=config.model.cost_ticks,
                     commission=config.sim.commission_per_contract)


@dataclass(frozen=True)
class Prediction:
    probability: float
    direction: int
    last_bar_date: date
    last_close: float
    daily_sigma: float


def predict(model: FittedModel, data: ModelData, band: float) -> Prediction:
    if not len(data.latest):
        raise ValueError(f"no complete feature row for the last bar before {data.as_of}")
    p = float(model.proba_up(data.latest)[0])
    direction = int(directions(np.array([p]), band)[0])
    last = data.bars.index[-1]
    sigma = float(np.exp(data.latest["vol_20"].iloc[0]))
    return Prediction(p, direction, last, float(data.bars["close"].iloc[-1]), sigma)


def model_signal(broker: Broker, contract: ContractDetails, market: Market, as_of: date,
                 config: Config, root: object, contracts: int,
                 cycle_id: str) -> tuple[Signal, int]:
    """The champion's signal and target position for `as_of` (first champion trained if none)."""
    from pathlib import Path

    from hydra.agent.journal import AgentJournal, agent_db_path
    from hydra.agent.loop import ensure_champion
    from hydra.model.store import bar_store_path

    root = Path(str(root))
    with BarStore(bar_store_path(root)) as store, AgentJournal(agent_db_path(root)) as journal:
        sync_store(broker, contract, store, as_of, config.model.backfill_days)
        data = load_data(store, market.symbol, as_of, config.model.backfill_days)
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

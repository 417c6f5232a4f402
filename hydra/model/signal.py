"""The champion's signal for a trade date, from point-in-time bars in the store.

`sync_store` appends the broker's completed bars to the store; `load_data` reads back only bars
dated before the trade date and turns them into features and labels; `predict` asks the
champion for P(up) on the last completed bar. The cycle's signal step (hydra.cycle.signal)
puts them together with the agent's champion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from typing import Any

import numpy as np
import pandas as pd

from hydra.broker.base import Broker
from hydra.config import Config
from hydra.domain.broker import ContractDetails
from hydra.domain.market import Market
from hydra.model.classifier import FittedModel
from hydra.model.evaluate import directions
from hydra.model.features import VOL_DAYS, labelled, make_features
from hydra.model.returns import CostModel, entry_time
from hydra.model.store import AppendResult, BarStore

MODEL_KIND = "logreg"


def sync_store(broker: Broker, contract: ContractDetails, store: BarStore, as_of: date,
               backfill_days: int, entry_local: time | None = None,
               timezone: str = "America/Chicago") -> AppendResult:
    """Append the completed bars the store lacks (all of `backfill_days` the first time), and
    the entry price (at `entry_local` exchange time) of each stored day and of `as_of` when
    the broker can tell a past intraday price (`price_at`; the simulator can, IB cannot yet)."""
    last = store.last_date(contract.symbol)
    wanted = backfill_days if last is None else min(backfill_days, (as_of - last).days + 5)
    result = AppendResult(0, 0, 0)
    if last is None or (as_of - last).days > 1:  # else nothing can be missing
        bars = broker.daily_bars(contract, wanted)
        result = store.append(contract.symbol, bars, recorded_at=broker.now())
    price_at = getattr(broker, "price_at", None)
    if entry_local is not None and price_at is not None:
        _sync_entries(broker, price_at, contract, store, as_of, wanted, entry_local, timezone)
    return result


def _sync_entries(broker: Broker, price_at: Any, contract: ContractDetails, store: BarStore,
                  as_of: date, wanted: int, entry_local: time, timezone: str) -> None:
    days = store.dates_without_entry(contract.symbol, as_of, wanted)
    if not store.has_entry(contract.symbol, as_of):
        days.append(as_of)
    found = []
    for d in days:
        at = entry_time(d, entry_local, timezone)
        price = price_at(contract, at)
        if price is not None:
            found.append((d, at, price))
    if found:
        store.append_entries(contract.symbol, found, recorded_at=broker.now())


@dataclass(frozen=True)
class ModelData:
    """Everything the loop and the signal know on a trade date (bars before it only)."""

    as_of: date
    bars: pd.DataFrame
    X: pd.DataFrame  # feature rows whose return period has ended (hydra.model.returns)
    up: pd.Series  # 1.0 up, 0.0 down, NaN neither
    fwd: pd.Series  # the return from the next cycle's entry to the one after
    latest: pd.DataFrame  # the feature row of the last completed bar (what today trades on)
    cost: pd.Series  # one side's cost of one contract, as a fraction of the entry price

    @property
    def close(self) -> pd.Series:
        return self.bars["close"].astype(float)

    @property
    def all_features(self) -> pd.DataFrame:
        return pd.concat([self.X, self.latest]) if len(self.latest) else self.X


def load_data(store: BarStore, market: str, as_of: date, limit: int,
              cost: CostModel) -> ModelData:
    bars = store.bars_before(market, as_of, limit=limit)
    if len(bars) < VOL_DAYS + 40:
        raise ValueError(f"the bar store holds {len(bars)} {market} bars before {as_of}; the "
                         f"model needs at least {VOL_DAYS + 40} (is model.backfill_days too "
                         "small, or did the broker return no history?)")
    return model_data(bars, as_of, cost)


def model_data(bars: pd.DataFrame, as_of: date, cost: CostModel) -> ModelData:
    """Features, labels, returns and costs of bars dated before `as_of` (pure).

    A cycle asks twice for the same trade date (the loop, then the signal): the second call
    on bars equal to the first's (every value, entry prices included, and the dates) is served
    from a one-entry memo, as copies, so nothing a caller does to them can leak into the
    next. Any other bars (one appended, one entry price added) are computed afresh."""
    key = (as_of, cost)
    hit = _MEMO.get(key)
    if hit is not None and hit.bars.equals(bars) and hit.bars.index.equals(bars.index):
        return _copied(hit)
    data = _model_data(bars, as_of, cost)
    _MEMO.clear()
    _MEMO[key] = _copied(data)
    return data


_MEMO: dict[tuple[date, CostModel], ModelData] = {}


def _copied(d: ModelData) -> ModelData:
    return ModelData(d.as_of, d.bars.copy(), d.X.copy(), d.up.copy(), d.fwd.copy(),
                     d.latest.copy(), d.cost.copy())


def _model_data(bars: pd.DataFrame, as_of: date, cost: CostModel) -> ModelData:
    X, up, fwd, frac = labelled(bars, cost)
    feats = make_features(bars.tail(VOL_DAYS + 5))
    latest = feats.tail(1) if len(feats) and feats.index[-1] == bars.index[-1] else feats.iloc[:0]
    return ModelData(as_of, bars, X, up, fwd, latest, frac)


def cost_model(market: Market, config: Config) -> CostModel:
    """The project's cost model (hydra.execution.slippage) with the market's typical half spread,
    [slippage] k and vol_lookback_days, and the commission per contract per side."""
    return CostModel(tick=market.tick, point_value=market.point_value,
                     half_spread=market.sim.spread_ticks * market.tick / 2,
                     k=config.slippage.k, commission=config.sim.commission_per_contract,
                     vol_days=config.slippage.vol_lookback_days)


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

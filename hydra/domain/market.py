"""A market as Hydra trades it: symbol, exchange, contract specs, sessions, simulator shape.

The values come from the registry (hydra.reference.markets, hydra/conf/markets.toml); this is only
the type every layer passes around.
"""

from __future__ import annotations

from dataclasses import dataclass

MONTH_CODES = "FGHJKMNQUVXZ"  # January .. December


@dataclass(frozen=True)
class SimParams:
    """How the embedded simulator makes this market look (not used against IB)."""

    price: float
    daily_vol: float
    adv: int
    spread_ticks: int
    depth: int


@dataclass(frozen=True)
class Market:
    symbol: str
    name: str
    exchange: str
    currency: str
    multiplier: float
    price_magnifier: int
    tick: float
    quote_unit: str
    contract_months: str
    timezone: str
    sessions: tuple[str, ...]
    calendar: str
    settlement: str  # "physical" | "cash"
    last_trade_rule: str
    roll_business_days: int
    sim: SimParams

    @property
    def point_value(self) -> float:
        """Dollars per 1.0 of price."""
        return self.multiplier / self.price_magnifier

    @property
    def tick_value(self) -> float:
        return self.tick * self.point_value

    @property
    def month_numbers(self) -> tuple[int, ...]:
        return tuple(MONTH_CODES.index(c) + 1 for c in self.contract_months)

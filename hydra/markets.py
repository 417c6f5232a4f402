"""The contract registry: each market's exchange, size, tick, months, sessions and calendar.

The facts live in `conf/markets.toml` (markets are data, not code); this module only loads and
checks them so a typo fails loudly at start-up rather than as a mispriced order.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

MONTH_CODES = "FGHJKMNQUVXZ"  # January .. December


class UnknownMarketError(ValueError):
    pass


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


_REQUIRED = (
    "name", "exchange", "currency", "multiplier", "price_magnifier", "tick", "quote_unit",
    "contract_months", "timezone", "sessions", "calendar", "settlement", "last_trade_rule",
    "roll_business_days", "sim",
)
_RULES = {"business_day_before_15th", "tenth_business_day"}


def _parse(symbol: str, raw: dict, source: str) -> Market:
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise ValueError(f"{source}: market {symbol} lacks {', '.join(missing)}")
    months = str(raw["contract_months"])
    if not months or any(c not in MONTH_CODES for c in months):
        raise ValueError(f"{source}: market {symbol} has invalid contract_months {months!r}")
    if float(raw["tick"]) <= 0 or float(raw["multiplier"]) <= 0:
        raise ValueError(f"{source}: market {symbol} needs a positive tick and multiplier")
    if raw["last_trade_rule"] not in _RULES:
        raise ValueError(
            f"{source}: market {symbol} has unknown last_trade_rule {raw['last_trade_rule']!r}; "
            f"known: {', '.join(sorted(_RULES))}"
        )
    if raw["settlement"] not in ("physical", "cash"):
        raise ValueError(f"{source}: market {symbol} settlement must be 'physical' or 'cash'")
    sim = raw["sim"]
    return Market(
        symbol=symbol,
        name=str(raw["name"]),
        exchange=str(raw["exchange"]),
        currency=str(raw["currency"]),
        multiplier=float(raw["multiplier"]),
        price_magnifier=int(raw["price_magnifier"]),
        tick=float(raw["tick"]),
        quote_unit=str(raw["quote_unit"]),
        contract_months=months,
        timezone=str(raw["timezone"]),
        sessions=tuple(raw["sessions"]),
        calendar=str(raw["calendar"]),
        settlement=str(raw["settlement"]),
        last_trade_rule=str(raw["last_trade_rule"]),
        roll_business_days=int(raw["roll_business_days"]),
        sim=SimParams(
            price=float(sim["price"]),
            daily_vol=float(sim["daily_vol"]),
            adv=int(sim["adv"]),
            spread_ticks=int(sim["spread_ticks"]),
            depth=int(sim["depth"]),
        ),
    )


@cache
def load_registry(path: Path | None = None) -> dict[str, Market]:
    if path is None:
        text = resources.files("hydra").joinpath("conf/markets.toml").read_text()
        source = "hydra/conf/markets.toml"
    else:
        text, source = Path(path).read_text(), str(path)
    raw = tomllib.loads(text).get("markets", {})
    return {sym: _parse(sym, spec, source) for sym, spec in raw.items()}


def get_market(symbol: str) -> Market:
    registry = load_registry()
    key = str(symbol).strip().upper()
    if key not in registry:
        raise UnknownMarketError(
            f"unknown market {symbol!r}: known markets are {', '.join(sorted(registry))} "
            "(add one to hydra/conf/markets.toml)"
        )
    return registry[key]

"""The contract registry: each market's exchange, size, tick, months, sessions and calendar.

The facts live in `conf/markets.toml` (markets are data, not code); this module only loads and
checks them so a typo fails loudly at start-up rather than as a mispriced order.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hydra.domain.errors import HydraError
from hydra.domain.market import MONTH_CODES, Market, SimParams


class UnknownMarketError(HydraError, ValueError):
    pass


_REQUIRED = (
    "name", "exchange", "currency", "multiplier", "price_magnifier", "tick", "quote_unit",
    "contract_months", "timezone", "sessions", "calendar", "settlement", "last_trade_rule",
    "roll_business_days", "sim",
)
_SIM_REQUIRED = ("price", "daily_vol", "adv", "spread_ticks", "depth")
_RULES = {"business_day_before_15th", "tenth_business_day"}
_DAYS = "(Sun|Mon|Tue|Wed|Thu|Fri|Sat)"
_SESSION = re.compile(rf"^{_DAYS}(-{_DAYS})? ([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")
DEFAULT_MARKET = "ZO"  # the market a cycle trades when none is named
MARKETS_ENV = "HYDRA_MARKETS"  # an operator's own copy of the registry, instead of the package's
DEFAULT_SOURCE = "hydra/conf/markets.toml"


class MarketsFileError(HydraError, ValueError):
    """The registry file is not what the cycle can trust: nothing is sent until it is fixed."""


class _Check:
    """Reads one market's table, naming the file, market and key in every complaint."""

    def __init__(self, source: str, symbol: str, raw: dict) -> None:
        self.source, self.symbol, self.raw = source, symbol, raw

    def fail(self, key: str, why: str) -> MarketsFileError:
        return MarketsFileError(f"{self.source}: markets.{self.symbol}.{key} {why}; fix it there "
                                "(nothing was sent)")

    def text(self, key: str) -> str:
        value = self.raw[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a non-empty string, not {value!r}")
        return value

    def number(self, key: str, table: dict | None = None, *, positive: bool = True,
               integer: bool = False) -> float:
        value = (self.raw if table is None else table)[key]
        kind = "an integer" if integer else "a number"
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                integer and not isinstance(value, int)):
            raise self.fail(key, f"must be {kind}, not {value!r}")
        if not math.isfinite(value):
            raise self.fail(key, f"must be a finite number, not {value!r}")
        if positive and value <= 0:
            raise self.fail(key, f"must be positive, not {value!r}")
        if value < 0:
            raise self.fail(key, f"must not be negative, not {value!r}")
        return value


def _parse(symbol: str, raw: dict, source: str) -> Market:
    if not isinstance(raw, dict):
        raise MarketsFileError(f"{source}: markets.{symbol} must be a table of settings")
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise MarketsFileError(f"{source}: market {symbol} lacks {', '.join(missing)}; add it "
                               "(nothing was sent)")
    unknown = sorted(set(raw) - set(_REQUIRED))
    if unknown:
        raise MarketsFileError(
            f"{source}: unknown key markets.{symbol}.{unknown[0]} (known: {', '.join(_REQUIRED)}); "
            "a misspelt key would silently not apply, so it is refused (nothing was sent)")
    c = _Check(source, symbol, raw)
    months = str(raw["contract_months"])
    if not months or any(ch not in MONTH_CODES for ch in months) or len(set(months)) != len(
            months) or "".join(sorted(months, key=MONTH_CODES.index)) != months:
        raise c.fail("contract_months", f"must be month codes from {MONTH_CODES} in calendar "
                     f"order, each once, not {months!r}")
    if raw["last_trade_rule"] not in _RULES:
        raise c.fail("last_trade_rule", f"is unknown: {raw['last_trade_rule']!r}; known: "
                     f"{', '.join(sorted(_RULES))}")
    if raw["settlement"] not in ("physical", "cash"):
        raise c.fail("settlement", f"must be 'physical' or 'cash', not {raw['settlement']!r}")
    currency = c.text("currency")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise c.fail("currency", f"must be a three-letter ISO code such as USD, not {currency!r}")
    zone = c.text("timezone")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise c.fail("timezone", f"is not a known time zone: {zone!r} (e.g. America/Chicago)"
                     ) from exc
    sessions = raw["sessions"]
    if not isinstance(sessions, list) or not sessions or not all(
            isinstance(x, str) and _SESSION.match(x) for x in sessions):
        raise c.fail("sessions", f"must be a list like [\"Mon-Fri 08:30-13:20\"], not "
                     f"{sessions!r}")
    sim = raw["sim"]
    if not isinstance(sim, dict):
        raise c.fail("sim", "must be a table like { price = 320.0, daily_vol = 0.019, adv = 900, "
                     "spread_ticks = 2, depth = 6 }")
    sim_missing = [k for k in _SIM_REQUIRED if k not in sim]
    sim_unknown = sorted(set(sim) - set(_SIM_REQUIRED))
    if sim_missing or sim_unknown:
        raise c.fail("sim", f"needs exactly {', '.join(_SIM_REQUIRED)}" + (
            f"; missing {', '.join(sim_missing)}" if sim_missing else "") + (
            f"; unknown {', '.join(sim_unknown)}" if sim_unknown else ""))
    return Market(
        symbol=symbol,
        name=c.text("name"),
        exchange=c.text("exchange"),
        currency=currency,
        multiplier=float(c.number("multiplier")),
        price_magnifier=int(c.number("price_magnifier", integer=True)),
        tick=float(c.number("tick")),
        quote_unit=c.text("quote_unit"),
        contract_months=months,
        timezone=zone,
        sessions=tuple(sessions),
        calendar=c.text("calendar"),
        settlement=str(raw["settlement"]),
        last_trade_rule=str(raw["last_trade_rule"]),
        roll_business_days=int(c.number("roll_business_days", positive=False, integer=True)),
        sim=SimParams(
            price=float(c.number("price", sim)),
            daily_vol=float(c.number("daily_vol", sim, positive=False)),
            adv=int(c.number("adv", sim, integer=True)),
            spread_ticks=int(c.number("spread_ticks", sim, integer=True)),
            depth=int(c.number("depth", sim, integer=True)),
        ),
    )


def registry_source() -> str:
    """The file the registry is read from: HYDRA_MARKETS when set, else the package's."""
    return os.environ.get(MARKETS_ENV) or DEFAULT_SOURCE


def load_registry(path: Path | None = None) -> dict[str, Market]:
    return _load(str(path) if path is not None else registry_source())


@cache
def _load(source: str) -> dict[str, Market]:
    if source == DEFAULT_SOURCE:
        text = resources.files("hydra").joinpath("conf/markets.toml").read_text()
    else:
        try:
            text = Path(source).read_text()
        except OSError as exc:
            raise MarketsFileError(f"{MARKETS_ENV} points at {source}, which cannot be read "
                                   f"({exc.strerror}): fix the path or unset it") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MarketsFileError(f"{source} is not valid TOML ({exc}); fix it (nothing was sent)"
                               ) from exc
    markets = raw.get("markets")
    if not isinstance(markets, dict) or not markets:
        raise MarketsFileError(f"{source} has no [markets.<SYMBOL>] tables; nothing can trade")
    return {sym: _parse(sym, spec, source) for sym, spec in markets.items()}


def get_market(symbol: str) -> Market:
    registry = load_registry()
    key = str(symbol).strip().upper()
    if key not in registry:
        raise UnknownMarketError(
            f"unknown market {symbol!r}: known markets are {', '.join(sorted(registry))} "
            f"(add one to {registry_source()})"
        )
    return registry[key]

"""Dated futures contracts: expiry rules, first notice, and which contract is front today.

Orders go to a dated FUT (never a continuous contract), and a position is rolled a configured
number of business days before first notice (physical) or last trade (cash-settled). The same
rule picks the simulator's contract and the IB contract, so both trade the same month.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import date

from hydra.domain.broker import ContractDetails
from hydra.domain.market import MONTH_CODES, Market
from hydra.reference.sessions import (
    add_trading_days,
    next_trading_day,
    previous_trading_day,
    trading_days,
)


def last_trade_date(market: Market, year: int, month: int) -> date:
    if market.last_trade_rule == "business_day_before_15th":
        return previous_trading_day(market, date(year, month, 15))
    if market.last_trade_rule == "tenth_business_day":
        first = date(year, month, 1)
        days = trading_days(market, first, date(year, month, 28))
        return days[9]
    raise ValueError(f"unknown last_trade_rule {market.last_trade_rule!r} for {market.symbol}")


def first_notice_date(market: Market, year: int, month: int) -> date | None:
    """Last business day of the month before delivery; None for cash-settled contracts."""
    if market.settlement != "physical":
        return None
    return previous_trading_day(market, date(year, month, 1))


def roll_date(market: Market, year: int, month: int) -> date:
    """From this date on the contract is no longer traded: hold the next one instead."""
    anchor = first_notice_date(market, year, month) or last_trade_date(market, year, month)
    return add_trading_days(market, anchor, -market.roll_business_days)


def local_symbol(market: Market, year: int, month: int) -> str:
    return f"{market.symbol}{MONTH_CODES[month - 1]}{year % 10}"


def con_id_for(market: Market, year: int, month: int) -> int:
    """A stable contract id for the simulator (IB assigns its own)."""
    key = f"{market.exchange}:{market.symbol}:{year:04d}{month:02d}"
    return zlib.crc32(key.encode()) & 0x7FFFFFFF


def contract(market: Market, year: int, month: int) -> ContractDetails:
    if month not in market.month_numbers:
        raise ValueError(
            f"{market.symbol} has no {MONTH_CODES[month - 1]} ({month}) contract; "
            f"months are {market.contract_months}"
        )
    return ContractDetails(
        symbol=market.symbol,
        local_symbol=local_symbol(market, year, month),
        contract_month=f"{year:04d}{month:02d}",
        con_id=con_id_for(market, year, month),
        exchange=market.exchange,
        currency=market.currency,
        multiplier=market.multiplier,
        price_magnifier=market.price_magnifier,
        tick=market.tick,
        last_trade_date=last_trade_date(market, year, month),
        first_notice_date=first_notice_date(market, year, month),
        timezone=market.timezone,
    )


def listed_months(market: Market, start: date) -> Iterator[tuple[int, int]]:
    """(year, month) of every listed contract from `start`'s month on."""
    year, month = start.year, start.month
    while True:
        if month in market.month_numbers:
            yield year, month
        month += 1
        if month > 12:
            year, month = year + 1, 1


def front_contract(market: Market, as_of: date) -> ContractDetails:
    """The contract to trade on `as_of`: the nearest one not yet at its roll date."""
    for year, month in listed_months(market, as_of):
        if as_of < roll_date(market, year, month):
            return contract(market, year, month)
    raise AssertionError("unreachable: listed_months is infinite")


def contract_from_local_symbol(market: Market, local: str, as_of: date) -> ContractDetails:
    """Inverse of `local_symbol`. The one-digit year is resolved relative to `as_of`: the year
    ending in that digit from one year before `as_of` to eight after (listings run a few years
    ahead; a contract that expired more than a year ago is not something one still holds)."""
    code, digit = local[len(market.symbol) : len(market.symbol) + 1], local[-1:]
    if not local.startswith(market.symbol) or code not in MONTH_CODES or not digit.isdigit() \
            or len(local) != len(market.symbol) + 2:
        raise ValueError(f"{local!r} is not a {market.symbol} local symbol like {market.symbol}Z6")
    month = MONTH_CODES.index(code) + 1
    return contract(market, decade_year(int(digit), as_of), month)


def decade_year(digit: int, as_of: date) -> int:
    """The year in [as_of.year - 1, as_of.year + 8] whose last digit is `digit`."""
    low = as_of.year - 1
    return low + (digit - low) % 10


__all__ = [
    "contract",
    "contract_from_local_symbol",
    "first_notice_date",
    "front_contract",
    "last_trade_date",
    "listed_months",
    "next_trading_day",
    "roll_date",
]

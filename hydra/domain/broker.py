"""The objects that cross the broker interface (hydra.broker.base): contracts, quotes, bars,
orders, fills, the account.

Plain frozen dataclasses, the same for the simulator and Interactive Brokers. Prices are in the
contract's quote unit (cents/bu for grains); times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from hydra.domain.errors import HydraError

Side = Literal["BUY", "SELL"]
OrderType = Literal["LMT", "MKT"]
# IB's order states; "done" states never change again.
OrderState = Literal[
    "PendingSubmit", "PreSubmitted", "Submitted", "PendingCancel",
    "Cancelled", "ApiCancelled", "Filled", "Inactive",
]
DONE_STATES: frozenset[str] = frozenset({"Cancelled", "ApiCancelled", "Filled", "Inactive"})


class BrokerError(HydraError, RuntimeError):
    """A broker call failed; the message says what happened and what to check."""


@dataclass(frozen=True)
class ContractDetails:
    """A tradable, dated futures contract as the broker describes it."""

    symbol: str  # "ZO"
    local_symbol: str  # "ZOZ6"
    contract_month: str  # "202612"
    con_id: int
    exchange: str
    currency: str
    multiplier: float  # units per contract, e.g. 5000 bushels
    price_magnifier: int  # quote units per currency unit, e.g. 100 cents per dollar
    tick: float  # minimum price increment in quote units
    last_trade_date: date
    first_notice_date: date | None
    timezone: str

    @property
    def point_value(self) -> float:
        """Dollars per 1.0 of price."""
        return self.multiplier / self.price_magnifier

    @property
    def tick_value(self) -> float:
        return self.tick * self.point_value


@dataclass(frozen=True)
class AccountState:
    account_id: str
    currency: str
    net_liquidation: float
    cash: float
    realized_pnl: float  # since the account was opened
    unrealized_pnl: float
    daily_pnl: float  # net liquidation change since the previous session's close
    time: datetime


@dataclass(frozen=True)
class Position:
    account_id: str
    symbol: str
    local_symbol: str
    con_id: int
    quantity: int  # signed: long > 0, short < 0
    avg_price: float  # average entry price, quote units
    market_price: float
    point_value: float
    unrealized_pnl: float
    realized_pnl: float


@dataclass(frozen=True)
class Quote:
    con_id: int
    local_symbol: str
    time: datetime
    bid: float | None
    ask: float | None
    bid_size: int
    ask_size: int
    last: float | None
    data_type: Literal["live", "delayed", "frozen", "simulated"]
    in_session: bool

    @property
    def problem(self) -> str | None:
        """Why no order may be priced from this quote (None: usable). IB sends -1 or NaN for
        a missing side, 0 or infinity from a broken feed; a crossed book is not a price."""
        sides = {"bid": self.bid, "ask": self.ask}
        for name, value in sides.items():
            if value is None or not isinstance(value, int | float) or not math.isfinite(value):
                return f"no {name} ({value!r})"
            if value <= 0:
                return f"{name} {value:g} is not a price (IB sends -1 or 0 for missing)"
        if self.bid > self.ask:  # type: ignore[operator]
            return f"crossed quote: bid {self.bid:g} above ask {self.ask:g}"
        return None

    @property
    def mid(self) -> float | None:
        if self.problem is not None:
            return None
        return (self.bid + self.ask) / 2  # type: ignore[operator]

    @property
    def spread(self) -> float | None:
        if self.mid is None:
            return None
        return self.ask - self.bid  # type: ignore[operator]


@dataclass(frozen=True)
class Bar:
    """One completed daily bar (trade date in the exchange's timezone)."""

    date: date
    open: float
    high: float
    low: float
    close: float
    volume: int


@dataclass(frozen=True)
class OrderRequest:
    contract: ContractDetails
    side: Side
    quantity: int
    order_type: OrderType
    limit_price: float | None
    order_ref: str  # identifies the cycle, parent order and slice; carried onto executions
    tif: Literal["DAY", "GTC"] = "DAY"

    def shape_problem(self) -> str:
        """Why no broker may take this order as written (both adapters refuse it), or ''."""
        q = self.quantity
        if isinstance(q, bool) or not isinstance(q, numbers.Integral) or q <= 0:
            return f"quantity must be a positive whole number of contracts, not {q!r}"
        if self.side not in ("BUY", "SELL"):
            return f"side must be BUY or SELL, not {self.side!r}"
        if self.order_type not in ("LMT", "MKT"):
            return f"order type must be LMT or MKT, not {self.order_type!r}"
        if self.tif not in ("DAY", "GTC"):
            return f"time in force must be DAY or GTC, not {self.tif!r}"
        if self.order_type == "LMT" and (self.limit_price is None
                                         or not math.isfinite(float(self.limit_price))):
            return f"a LMT order needs a finite limit price, got {self.limit_price!r}"
        return ""


@dataclass(frozen=True)
class OrderStatus:
    order_id: str
    order_ref: str
    con_id: int
    local_symbol: str
    side: Side
    quantity: int
    order_type: OrderType
    limit_price: float | None
    status: OrderState
    filled: int
    avg_fill_price: float | None
    submitted_at: datetime
    updated_at: datetime
    message: str = ""  # why rejected / cancelled / resting

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled

    @property
    def is_done(self) -> bool:
        return self.status in DONE_STATES


@dataclass(frozen=True)
class Execution:
    exec_id: str
    order_id: str
    order_ref: str
    account_id: str
    symbol: str
    local_symbol: str
    con_id: int
    side: Side
    quantity: int
    price: float
    time: datetime
    commission: float | None  # None until the broker's commission report arrives
    currency: str = "USD"

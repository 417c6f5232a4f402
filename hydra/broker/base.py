"""The one door to a broker: the interface both adapters (sim/, ib/) implement.

Everything above `hydra.broker` talks to this interface only, so the daily cycle cannot tell
the embedded simulator from Interactive Brokers. The objects that cross it live in
hydra.domain.broker.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import date, datetime
from typing import ClassVar

from hydra.domain.broker import (
    AccountState,
    Bar,
    ContractDetails,
    Execution,
    OrderRequest,
    OrderStatus,
    Position,
    Quote,
)


class Broker(ABC):
    """The narrow interface both brokers implement (simulated and IB)."""

    kind: ClassVar[str]

    @abstractmethod
    def connect(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def is_connected(self) -> bool: ...

    @abstractmethod
    def now(self) -> datetime:
        """The broker's current time (the simulator's clock, or the wall clock)."""

    @abstractmethod
    def account_state(self) -> AccountState: ...

    @abstractmethod
    def positions(self) -> list[Position]: ...

    @abstractmethod
    def contract_details(self, symbol: str, as_of: date) -> ContractDetails:
        """The tradable front-month contract for `symbol` on `as_of` (after the roll rule)."""

    @abstractmethod
    def contract_by_local_symbol(self, local_symbol: str) -> ContractDetails: ...

    @abstractmethod
    def quote(self, contract: ContractDetails) -> Quote: ...

    @abstractmethod
    def daily_bars(self, contract: ContractDetails, days: int) -> list[Bar]:
        """The last `days` completed daily bars before now, oldest first (no partial bar)."""

    @abstractmethod
    def place_order(self, request: OrderRequest) -> OrderStatus: ...

    @abstractmethod
    def cancel_order(self, order_id: str) -> OrderStatus: ...

    @abstractmethod
    def order_status(self, order_id: str) -> OrderStatus: ...

    @abstractmethod
    def orders(self, order_ref_prefix: str | None = None) -> list[OrderStatus]:
        """Orders the broker knows (working and the day's completed), by orderRef prefix."""

    @abstractmethod
    def executions(
        self, order_ref_prefix: str | None = None, since: datetime | None = None
    ) -> list[Execution]:
        """Fills, with commissions where reported, by orderRef prefix and/or since a time."""

    def __enter__(self) -> Broker:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

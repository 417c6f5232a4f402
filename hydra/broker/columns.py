"""A broker's executions as columns: what the reconciliation reads of every execution.

The broker check compares each journal fill with the broker's execution of the same execId;
a million `Execution` objects cost ~0.6 s just to read back into arrays. A broker that keeps
its executions in a file (the simulator, hydra.broker.sim.columns) hands over these columns
directly; any other (IB) builds them from its objects (`of`). The few executions a report
lists (breaks, explained and foreign executions) come back as objects through `items`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import numpy as np
import pyarrow as pa

from hydra.domain.broker import Execution


@dataclass
class ExecutionColumns:
    """Executions in the broker's order (time, then execId), cut to one market or not."""

    market: str | None  # the symbol every execution here is of; None: not cut
    exec_id: pa.Array
    order_ref: pa.Array
    side: pa.Array
    quantity: np.ndarray
    price: np.ndarray
    commission: np.ndarray  # nan: not reported yet
    items_at: Callable[[np.ndarray], list[Execution]]  # positions -> the executions there
    # what a reader derived from these columns, kept with them (they never change)
    derived: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.quantity)

    def items(self, at: Sequence[int] | np.ndarray) -> list[Execution]:
        """The executions at these positions, as objects (a report's few)."""
        rows = np.asarray(at, dtype="int64")
        return self.items_at(rows) if len(rows) else []

    def all_items(self) -> list[Execution]:
        return self.items(np.arange(len(self)))

    @classmethod
    def of(cls, executions: Sequence[Execution], market: str | None = None
           ) -> ExecutionColumns:
        """From objects (one pass per attribute, straight into numpy or Arrow); `market`:
        only that symbol's executions."""
        items = list(executions)
        if market is not None and items:
            symbols = list(map(attrgetter("symbol"), items))
            if symbols.count(market) != len(symbols):  # some of another market
                items = [e for e, s in zip(items, symbols, strict=True) if s == market]

        def get(name: str) -> list[Any]:
            return list(map(attrgetter(name), items))

        def text(name: str) -> pa.Array:
            return pa.array(get(name), pa.string())

        def never_none(name: str, dtype: str) -> np.ndarray:
            return np.fromiter(map(attrgetter(name), items), dtype=dtype, count=len(items))

        commission = np.array(get("commission"), dtype=float) if items else np.zeros(0)
        return cls(market, text("exec_id"), text("order_ref"), text("side"),
                   never_none("quantity", "int64"), never_none("price", "float64"), commission,
                   lambda at: [items[i] for i in at])

"""A replay's model-scored P&L reconciled with the account's, piece by piece.

Why: the loop promotes and rolls back on the model-scored return (hydra/model/returns.py);
if that number does not turn into account money, the loop optimises the wrong thing. With
a_i the entry price (10:00 mid) on replay day i, t_i the model's target, p_i the position
held after the cycle and m the account's closing mark (a_n := m), starting from p_{-1}:

    account P&L = sum t_i (a_{i+1} - a_i) pv                 model, gross (its positions)
                + sum (p_i - t_i) (a_{i+1} - a_i) pv         position gap (blocked, unfilled)
                - sum_fills s q (arrival - a_i) pv           orders' arrival mid vs the entry
                - sum_fills s q (fill - arrival) pv          slippage
                - commissions
                + other                                      opening position, contract-month
                                                             basis; 0 otherwise

(summation by parts of the fills' cash flows). The model-scored P&L is the gross term minus
the modelled costs (the loop's own cost model), so the modelled costs are added back and the
actual ones taken off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date

import numpy as np
import pandas as pd

from hydra.model.returns import period_returns, position_returns


@dataclass(frozen=True)
class FillLine:
    as_of: date
    side: str  # BUY | SELL
    quantity: int
    price: float
    arrival_mid: float | None
    commission: float
    point_value: float

    @property
    def sign(self) -> int:
        return 1 if self.side == "BUY" else -1


@dataclass(frozen=True)
class PnlReconciliation:
    model_pnl: float  # model-scored: targets, entry to entry, net of modelled costs
    modelled_costs: float  # >= 0, what the model's score charged
    position_gap: float
    arrival_delay: float  # - sum s q (arrival - entry) pv
    slippage: float  # - sum s q (fill - arrival) pv
    commissions: float  # <= 0
    other: float
    account_pnl: float
    end_mark: float = 0.0  # the price the last period is marked at (the account's mark)

    @property
    def explained(self) -> float:
        return (self.model_pnl + self.modelled_costs + self.position_gap + self.arrival_delay
                + self.slippage + self.commissions)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def lines(self) -> list[str]:
        rows = [
            ("model-scored P&L (targets, 10:00 entry to next entry, net of modelled costs)",
             self.model_pnl),
            ("+ modelled costs added back (spread, impact, commission the score charged)",
             self.modelled_costs),
            ("+ position gap (held vs target: blocked, unfilled, clipped)", self.position_gap),
            ("+ orders' arrival mid vs the 10:00 entry", self.arrival_delay),
            ("+ slippage (fills vs arrival mid)", self.slippage),
            ("+ commissions", self.commissions),
            ("+ other (opening position, contract-month basis)", self.other),
            ("= account P&L (net liquidation change)", self.account_pnl),
        ]
        # round first: a residual of -1e-12 prints as +0.00, not -0.00
        return [f"  {label:<78} {round(value, 2) + 0.0:>+12,.2f}" for label, value in rows]


def reconcile(as_of: Sequence[date], targets: Sequence[int], positions: Sequence[int],
              entries: pd.Series, end_mark: float, cost_price: Sequence[float],
              fills: Sequence[FillLine], point_value: float, start_position: int,
              account_pnl: float) -> PnlReconciliation:
    """The pieces above. `entries` by trade date covers `as_of`; `cost_price` is one side's
    modelled cost per contract (price units) for each day's cycle."""
    a = np.array([float(entries.loc[d]) for d in as_of])
    ret = period_returns(pd.Series([*a, end_mark])).to_numpy()[:-1]
    t = np.asarray(targets, dtype=float)
    p = np.asarray(positions, dtype=float)
    frac = np.asarray(cost_price, dtype=float) / a
    model = float(np.sum(position_returns(t, ret, frac, start_position) * a) * point_value)
    gross = float(np.sum(t * ret * a) * point_value)
    gap = float(np.sum((p - t) * ret * a) * point_value)
    index = {d: i for i, d in enumerate(as_of)}
    delay = slip = comm = 0.0
    for f in fills:
        arrival = f.arrival_mid if f.arrival_mid is not None else a[index[f.as_of]]
        delay -= f.sign * f.quantity * (arrival - a[index[f.as_of]]) * f.point_value
        slip -= f.sign * f.quantity * (f.price - arrival) * f.point_value
        comm -= f.commission
    out = PnlReconciliation(model, gross - model, gap, delay, slip, comm, 0.0, account_pnl,
                            end_mark)
    return PnlReconciliation(**{**out.as_dict(), "other": account_pnl - out.explained})


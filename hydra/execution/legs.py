"""From the position the broker holds to the day's target: the legs, in the order they go.

Pure: the legs depend only on the holdings, the front contract and the target. Reducing legs
come first (roll-outs of every older contract month, then a close or reduce of the front
month), the one opening leg last, so a blocked opening leg never holds back a leg that takes
risk off. A flip (+2 -> -2) is two legs, close then open: the close is a reduction, the open is
new risk, and each is judged as what it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hydra.domain.broker import ContractDetails, Side

ROLL_OUT = "roll-out"  # close a position left in an older contract month
CLOSE = "close"  # take the front month to zero
REDUCE = "reduce"  # shrink the front month, keeping its side
OPEN = "open"  # new risk in the front month (from flat, adding, or the second half of a flip)
REDUCING = frozenset({ROLL_OUT, CLOSE, REDUCE})


@dataclass(frozen=True)
class Leg:
    purpose: str
    contract: ContractDetails
    side: Side
    quantity: int
    before: int  # this contract's position before the leg, the legs before it all filled

    @property
    def reduces(self) -> bool:
        return self.purpose in REDUCING

    @property
    def signed(self) -> int:
        return self.quantity if self.side == "BUY" else -self.quantity

    @property
    def after(self) -> int:
        return self.before + self.signed


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


def _leg(purpose: str, contract: ContractDetails, before: int, delta: int) -> Leg:
    return Leg(purpose, contract, "BUY" if delta > 0 else "SELL", abs(delta), before)


def plan_legs(holdings: Sequence[tuple[ContractDetails, int]], front: ContractDetails,
              target: int) -> list[Leg]:
    """The legs that move `holdings` (this market's positions) to `target` in `front`.

    Applied in order and all filled, they leave exactly `target` in the front month and nothing
    in any other month. Each leg's `before` is the contract's position at that point.
    """
    legs: list[Leg] = []
    held: dict[int, int] = {}
    for contract, qty in holdings:
        held[contract.con_id] = held.get(contract.con_id, 0) + qty
    older = sorted({c.con_id: c for c, _ in holdings if c.con_id != front.con_id}.values(),
                   key=lambda c: (c.contract_month, c.local_symbol))
    for contract in older:
        qty = held[contract.con_id]
        if qty:
            legs.append(_leg(ROLL_OUT, contract, qty, -qty))
    now = held.get(front.con_id, 0)
    if now and _sign(target) != _sign(now):  # to flat, or a flip: close first
        legs.append(_leg(CLOSE, front, now, -now))
        now = 0
    if abs(target) < abs(now):
        legs.append(_leg(REDUCE, front, now, target - now))
    elif target != now:
        legs.append(_leg(OPEN, front, now, target - now))
    return legs


def hold_back(leg: Leg, earlier_short: str) -> str:
    """Why a leg the gate allows must still not be sent ("" when it may go).

    `earlier_short` names the first earlier leg that did not fill completely (blocked,
    partial, unfilled ...), or is "". A reducing leg always goes: it takes risk off whatever
    happened before it. An opening leg goes only after every earlier leg filled: opening while
    an older month or the close of a flip is still held would take the position past the target.
    """
    if leg.reduces or not earlier_short:
        return ""
    return (f"not sent: {earlier_short}; opening new risk now could take the position past "
            "the target")

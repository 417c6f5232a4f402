"""The cost model and the measured cost, in price units first, then ticks, bps and dollars.

Predicted = half spread + k * sigma * sqrt(Q / ADV), with sigma the daily volatility in PRICE
units (the original passed a fraction there, so its impact term was ~0). Actual slippage is
signed: positive is a cost (bought above / sold below the arrival mid), negative an improvement.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from hydra.domain.broker import Side


@dataclass(frozen=True)
class Slippage:
    """One slippage figure in every unit the reports use (per contract, except dollars)."""

    price: float  # quote units per contract
    ticks: float
    bps: float
    dollars: float  # for the whole quantity

    def as_dict(self, prefix: str) -> dict[str, float]:
        return {
            f"{prefix}_price": self.price,
            f"{prefix}_ticks": self.ticks,
            f"{prefix}_bps": self.bps,
            f"{prefix}_usd": self.dollars,
        }


def daily_vol_price(closes: Sequence[float]) -> float:
    """Standard deviation of daily close-to-close changes, in price units."""
    if len(closes) < 3:
        raise ValueError("need at least 3 closes to estimate daily volatility")
    diffs = [b - a for a, b in itertools.pairwise(closes)]
    mean = sum(diffs) / len(diffs)
    return math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1))


def average_daily_volume(volumes: Sequence[float]) -> float:
    if not volumes:
        raise ValueError("need at least one volume to estimate ADV")
    return sum(volumes) / len(volumes)


def predicted_price(
    half_spread: float, sigma_price: float, quantity: int, adv: float, k: float
) -> float:
    """Expected cost per contract in price units (square-root impact law)."""
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    if adv <= 0:
        raise ValueError("ADV must be positive")
    return half_spread + k * sigma_price * math.sqrt(quantity / adv)


def actual_price(side: Side, fill_price: float, reference_mid: float) -> float:
    """Signed cost per contract vs the reference mid; positive = paid away."""
    sign = 1.0 if side == "BUY" else -1.0
    return sign * (fill_price - reference_mid)


def in_units(
    price: float, *, tick: float, reference_price: float, point_value: float, quantity: int
) -> Slippage:
    return Slippage(
        price=price,
        ticks=price / tick,
        bps=price / reference_price * 1e4,
        dollars=price * point_value * quantity,
    )

"""From a direction and a probability to a number of contracts (flat allowed).

"fixed": every LONG or SHORT holds exactly `cap` contracts (the cycle's `contracts` parameter).
"kelly": a fraction of the Kelly leverage for a bet whose daily return is +-|r| with
probability p: f* = (2p - 1) * E|r| / sigma^2 = (2p - 1) * sqrt(2/pi) / sigma for normal
returns; contracts = floor(fraction * f* * equity / notional per contract), capped at `cap`.
"""

from __future__ import annotations

import math

SIZINGS = ("fixed", "kelly")


def kelly_leverage(probability: float, daily_sigma: float) -> float:
    """Full-Kelly leverage for the side the probability favours (>= 0)."""
    if daily_sigma <= 0:
        return 0.0
    edge = abs(2.0 * probability - 1.0)
    return edge * math.sqrt(2.0 / math.pi) / daily_sigma


def risk_cap(cap: int, *, max_position_contracts: int | None = None,
             max_notional_fraction: float | None = None, equity: float = 0.0,
             notional_per_contract: float = 0.0) -> int:
    """`cap` clipped to the risk limits (hydra/conf/defaults.toml [risk]), so a target the gate
    would block whole is never asked for: the position limit, and the notional limit
    floor(fraction x equity / notional per contract) when equity and notional are known."""
    out = cap
    if max_position_contracts is not None:
        out = min(out, max_position_contracts)
    if max_notional_fraction is not None and equity > 0 and notional_per_contract > 0:
        out = min(out, math.floor(max_notional_fraction * equity / notional_per_contract))
    return max(0, out)


def target_contracts(direction: int, probability: float, *, sizing: str, cap: int,
                     kelly_fraction: float = 0.5, daily_sigma: float = 0.0,
                     equity: float = 0.0, notional_per_contract: float = 0.0,
                     max_position_contracts: int | None = None,
                     max_notional_fraction: float | None = None) -> int:
    """Signed target position; never more than `cap` contracts either way, nor beyond the
    risk limits passed (clipped here, before the cycle nets it against the position)."""
    cap = risk_cap(cap, max_position_contracts=max_position_contracts,
                   max_notional_fraction=max_notional_fraction, equity=equity,
                   notional_per_contract=notional_per_contract)
    if direction == 0 or cap <= 0:
        return 0
    if sizing == "fixed":
        size = cap
    elif sizing == "kelly":
        if notional_per_contract <= 0 or equity <= 0:
            return 0
        leverage = kelly_fraction * kelly_leverage(probability, daily_sigma)
        size = min(cap, math.floor(leverage * equity / notional_per_contract))
    else:
        raise ValueError(f"unknown sizing {sizing!r}: use one of {', '.join(SIZINGS)}")
    return int(math.copysign(max(0, size), direction)) if size > 0 else 0

"""The Signal every model emits, and the original momentum baseline (kept for comparison).

Direction is the sign of the lookback return scaled by its own volatility (a z-score); inside
the entry band the signal is FLAT. It uses only bars dated before the trade date, so the signal
for day T never sees T's own bar. The model-maintenance loop replaces and supervises this model.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import date

from hydra.domain.broker import Bar
from hydra.domain.signal import Signal

MODEL_NAME = "momentum-baseline-v1"


def momentum_signal(
    bars: Sequence[Bar], *, as_of: date, market: str, lookback_days: int, entry_z: float
) -> Signal:
    usable = [b for b in bars if b.date < as_of]
    if len(usable) < lookback_days + 2:
        raise ValueError(
            f"the momentum model needs {lookback_days + 2} daily bars before {as_of}, "
            f"got {len(usable)}"
        )
    closes = [b.close for b in usable[-(lookback_days + 1) :]]
    rets = [math.log(b / a) for a, b in itertools.pairwise(closes)]
    mean = sum(rets) / len(rets)
    sd = math.sqrt(sum((r - mean) ** 2 for r in rets) / (len(rets) - 1))
    total = math.log(closes[-1] / closes[0])
    score = 0.0 if sd == 0 else total / (sd * math.sqrt(len(rets)))
    direction = 0 if abs(score) < entry_z else (1 if score > 0 else -1)
    return Signal(
        as_of=as_of,
        market=market,
        model=MODEL_NAME,
        direction=direction,
        score=round(score, 6),
        lookback_days=lookback_days,
        last_bar_date=usable[-1].date,
        last_close=usable[-1].close,
    )

"""The signal a model gives for one trade date: direction, score, and the bar it was read from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Signal:
    as_of: date
    market: str
    model: str
    direction: int  # +1 long, -1 short, 0 flat
    score: float  # momentum z-score, or 2 * P(up) - 1 for the classifier
    lookback_days: int
    last_bar_date: date
    last_close: float
    probability: float | None = None  # P(next close > last close), for probabilistic models

    @property
    def label(self) -> str:
        return {1: "LONG", -1: "SHORT", 0: "FLAT"}[self.direction]

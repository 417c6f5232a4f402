"""Time as a dependency: the simulator's clock jumps, the wall clock waits.

The order manager asks a clock for the time and sleeps through it, so the same code path runs
instantly in the simulator and in tests, and in real time against Interactive Brokers.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


class SimClock:
    """A clock that only moves when told to; never goes backwards."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._now += timedelta(seconds=seconds)

    def advance_to(self, when: datetime) -> None:
        when = when.astimezone(UTC)
        if when > self._now:
            self._now = when

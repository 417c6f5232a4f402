"""How `hydra sim-gateway` tells the IB adapter its clock runs faster than the wall clock.

`hydra sim-gateway --speed N` runs its simulated market N times faster than wall time. The
adapter reads IB's time from the gateway, so the order manager's deadlines are simulated
seconds; slept through in wall seconds they would last N times too long. So the gateway sends
one informational message at start-up (reqId -1, a code in IB's 2100..2199 warning range, so
every client logs it at info and otherwise ignores it) naming itself and its speed, and the
adapter sleeps seconds / N.

Never against a real IB: a speed is believed only from a message that starts with the
gateway's own name (IB never sends it), and never on a live port (4001, 7496), whatever that
port says. Anything else, or nothing, is 1x: wall seconds.
"""

from __future__ import annotations

import math
import re

from hydra.broker.safety import LIVE_PORTS

REHEARSAL_CODE = 2199
_PREFIX = "hydra sim-gateway (a rehearsal, not IB): simulated clock at x"
_NOTICE = re.compile(re.escape(_PREFIX) + r"(\d+(?:\.\d+)?(?:e[+-]?\d+)?)$")


def rehearsal_notice(speed: float) -> tuple[int, str]:
    """(code, text) of the message the simulated gateway sends each client at start-up."""
    return REHEARSAL_CODE, f"{_PREFIX}{float(speed)!r}"


def announced_speed(code: int, text: str, port: int) -> float | None:
    """The simulated clock's speed if (code, text) is the rehearsal gateway's notice and the
    port is not a live one; None for any other message (the caller keeps 1x)."""
    if code != REHEARSAL_CODE or int(port) in LIVE_PORTS:
        return None
    found = _NOTICE.match(text.strip())
    if found is None:
        return None
    speed = float(found.group(1))
    return speed if math.isfinite(speed) and speed > 0 else None

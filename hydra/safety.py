"""Live-trading safety: one verdict, computed in one place, shown at the top of every cycle.

Ports 4001 (IB Gateway) and 7496 (TWS) are live. A live port is refused unless BOTH the
environment says HYDRA_LIVE_CONFIRMED=true AND the caller passed an explicit confirmation
(`--yes-i-mean-live` on the CLI, `confirm_live=True` in the notebook).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

LIVE_PORTS = frozenset({4001, 7496})
PAPER_PORTS = frozenset({4002, 7497})


@dataclass(frozen=True)
class SafetyVerdict:
    broker: str
    mode: str  # "simulated" | "paper" | "live" | "unknown"
    port: int | None
    env_confirmed: bool
    flag_confirmed: bool
    allowed: bool
    reason: str


def safety_verdict(
    broker: str, port: int | None, confirm_live: bool, env: Mapping[str, str] | None = None
) -> SafetyVerdict:
    env = os.environ if env is None else env
    env_ok = env.get("HYDRA_LIVE_CONFIRMED", "").strip().lower() == "true"
    if broker == "sim":
        return SafetyVerdict(broker, "simulated", None, env_ok, confirm_live, True,
                             "embedded simulated paper broker: no real orders")
    if port in LIVE_PORTS:
        if env_ok and confirm_live:
            return SafetyVerdict(broker, "live", port, env_ok, confirm_live, True,
                                 f"LIVE port {port}: confirmed by HYDRA_LIVE_CONFIRMED and flag")
        missing = [name for name, ok in (("HYDRA_LIVE_CONFIRMED=true", env_ok),
                                         ("--yes-i-mean-live / confirm_live=True", confirm_live))
                   if not ok]
        return SafetyVerdict(broker, "live", port, env_ok, confirm_live, False,
                             f"port {port} is a LIVE trading port; refused without "
                             f"{' and '.join(missing)}")
    if port in PAPER_PORTS:
        return SafetyVerdict(broker, "paper", port, env_ok, confirm_live, True,
                             f"paper port {port}")
    return SafetyVerdict(broker, "unknown", port, env_ok, confirm_live, False,
                         f"port {port} is neither a paper port (4002, 7497) nor a live port "
                         "(4001, 7496); refusing rather than guessing which it is")

"""Live-trading safety: one verdict, computed in one place, shown at the top of every cycle.

Ports 4001 (IB Gateway) and 7496 (TWS) are live. A live port is refused unless BOTH the
environment says HYDRA_LIVE_CONFIRMED=true AND the caller passed an explicit confirmation
(`--yes-i-mean-live` on the CLI, `confirm_live=True` in the notebook).

Paper mode is only as safe as the account behind the port: a live login can sit on any port.
So once connected the IB adapter asks the same function again with the account id, and a paper
run on an account that is not an IB paper account is refused before any order. IB paper
account ids start with "DU" (live individual accounts with "U"; IB's demo advisor and broker
masters use "DF" / "DI", live ones "F" / "I": QuantConnect's IB brokerage relies on the same
prefixes, QuantConnect/Lean issue 3398). Hydra trades one individual account, so only "DU"
counts as paper. Extra ports (e.g. a Docker or socat mapping of the paper gateway) can be
declared paper with HYDRA_PAPER_PORTS=4003,4004; a live port can never be declared paper.
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
    account: str | None = None  # the connected account, once known


PAPER_ACCOUNT_PREFIX = "DU"


def is_paper_account(account_id: str) -> bool:
    """IB paper (simulated trading) account ids start with DU, e.g. DU1234567."""
    return str(account_id).strip().upper().startswith(PAPER_ACCOUNT_PREFIX)


def declared_paper_ports(env: Mapping[str, str] | None = None) -> frozenset[int]:
    """4002 and 7497, plus HYDRA_PAPER_PORTS (comma separated); live ports never count."""
    env = os.environ if env is None else env
    extra: set[int] = set()
    for part in env.get("HYDRA_PAPER_PORTS", "").replace(" ", "").split(","):
        if part.isdigit():
            extra.add(int(part))
    return frozenset(PAPER_PORTS | (extra - LIVE_PORTS))


def safety_verdict(
    broker: str, port: int | None, confirm_live: bool, env: Mapping[str, str] | None = None,
    account: str | None = None,
) -> SafetyVerdict:
    """May this run trade? `account` is the connected account (None before connecting)."""
    env = os.environ if env is None else env
    env_ok = env.get("HYDRA_LIVE_CONFIRMED", "").strip().lower() == "true"
    verdict = _port_verdict(broker, port, confirm_live, env, env_ok)
    if account is None or broker == "sim":
        return verdict
    if verdict.allowed and verdict.mode == "paper" and not is_paper_account(account):
        return SafetyVerdict(broker, "paper", port, env_ok, confirm_live, False,
                             f"paper mode on port {port}, but the connected account {account} "
                             f"is not an IB paper account (paper ids start with "
                             f"{PAPER_ACCOUNT_PREFIX}); refusing before any order. Log IB "
                             "Gateway in with the paper trading login (IBC TradingMode=paper)",
                             account)
    return SafetyVerdict(verdict.broker, verdict.mode, verdict.port, verdict.env_confirmed,
                         verdict.flag_confirmed, verdict.allowed,
                         f"{verdict.reason}; account {account}", account)


def _port_verdict(broker: str, port: int | None, confirm_live: bool, env: Mapping[str, str],
                  env_ok: bool) -> SafetyVerdict:
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
    paper = declared_paper_ports(env)
    if port in paper:
        return SafetyVerdict(broker, "paper", port, env_ok, confirm_live, True,
                             f"paper port {port}")
    names = ", ".join(map(str, sorted(paper)))
    return SafetyVerdict(broker, "unknown", port, env_ok, confirm_live, False,
                         f"port {port} is neither a paper port ({names}) nor a live port "
                         "(4001, 7496); refusing rather than guessing which it is (declare "
                         "another paper port with HYDRA_PAPER_PORTS)")

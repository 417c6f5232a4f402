"""Step 1: the broker connection and the account, with the journal brought up to date: every
Hydra fill the broker reports is journaled, and an interrupted run of this cycle is resumed
(what it left working is cancelled) before anything is planned."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd

from hydra.broker.safety import SafetyVerdict
from hydra.cycle.context import Cycle, Recovery
from hydra.cycle.recovery import resume_interrupted
from hydra.domain.broker import AccountState, Position
from hydra.execution import fillsync
from hydra.reference.sessions import current_trade_date, is_trading_day, non_trading_reason


@dataclass(frozen=True)
class AccountCheck:
    broker: str
    account_id: str
    broker_time: datetime
    trade_date_open: date | None  # trade date whose session is open now, if any
    trading_day: bool
    non_trading_reason: str | None
    account: AccountState
    positions: list[Position]
    synced_fills: int  # executions of this cycle found at the broker and journaled now
    safety: SafetyVerdict
    resume: Recovery | None = None  # an interrupted run of this cycle, resumed now

    def positions_frame(self) -> pd.DataFrame:
        cols = ["local_symbol", "quantity", "avg_price", "market_price", "unrealized_pnl",
                "realized_pnl"]
        return pd.DataFrame([{c: getattr(p, c) for c in cols} for p in self.positions],
                            columns=cols)


def check_account(cyc: Cycle) -> AccountCheck:
    """The account as the broker reports it, the journal brought up to date with the broker."""
    b, m = cyc.broker, cyc.market
    if not b.is_connected():
        raise RuntimeError(f"the {b.kind} broker is not connected")
    now = b.now()
    account = b.account_state()
    if math.isfinite(account.net_liquidation) and account.net_liquidation > 0:
        # the drawdown reference follows equity every cycle, not only on days with orders
        cyc.journal.update_peak_equity(account.net_liquidation, cyc.params.as_of)
    # every Hydra execution the broker reports (IB: the day's), not only this cycle's: a fill
    # that arrived after an earlier cycle's window is journaled here
    synced = fillsync.sync_fills(b, cyc.journal, fillsync.HYDRA_PREFIX)
    # an earlier run of this cycle that sent orders is reconciled with the broker now, so that
    # planning (step 4) computes from what is, without acting
    cyc.resume = resume_interrupted(cyc)
    cyc.resume_checked = True
    return AccountCheck(
        broker=b.kind,
        account_id=account.account_id,
        broker_time=now,
        trade_date_open=current_trade_date(m, now),
        trading_day=is_trading_day(m, cyc.params.as_of),
        non_trading_reason=non_trading_reason(m, cyc.params.as_of),
        account=account,
        positions=b.positions(),
        synced_fills=synced,
        safety=cyc.safety,
        resume=cyc.resume,
    )


"""The daily cycle, one function per notebook step.

open_cycle -> check_account -> maintain_model -> compute_signal -> plan_orders -> execute
-> journal_fills -> summarize. Each step returns a typed result that the notebook displays;
nothing here draws or prints. Every order of a cycle carries an orderRef derived from the market
and trade date, so a rerun of the same date finds what was already done and sends nothing new.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from hydra import __version__, fillsync, slippage
from hydra.broker.base import (
    AccountState,
    Bar,
    Broker,
    ContractDetails,
    OrderRequest,
    Position,
    Quote,
)
from hydra.broker.factory import BrokerSpec, make_broker
from hydra.clock import Clock
from hydra.config import Config, load_config
from hydra.faults import kill_point
from hydra.fills import latest_per_stem
from hydra.journal import Journal, OrderRecord
from hydra.legs import Leg, hold_back, plan_legs
from hydra.markets import DEFAULT_MARKET, Market, UnknownMarketError, get_market
from hydra.model.baseline import Signal
from hydra.orders import OrderManager, ParentOrder, ParentOutcome, choose_route, limit_for_step
from hydra.outcomes import LegOutcome, cycle_status, leg_outcome
from hydra.params import as_bool, as_date, as_int
from hydra.paths import DataPaths, ensure_writable, resolve_data_dir
from hydra.risk import RiskDecision, RiskGate
from hydra.safety import SafetyVerdict, safety_verdict
from hydra.sessions import current_trade_date, is_trading_day, non_trading_reason, session_windows

BROKERS = ("sim", "ib")


class ParameterError(ValueError):
    """Bad cycle parameters; raised before anything touches a broker."""


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CycleParams:
    as_of: date
    market: str
    contracts: int
    broker: str
    host: str
    port: int
    client_id: int
    data_dir: Path
    seed: int | None
    dry_run: bool
    confirm_live: bool
    run_id: str


def today_in(market: Market) -> date:
    return datetime.now(ZoneInfo(market.timezone)).date()


def validate_params(
    *,
    as_of: Any = "",
    market: Any = DEFAULT_MARKET,
    contracts: Any = 1,
    broker: Any = "sim",
    host: Any = "127.0.0.1",
    port: Any = 4002,
    client_id: Any = 17,
    data_dir: Any = "",
    seed: Any = -1,
    dry_run: Any = False,
    confirm_live: Any = False,
    run_id: Any = "",
) -> CycleParams:
    """Check every parameter and report all problems at once, each with what to fix."""
    errors: list[str] = []
    mkt: Market | None = None
    try:
        mkt = get_market(str(market))
    except UnknownMarketError as exc:
        errors.append(str(exc))
    day = as_date("as_of", as_of, errors)
    if as_of in ("", None):
        day = today_in(mkt) if mkt else datetime.now(UTC).date()
    n_contracts = as_int("contracts", contracts, errors, minimum=0)
    kind = str(broker).strip().lower()
    if kind not in BROKERS:
        errors.append(f"broker must be one of {', '.join(BROKERS)}, got {broker!r}")
    n_port = as_int("port", port, errors, minimum=1)
    n_client = as_int("client_id", client_id, errors, minimum=0)
    n_seed: int | None = None
    if seed not in (None, ""):
        n_seed = as_int("seed", seed, errors, minimum=-1)
        n_seed = None if n_seed < 0 else n_seed  # -1: the configured sim.seed
    flags = (as_bool("dry_run", dry_run, errors), as_bool("confirm_live", confirm_live, errors))
    if errors:
        raise ParameterError(
            "invalid cycle parameters, nothing was sent:\n  - " + "\n  - ".join(errors)
        )
    assert mkt is not None and day is not None
    return CycleParams(
        as_of=day,
        market=mkt.symbol,
        contracts=n_contracts,
        broker=kind,
        host=str(host),
        port=n_port,
        client_id=n_client,
        data_dir=resolve_data_dir(data_dir or None),
        seed=n_seed,
        dry_run=flags[0],
        confirm_live=flags[1],
        run_id=str(run_id or ""),
    )


# --------------------------------------------------------------------------------------------
# Step 0: open the cycle
# --------------------------------------------------------------------------------------------
@dataclass
class Cycle:
    params: CycleParams
    config: Config
    market: Market
    paths: DataPaths
    safety: SafetyVerdict
    clock: Clock
    broker: Broker
    journal: Journal
    started_at: datetime
    decision_quote: Quote | None = None
    lock_fd: int | None = None

    @property
    def cycle_id(self) -> str:
        return f"{self.market.symbol}-{self.params.as_of:%Y%m%d}"

    @property
    def ref_prefix(self) -> str:
        return f"HYD-{self.cycle_id}-"

    def order_ref(self, n: int) -> str:
        return f"{self.ref_prefix}{n}"

    def close(self) -> None:
        try:
            self.broker.close()
            self.journal.close()
        finally:
            if self.lock_fd is not None:
                os.close(self.lock_fd)  # releases the cycle lock
                self.lock_fd = None


def cycle_start_time(market: Market, day: date, config: Config) -> datetime:
    """When a simulated cycle for `day` acts: the configured exchange-local time."""
    local = datetime.combine(day, config.sim.cycle_local_time, tzinfo=ZoneInfo(market.timezone))
    return local.astimezone(UTC)


def open_cycle(**raw: Any) -> Cycle:
    """Validate parameters, prepare the data directory and connect to the broker."""
    params = validate_params(**raw)
    ensure_writable(params.data_dir)
    config = load_config(params.data_dir)
    market = get_market(params.market)
    verdict = safety_verdict(params.broker, params.port, params.confirm_live)
    if not verdict.allowed:
        raise ParameterError(f"refused before connecting: {verdict.reason}")
    paths = DataPaths(params.data_dir)
    paths.require_writable()
    lock_fd = _cycle_lock(paths, f"{market.symbol}-{params.as_of:%Y%m%d}", params.run_id)
    spec = BrokerSpec(kind=params.broker, host=params.host, port=params.port,
                      client_id=params.client_id, seed=params.seed,
                      confirm_live=params.confirm_live)
    journal = Journal(paths.journal_db)
    try:
        broker, clock = make_broker(spec, config, paths,
                                    sim_start=cycle_start_time(market, params.as_of, config))
        broker.connect()
    except BaseException:
        journal.close()
        os.close(lock_fd)
        raise
    # the IB adapter re-checks after connecting (paper account id): show that verdict
    verdict = getattr(broker, "verdict", None) or verdict
    return Cycle(params, config, market, paths, verdict, clock, broker, journal,
                 started_at=clock.now(), lock_fd=lock_fd)


class CycleBusyError(RuntimeError):
    """Another process is running the same market and date; this one sends nothing."""


def _cycle_lock(paths: DataPaths, cycle_id: str, run_id: str) -> int:
    """flock(2) on runs/locks/cycle-<id>.lock, held by the process that trades (the kernel
    under papermill, `hydra run`'s parent does not count) for as long as the cycle is open.
    The kernel drops it when that process dies, however it dies."""
    path = paths.root / "runs" / "locks" / f"cycle-{cycle_id}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise CycleBusyError(
            f"cycle {cycle_id} is already being run by another process ({holder}); this run "
            "sent nothing. Let it finish: a rerun afterwards resumes from the broker's "
            "position.") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps({"pid": os.getpid(), "run_id": run_id,
                              "started_at": datetime.now(UTC).isoformat()}).encode(), 0)
    return fd


# --------------------------------------------------------------------------------------------
# Step 1: broker connection and account state
# --------------------------------------------------------------------------------------------
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

    def positions_frame(self) -> pd.DataFrame:
        cols = ["local_symbol", "quantity", "avg_price", "market_price", "unrealized_pnl",
                "realized_pnl"]
        return pd.DataFrame([{c: getattr(p, c) for c in cols} for p in self.positions],
                            columns=cols)


def check_account(cyc: Cycle) -> AccountCheck:
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
    )


# --------------------------------------------------------------------------------------------
# Step 2: model maintenance
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelStatus:
    model: str  # the champion that trades this cycle (after any promotion or rollback)
    action: str  # initial | none | promoted | retrained_rejected | rolled_back | skipped | ...
    detail: str
    outcome: Any = None  # hydra.agent.loop.LoopOutcome: health, drift, candidates, watch


def maintain_model(cyc: Cycle) -> ModelStatus:
    """The self-healing loop (hydra.agent.loop): observe, diagnose, retrain, promote, roll back."""
    from hydra.agent.loop import maintain

    out = maintain(cyc.broker, cyc.market, cyc.params.as_of, cyc.config, cyc.paths.root,
                   cyc.cycle_id)
    return ModelStatus(model=out.champion_id, action=out.action, detail=out.detail, outcome=out)


# --------------------------------------------------------------------------------------------
# Step 3: signal
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SignalResult:
    signal: Signal
    contract: ContractDetails
    bars: list[Bar]
    target_position: int

    def bars_frame(self) -> pd.DataFrame:
        return pd.DataFrame([b.__dict__ for b in self.bars]).set_index("date")


def _bars_before(cyc: Cycle, contract: ContractDetails, n: int) -> list[Bar]:
    """n completed bars dated before the trade date (never the trade date's own bar)."""
    now_date = cyc.broker.now().astimezone(ZoneInfo(cyc.market.timezone)).date()
    extra = max(0, (now_date - cyc.params.as_of).days) + 5
    bars = cyc.broker.daily_bars(contract, n + extra)
    return [b for b in bars if b.date < cyc.params.as_of][-n:]


def compute_signal(cyc: Cycle) -> SignalResult:
    """The registry's champion on point-in-time bars from the bar store (hydra.model.signal)."""
    from hydra.model.signal import model_signal

    contract = cyc.broker.contract_details(cyc.market.symbol, cyc.params.as_of)
    bars = _bars_before(cyc, contract, cyc.config.model.history_days)
    sig, target = model_signal(cyc.broker, contract, cyc.market, cyc.params.as_of, cyc.config,
                               cyc.paths.root, cyc.params.contracts, cyc.cycle_id)
    return SignalResult(sig, contract, bars, target_position=target)


# --------------------------------------------------------------------------------------------
# Step 4: target position, the orders that reach it, and the risk gate's pre-trade view
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PriorOrder:
    order_ref: str
    status: str
    side: str
    quantity: int
    filled: int
    avg_fill_price: float | None
    local_symbol: str
    source: str  # "broker" | "journal"


@dataclass
class PlannedLeg:
    """One leg of the plan with the risk gate's pre-trade verdict on it."""

    intent: ParentOrder
    leg: Leg
    route: str
    decision: RiskDecision | None = None
    reason: str = ""  # why this leg will not be sent ("" when it will)

    @property
    def reduces(self) -> bool:
        return self.leg.reduces

    @property
    def sendable(self) -> bool:
        return not self.reason


@dataclass
class OrderPlan:
    contract: ContractDetails
    position_before: int  # this market, all contracts
    front_position: int
    other_positions: dict[str, int]
    target_position: int
    legs: list[PlannedLeg]
    prior_orders: list[PriorOrder]
    halted: list[str] = field(default_factory=list)  # reasons that stop every leg
    decision_quote: Quote | None = None
    adv: float = 0.0
    sigma: float = 0.0

    resume: Recovery | None = None

    @property
    def already_done(self) -> bool:
        """This cycle already traded and nothing is left to send (a rerun of a done day)."""
        return bool(self.prior_orders) and not self.legs

    @property
    def intents(self) -> list[ParentOrder]:
        return [leg.intent for leg in self.legs]

    @property
    def routes(self) -> dict[str, str]:
        return {leg.intent.order_ref: leg.route for leg in self.legs}

    @property
    def risk(self) -> list[RiskDecision]:
        return [leg.decision for leg in self.legs if leg.decision is not None]

    @property
    def blocked(self) -> list[str]:
        """Everything that stops an order: the cycle's reasons, then each leg's."""
        return self.halted + [f"{_leg_name(leg.intent)}: {leg.reason}" for leg in self.legs
                              if leg.reason]

    def intents_frame(self) -> pd.DataFrame:
        cols = ["order_ref", "purpose", "local_symbol", "side", "quantity", "route", "reduces",
                "pre_trade", "reason"]
        rows = [{"order_ref": leg.intent.order_ref, "purpose": leg.intent.purpose,
                 "local_symbol": leg.intent.contract.local_symbol, "side": leg.intent.side,
                 "quantity": leg.intent.quantity, "route": leg.route, "reduces": leg.reduces,
                 "pre_trade": "blocked" if leg.reason else "allowed",
                 "reason": leg.reason or (self.halted[0] if self.halted else "")}
                for leg in self.legs]
        return pd.DataFrame(rows, columns=cols)

    def prior_frame(self) -> pd.DataFrame:
        return pd.DataFrame([p.__dict__ for p in self.prior_orders])

    def risk_frame(self) -> pd.DataFrame:
        rows = [{"order_ref": d.order_ref, **c} for d in self.risk for c in d.as_rows()]
        return pd.DataFrame(rows, columns=["order_ref", "name", "passed", "value", "limit",
                                           "reason"])


def _leg_name(p: ParentOrder) -> str:
    return f"{p.order_ref} {p.purpose} {p.side} {p.quantity} {p.contract.local_symbol}"


def _market_positions(cyc: Cycle) -> list[Position]:
    return [p for p in cyc.broker.positions() if p.symbol == cyc.market.symbol and p.quantity]


def prior_orders(cyc: Cycle) -> list[PriorOrder]:
    """Everything this cycle already sent, as the broker and the journal know it."""
    found: dict[str, PriorOrder] = {}
    for o in cyc.broker.orders(cyc.ref_prefix):
        found[o.order_ref] = PriorOrder(o.order_ref, o.status, o.side, o.quantity, o.filled,
                                        o.avg_fill_price, o.local_symbol, "broker")
    for row in cyc.journal.orders_for_cycle(cyc.cycle_id):
        if not any(ref.startswith(row["order_ref"]) for ref in found):
            found[row["order_ref"]] = PriorOrder(
                row["order_ref"], row["status"], row["side"], row["quantity"], row["filled"],
                row["avg_fill_price"], row["local_symbol"], "journal")
    return sorted(found.values(), key=lambda p: p.order_ref)


def _cost_inputs(cyc: Cycle, sig: SignalResult) -> tuple[float, float]:
    """Daily volatility in price units and ADV in contracts, from the signal's bars."""
    n = cyc.config.slippage.vol_lookback_days
    bars = sig.bars[-(n + 1):]
    sigma = slippage.daily_vol_price([b.close for b in bars])
    adv = slippage.average_daily_volume([b.volume for b in bars[-n:]])
    return sigma, adv


def risk_gate(cyc: Cycle) -> RiskGate:
    return RiskGate(cyc.broker, cyc.journal, cyc.config.risk, cyc.paths, cyc.clock,
                    cyc.cycle_id, cyc.market.symbol, cyc.params.as_of)


@dataclass(frozen=True)
class Recovery:
    """What a rerun found of an earlier, interrupted run of the same cycle."""

    attempt: int  # this run's attempt number (the interrupted run was attempt - 1 or earlier)
    filled_before: int  # contracts this cycle filled before the interruption
    planned_before: int  # contracts the earlier attempts set out to trade
    cancelled: tuple[str, ...]  # children found working and cancelled now
    unconfirmed: tuple[str, ...]  # children whose cancel the broker did not confirm
    target: int | None  # the target recorded before the first order (None: none on record)

    def note(self, sending: int) -> str:
        text = (f"resumed: {self.filled_before} of {self.planned_before} filled before the "
                f"interruption, {sending} sent now")
        if self.cancelled:
            text += f"; cancelled {', '.join(self.cancelled)} left working"
        return text


_ATTEMPT = re.compile(r"-a(\d+)-\d+$")


def _attempt_of(ref: str, prefix: str) -> int:
    m = _ATTEMPT.search(ref[len(prefix) - 1:])
    return int(m[1]) if m else 1


def recover(cyc: Cycle, prior: list[PriorOrder]) -> Recovery:
    """Reconcile with the broker before re-planning a cycle that already sent orders: journal
    every fill the journal lacks, cancel (and confirm) any child still working, and make each
    parent's journal row say what the broker says."""
    sync_fills(cyc)
    gate = risk_gate(cyc)
    cancelled, unconfirmed = [], []
    for o in cyc.broker.orders(cyc.ref_prefix):
        if o.is_done:
            continue
        if cyc.params.dry_run:  # a dry run changes nothing at the broker, cancels included
            unconfirmed.append(o.order_ref)
            continue
        status = gate.cancel(o.order_id)
        deadline = cyc.clock.now() + timedelta(
            seconds=cyc.config.execution.cancel_timeout_seconds)
        while not status.is_done and cyc.clock.now() < deadline:
            cyc.clock.sleep(min(cyc.config.execution.poll_seconds, 1.0))
            status = cyc.broker.order_status(o.order_id)
        (cancelled if status.is_done else unconfirmed).append(o.order_ref)
        if cyc.journal.child(o.order_ref):
            cyc.journal.update_child(o.order_ref, status=status.status, filled=status.filled,
                                     avg_fill_price=status.avg_fill_price,
                                     message="cancelled on rerun: left working by an "
                                             "interrupted run", broker_order_id=status.order_id)
    sync_fills(cyc)
    parents = cyc.journal.orders_for_cycle(cyc.cycle_id)
    execs = cyc.broker.executions(cyc.ref_prefix)
    for row in parents:
        mine = latest_per_stem([e for e in execs if e.order_ref.startswith(row["order_ref"] + "-")
                                or e.order_ref == row["order_ref"]], lambda e: e.exec_id)
        filled = sum(e.quantity for e in mine)
        if row["status"] == "working" or row["filled"] != filled:
            avg = sum(e.price * e.quantity for e in mine) / filled if filled else None
            outcome = leg_outcome(filled, row["quantity"], LegOutcome.UNFILLED)
            cyc.journal.update_order(row["order_ref"], status=str(outcome), filled=filled,
                                     avg_fill_price=avg,
                                     message=(row["message"] or "") + " [interrupted; "
                                     "recovered from the broker on rerun]")
    attempts = [_attempt_of(p.order_ref, cyc.ref_prefix) for p in prior] or [0]
    recorded = cyc.journal.target_for(cyc.cycle_id)
    first = [r for r in parents if _attempt_of(r["order_ref"], cyc.ref_prefix) == 1]
    return Recovery(
        attempt=max(attempts) + 1,
        filled_before=sum(e.quantity for e in latest_per_stem(execs, lambda e: e.exec_id)),
        planned_before=sum(r["quantity"] for r in first),
        cancelled=tuple(cancelled), unconfirmed=tuple(unconfirmed),
        target=int(recorded["target"]) if recorded else None)


def plan_orders(cyc: Cycle, sig: SignalResult) -> OrderPlan:
    """The legs from the broker's position to the target, each judged by the risk gate
    against the position projected after the legs before it (see hydra.legs).

    A rerun of a cycle that already sent orders first recovers (see `recover`), then plans
    from the broker's position to the target the first run recorded, not a fresh signal, with
    a new attempt number in every orderRef (HYD-ZO-20261124-a2-1).
    """
    contract = sig.contract
    prior = prior_orders(cyc)
    # a target on record means an earlier run of this cycle got as far as sending: resume it
    on_record = cyc.journal.target_for(cyc.cycle_id) is not None
    resume = recover(cyc, prior) if prior or on_record else None
    positions = _market_positions(cyc)
    holdings = [(contract if p.con_id == contract.con_id
                 else cyc.broker.contract_by_local_symbol(p.local_symbol), p.quantity)
                for p in positions]
    front = sum(q for c, q in holdings if c.con_id == contract.con_id)
    others = {c.local_symbol: q for c, q in holdings if c.con_id != contract.con_id}
    if resume is None:
        target = sig.target_position
        planned = plan_legs(holdings, contract, target)
    elif resume.target is None or resume.unconfirmed:
        target, planned = resume.target if resume.target is not None else front, []
    else:
        target = resume.target
        planned = plan_legs(holdings, contract, target)
    sigma, adv = _cost_inputs(cyc, sig)
    thr = cyc.config.execution.twap_participation

    def ref(n: int) -> str:
        if resume is None or resume.attempt == 1:  # nothing of this cycle reached the broker
            return cyc.order_ref(n)
        return f"{cyc.ref_prefix}a{resume.attempt}-{n}"

    legs = [PlannedLeg(ParentOrder(ref(n), leg.purpose, leg.contract, leg.side,
                                   leg.quantity), leg,
                       choose_route(leg.quantity, adv, thr))
            for n, leg in enumerate(planned, start=1)]
    plan = OrderPlan(contract, front + sum(others.values()), front, others, target, legs,
                     prior_orders(cyc) if resume else prior, adv=adv, sigma=sigma,
                     resume=resume)  # re-read after `recover` changed statuses
    quote = cyc.broker.quote(contract)
    plan.decision_quote = quote
    cyc.decision_quote = quote
    plan.halted = _blocking_reasons(cyc, plan, quote)
    if legs and not _closed(plan):
        _judge_legs(cyc, plan, quote)
    return plan


def _closed(plan: OrderPlan) -> bool:
    """Halted for a reason the gate cannot change (a dry run still shows the gate's view)."""
    return _beyond_dry_run(plan.halted)


DRY_RUN = "dry run: orders computed, none sent"


def _beyond_dry_run(reasons: list[str]) -> bool:
    """Whether anything but the dry run itself stops an order."""
    return any(r != DRY_RUN for r in reasons)


def _judge_legs(cyc: Cycle, plan: OrderPlan, front_quote: Quote) -> None:
    gate = risk_gate(cyc)
    ex = cyc.config.execution
    planned: dict[int, int] = {}
    earlier_blocked = ""
    for leg in plan.legs:
        intent = leg.intent
        q = front_quote if intent.contract.con_id == plan.contract.con_id else \
            cyc.broker.quote(intent.contract)
        if q.mid is None:
            leg.reason = f"no usable quote for {intent.contract.local_symbol}: {q.problem}"
        else:
            price = limit_for_step(q, intent.side, intent.contract.tick, ex.start, 0,
                                   ex.reprice_ticks)
            leg.decision = gate.check(OrderRequest(intent.contract, intent.side,
                                                   intent.quantity, "LMT", price,
                                                   intent.order_ref), intent.order_ref,
                                      dict(planned))
            if not leg.decision.allowed:
                leg.reason = "risk gate: " + "; ".join(leg.decision.reasons)
        if not leg.reason:
            leg.reason = hold_back(leg.leg, f"{earlier_blocked} is blocked" if earlier_blocked
                                   else "")
        if leg.reason:
            earlier_blocked = earlier_blocked or intent.order_ref
        else:  # the next leg is judged as if this one filled
            signed = intent.quantity if intent.side == "BUY" else -intent.quantity
            planned[intent.contract.con_id] = planned.get(intent.contract.con_id, 0) + signed


def _blocking_reasons(cyc: Cycle, plan: OrderPlan, quote: Quote) -> list[str]:
    reasons: list[str] = []
    p, m = cyc.params, cyc.market
    if plan.prior_orders and not plan.legs:
        done = ", ".join(f"{o.order_ref} {o.side} {o.quantity} {o.local_symbol} "
                         f"({o.status}, filled {o.filled})" for o in plan.prior_orders)
        r = plan.resume
        why = ("the position is at the day's target" if r is None or r.target is not None
               else "no target on record for it, so a rerun cannot know what is left")
        if r is not None and r.unconfirmed:
            why = (f"{', '.join(r.unconfirmed)} is still working at the broker (a dry run does "
                   "not cancel it; a real rerun will)" if p.dry_run else
                   f"the cancel of {', '.join(r.unconfirmed)} was not confirmed by the broker: "
                   "check it there before rerunning")
        reasons.append(f"already done: this cycle ({cyc.cycle_id}) already placed {done}; "
                       f"{why}; nothing more is sent")
    if not plan.legs:
        return reasons
    why_closed = non_trading_reason(m, p.as_of)
    if why_closed:
        reasons.append(f"market closed: {why_closed}")
    else:
        now = cyc.broker.now()
        if current_trade_date(m, now) != p.as_of:
            windows = session_windows(m, p.as_of)
            local = now.astimezone(ZoneInfo(m.timezone))
            span = ", ".join(
                f"{a.astimezone(ZoneInfo(m.timezone)):%a %H:%M}-"
                f"{b.astimezone(ZoneInfo(m.timezone)):%H:%M}" for a, b in windows)
            reasons.append(f"outside trading hours: broker time is {local:%Y-%m-%d %H:%M %Z}, "
                           f"{p.as_of} trades {span} ({m.timezone})")

    if p.dry_run:
        reasons.append(DRY_RUN)
    return reasons


# --------------------------------------------------------------------------------------------
# Step 5: execution (order manager behind the risk gate)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LegResult:
    """What happened to one planned leg: sent and worked, or why it was not."""

    intent: ParentOrder
    reduces: bool
    outcome: LegOutcome
    filled: int
    reason: str
    worked: ParentOutcome | None = None

    def as_dict(self) -> dict[str, Any]:
        p = self.intent
        return {"order_ref": p.order_ref, "purpose": p.purpose,
                "local_symbol": p.contract.local_symbol, "side": p.side,
                "quantity": int(p.quantity), "reduces": self.reduces,
                "outcome": str(self.outcome), "filled": int(self.filled), "reason": self.reason}


@dataclass
class ExecutionResult:
    outcomes: list[ParentOutcome]
    sent: bool
    note: str
    legs: list[LegResult] = field(default_factory=list)

    @property
    def orders_sent(self) -> int:
        return len(self.outcomes)

    @property
    def child_orders(self) -> int:
        return sum(len(o.children) for o in self.outcomes)

    def legs_frame(self) -> pd.DataFrame:
        cols = ["order_ref", "purpose", "local_symbol", "side", "quantity", "reduces",
                "outcome", "filled", "reason"]
        return pd.DataFrame([leg.as_dict() for leg in self.legs], columns=cols)

    def orders_frame(self) -> pd.DataFrame:
        cols = ["order_ref", "purpose", "local_symbol", "side", "quantity", "route",
                "participation", "status", "filled", "avg_fill_price", "children", "message"]
        rows = [{
            "order_ref": o.parent.order_ref, "purpose": o.parent.purpose,
            "local_symbol": o.parent.contract.local_symbol, "side": o.parent.side,
            "quantity": o.parent.quantity, "route": o.route,
            "participation": round(o.participation, 6), "status": str(o.status),
            "filled": o.filled, "avg_fill_price": o.avg_fill_price,
            "children": len(o.children), "message": o.message,
        } for o in self.outcomes]
        return pd.DataFrame(rows, columns=cols)

    def children_frame(self) -> pd.DataFrame:
        cols = ["child_ref", "slice", "attempt", "sent_at", "ended_at", "quantity",
                "limit_price", "status", "filled", "avg_fill_price", "message"]
        rows = [{**{k: getattr(c, k) for k in cols}, "sent_at": c.sent_at.isoformat(),
                 "ended_at": c.ended_at.isoformat() if c.ended_at else None}
                for o in self.outcomes for c in o.children]
        return pd.DataFrame(rows, columns=cols)

    def quotes_frame(self) -> pd.DataFrame:
        rows = [{"time": q.time, "bid": q.bid, "ask": q.ask}
                for o in self.outcomes for q in o.quotes]
        return pd.DataFrame(rows, columns=["time", "bid", "ask"])


def _session_end(cyc: Cycle) -> datetime | None:
    now = cyc.broker.now()
    for start, end in session_windows(cyc.market, cyc.params.as_of):
        if start <= now < end:
            return end
    return None


def _not_sent(leg: PlannedLeg, outcome: LegOutcome, reason: str) -> LegResult:
    return LegResult(leg.intent, leg.reduces, outcome, 0, reason)


def execute(cyc: Cycle, plan: OrderPlan, sig: SignalResult) -> ExecutionResult:
    """Work each leg in order (limit-patience or TWAP); every child passes the risk gate.

    A reducing leg goes whenever the gate allows it, whatever happened to the legs before it;
    an opening leg goes only if every leg before it filled completely (else the position could
    pass the target). Every leg ends with an outcome and a reason, sent or not.
    """
    if plan.halted:
        why = "; ".join(plan.halted)
        legs = [_not_sent(leg, LegOutcome.NOT_SENT, why) for leg in plan.legs]
        return ExecutionResult([], False, "nothing sent: " + why, legs)
    if not plan.legs:
        return ExecutionResult([], False, "nothing to do: position already at target")
    # the day's target, on record before the first order: a rerun finishes this target
    cyc.journal.record_target(cyc.cycle_id, plan.target_position, plan.contract.local_symbol,
                              sig.signal.label, cyc.params.run_id)
    kill_point("after_planning")
    manager = OrderManager(cyc.broker, risk_gate(cyc), cyc.journal, cyc.clock,
                           cyc.config.execution, cyc.cycle_id, lambda: sync_fills(cyc),
                           _session_end(cyc))
    outcomes: list[ParentOutcome] = []
    results: list[LegResult] = []
    short = ""  # the first earlier leg that did not fill completely
    for leg in plan.legs:
        intent = leg.intent
        if not leg.sendable:
            results.append(_not_sent(leg, LegOutcome.BLOCKED, leg.reason))
            short = short or f"{intent.order_ref} was blocked"
            continue
        held_back = hold_back(leg.leg, short)
        if held_back:
            results.append(_not_sent(leg, LegOutcome.NOT_SENT, held_back))
            continue
        arrival = cyc.broker.quote(intent.contract)
        if arrival.mid is None or arrival.spread is None:
            results.append(_not_sent(leg, LegOutcome.NOT_SENT,
                                     f"no usable quote for {intent.contract.local_symbol}: "
                                     f"{arrival.problem}"))
            short = short or f"{intent.order_ref} had no usable quote"
            continue
        outcome = _work_leg(cyc, plan, manager, leg, arrival)
        outcomes.append(outcome)
        results.append(LegResult(intent, leg.reduces, outcome.status, outcome.filled,
                                 outcome.message, outcome))
        if outcome.status is not LegOutcome.FILLED:
            short = short or f"{intent.order_ref} ended {outcome.status}"
    sync_fills(cyc)
    summary = f"{len(outcomes)} order(s) worked, {sum(len(o.children) for o in outcomes)} " \
              "child order(s) sent"
    not_sent = [r for r in results if not r.outcome.sent]
    note = "; ".join(f"{r.intent.order_ref} {r.outcome}: {r.reason}" for r in not_sent)
    return ExecutionResult(outcomes, bool(outcomes), f"{summary}; {note}" if note else summary,
                           results)


def _work_leg(cyc: Cycle, plan: OrderPlan, manager: OrderManager, leg: PlannedLeg,
              arrival: Quote) -> ParentOutcome:
    """Journal the parent, work it, and record what the broker says, on every exit path."""
    intent = leg.intent
    predicted = slippage.predicted_price(arrival.spread / 2, plan.sigma, intent.quantity,
                                         plan.adv, cyc.config.slippage.k)
    now = cyc.broker.now().isoformat()
    cyc.journal.record_order(OrderRecord(
        order_ref=intent.order_ref, cycle_id=cyc.cycle_id, as_of=cyc.params.as_of.isoformat(),
        symbol=intent.contract.symbol, local_symbol=intent.contract.local_symbol,
        con_id=intent.contract.con_id, purpose=intent.purpose, side=intent.side,
        quantity=intent.quantity, route=leg.route,
        broker=cyc.broker.kind, status="working", filled=0, avg_fill_price=None,
        decision_mid=cyc.decision_quote.mid if cyc.decision_quote else None,
        arrival_mid=arrival.mid, arrival_bid=arrival.bid, arrival_ask=arrival.ask,
        predicted_slippage_price=predicted,
        participation=intent.quantity / plan.adv if plan.adv else None,
        sent_at=now, updated_at=now,
    ))
    kill_point("after_parent_journaled")
    manager.current = None
    try:
        outcome = manager.work(intent, plan.adv)
    finally:
        worked = manager.current
        if worked is not None:  # also when work() raised: the record says what the broker says
            cyc.journal.update_order(intent.order_ref, status=str(worked.status),
                                     filled=worked.filled,
                                     avg_fill_price=worked.avg_fill_price,
                                     message=worked.message)
    return outcome


# --------------------------------------------------------------------------------------------
# Step 6: the fill journal
# --------------------------------------------------------------------------------------------
def sync_fills(cyc: Cycle) -> int:
    """Journal every execution of this cycle the broker reports and the journal lacks."""
    return fillsync.sync_fills(cyc.broker, cyc.journal, cyc.ref_prefix)


def journal_fills(cyc: Cycle) -> pd.DataFrame:
    """A last sweep, then this cycle's fills as the journal holds them."""
    sync_fills(cyc)
    return cyc.journal.fills(cycle_id=cyc.cycle_id)


# --------------------------------------------------------------------------------------------
# Step 7: summary
# --------------------------------------------------------------------------------------------
def summarize(cyc: Cycle, check: AccountCheck, model: ModelStatus, sig: SignalResult,
              plan: OrderPlan, result: ExecutionResult, fills: pd.DataFrame) -> dict[str, Any]:
    """The run's record as plain Python values (glued as the `summary` scrap)."""
    kill_point("during_summary")
    after = sum(p.quantity for p in _market_positions(cyc))
    account = cyc.broker.account_state()
    legs = result.legs or [_not_sent(leg, LegOutcome.NOT_SENT, leg.reason) for leg in plan.legs]
    status = cycle_status(
        [leg.outcome for leg in legs], int(fills["quantity"].sum()) if len(fills) else 0,
        already_done=plan.already_done, dry_run=cyc.params.dry_run,
        blocked=_beyond_dry_run(plan.blocked))

    def num(col: str) -> float | None:
        if not len(fills) or fills[col].isna().all():
            return None
        return float(fills[col].sum())

    return {
        "as_of": cyc.params.as_of.isoformat(),
        "market": cyc.market.symbol,
        "contract": sig.contract.local_symbol,
        "cycle_id": cyc.cycle_id,
        "run_id": cyc.params.run_id,
        "broker": cyc.broker.kind,
        "account_id": check.account_id,
        "mode": cyc.safety.mode,
        "safety": cyc.safety.reason,
        "status": str(status),
        "signal": sig.signal.label,
        "signal_score": float(sig.signal.score),
        "model": sig.signal.model,
        "model_action": model.action,
        "target_position": int(plan.target_position),
        "position_before": int(plan.position_before),
        "position_after": int(after),
        "orders_sent": int(result.orders_sent),
        "child_orders": int(result.child_orders),
        "routes": [o.route for o in result.outcomes],
        "order_outcomes": [f"{o.parent.order_ref} {o.status}: {o.message}".strip(": ")
                           for o in result.outcomes],
        "legs": [leg.as_dict() for leg in legs],
        "resume": (plan.resume.note(sum(r.intent.quantity for r in legs if r.outcome.sent))
                   if plan.resume is not None and plan.legs else None),
        "fills": len(fills),
        "filled_contracts": int(fills["quantity"].sum()) if len(fills) else 0,
        "avg_fill_price": (float((fills["price"] * fills["quantity"]).sum()
                                 / fills["quantity"].sum()) if len(fills) else None),
        "slippage_ticks": (float((fills["actual_ticks"] * fills["quantity"]).sum()
                                 / fills["quantity"].sum())
                           if len(fills) and not fills["actual_ticks"].isna().any() else None),
        "slippage_usd": num("actual_usd"),
        "predicted_slippage_usd": num("predicted_usd"),
        "commission": num("commission"),
        "blocked": list(plan.blocked),
        "already_done": plan.already_done,
        "dry_run": cyc.params.dry_run,
        "net_liquidation": float(account.net_liquidation),
        "daily_pnl": float(account.daily_pnl),
        "broker_time": cyc.broker.now().isoformat(),
        "hydra_version": __version__,
    }


def one_line(summary: dict[str, Any]) -> str:
    """The summary as the single line the CLI prints."""
    parts = [
        f"{summary['as_of']} {summary['market']} {summary.get('contract', '')}".strip(),
        f"status={summary['status']}",
        f"signal={summary['signal']}",
        f"target={summary['target_position']:+d}",
        f"position {summary['position_before']:+d} -> {summary['position_after']:+d}",
        f"orders={summary['orders_sent']}",
        f"fills={summary['fills']}",
    ]
    if summary.get("avg_fill_price") is not None:
        parts.append(f"avg_fill={summary['avg_fill_price']:g}")
    if summary.get("resume"):
        parts.append(summary["resume"])
    legs = summary.get("legs") or []
    blocked = summary.get("blocked") or []

    def why(leg: dict[str, Any]) -> str:  # a stopped leg says why, unless `blocked:` will
        reason = leg.get("reason") or ""
        shown = leg["outcome"] == "filled" or not reason or any(reason in b for b in blocked)
        return "" if shown else f" ({reason})"

    if len(legs) > 1 or any(leg["outcome"] not in ("filled", "not_sent") for leg in legs):
        parts.append("legs: " + ", ".join(
            f"{leg['purpose']} {leg['side']} {leg['quantity']} {leg['local_symbol']} "
            f"{leg['outcome']}{why(leg)}" for leg in legs))
    if blocked:
        parts.append("blocked: " + " | ".join(blocked))
    return "  ".join(parts)


def run_in_process(**params: Any) -> dict[str, Any]:
    """The whole cycle without a notebook (replays, benchmarks); same steps, same safeguards."""
    cyc = open_cycle(**params)
    try:
        check = check_account(cyc)
        model = maintain_model(cyc)
        sig = compute_signal(cyc)
        plan = plan_orders(cyc, sig)
        result = execute(cyc, plan, sig)
        fills = journal_fills(cyc)
        return summarize(cyc, check, model, sig, plan, result, fills)
    finally:
        cyc.close()

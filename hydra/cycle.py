"""The daily cycle, one function per notebook step.

open_cycle -> check_account -> maintain_model -> compute_signal -> plan_orders -> execute
-> journal_fills -> summarize. Each step returns a typed result that the notebook displays;
nothing here draws or prints. Every order of a cycle carries an orderRef derived from the market
and trade date, so a rerun of the same date finds what was already done and sends nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
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
from hydra.journal import Journal, OrderRecord
from hydra.markets import Market, UnknownMarketError, get_market
from hydra.model.baseline import Signal
from hydra.orders import OrderManager, ParentOrder, ParentOutcome, choose_route, limit_for_step
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
    market: Any = "ZO",
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

    @property
    def cycle_id(self) -> str:
        return f"{self.market.symbol}-{self.params.as_of:%Y%m%d}"

    @property
    def ref_prefix(self) -> str:
        return f"HYD-{self.cycle_id}-"

    def order_ref(self, n: int) -> str:
        return f"{self.ref_prefix}{n}"

    def close(self) -> None:
        self.broker.close()
        self.journal.close()


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
        raise
    # the IB adapter re-checks after connecting (paper account id): show that verdict
    verdict = getattr(broker, "verdict", None) or verdict
    return Cycle(params, config, market, paths, verdict, clock, broker, journal,
                 started_at=clock.now())


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
class OrderPlan:
    contract: ContractDetails
    position_before: int  # this market, all contracts
    front_position: int
    other_positions: dict[str, int]
    target_position: int
    intents: list[ParentOrder]
    prior_orders: list[PriorOrder]
    blocked: list[str] = field(default_factory=list)
    decision_quote: Quote | None = None
    risk: list[RiskDecision] = field(default_factory=list)
    routes: dict[str, str] = field(default_factory=dict)
    adv: float = 0.0
    sigma: float = 0.0

    @property
    def already_done(self) -> bool:
        return bool(self.prior_orders)

    def intents_frame(self) -> pd.DataFrame:
        cols = ["order_ref", "purpose", "local_symbol", "side", "quantity", "route"]
        rows = [{"order_ref": i.order_ref, "purpose": i.purpose,
                 "local_symbol": i.contract.local_symbol, "side": i.side,
                 "quantity": i.quantity, "route": self.routes.get(i.order_ref, "")}
                for i in self.intents]
        return pd.DataFrame(rows, columns=cols)

    def prior_frame(self) -> pd.DataFrame:
        return pd.DataFrame([p.__dict__ for p in self.prior_orders])

    def risk_frame(self) -> pd.DataFrame:
        rows = [{"order_ref": d.order_ref, **c} for d in self.risk for c in d.as_rows()]
        return pd.DataFrame(rows, columns=["order_ref", "name", "passed", "value", "limit",
                                           "reason"])


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


def plan_orders(cyc: Cycle, sig: SignalResult) -> OrderPlan:
    contract = sig.contract
    positions = _market_positions(cyc)
    front = sum(p.quantity for p in positions if p.con_id == contract.con_id)
    others = {p.local_symbol: p.quantity for p in positions if p.con_id != contract.con_id}
    before = front + sum(others.values())
    target = sig.target_position

    intents: list[ParentOrder] = []
    n = 1
    for local, qty in sorted(others.items()):
        old = cyc.broker.contract_by_local_symbol(local)
        intents.append(ParentOrder(cyc.order_ref(n), "roll-out", old,
                                   "SELL" if qty > 0 else "BUY", abs(qty)))
        n += 1
    delta = target - front
    if delta:
        intents.append(ParentOrder(cyc.order_ref(n), "target", contract,
                                   "BUY" if delta > 0 else "SELL", abs(delta)))

    sigma, adv = _cost_inputs(cyc, sig)
    plan = OrderPlan(contract, before, front, others, target, intents, prior_orders(cyc),
                     adv=adv, sigma=sigma)
    plan.routes = {i.order_ref: choose_route(i.quantity, adv,
                                             cyc.config.execution.twap_participation)
                   for i in intents}
    quote = cyc.broker.quote(contract)
    plan.decision_quote = quote
    cyc.decision_quote = quote
    plan.blocked = _blocking_reasons(cyc, plan, quote)
    if intents and not plan.already_done and quote.mid is not None:
        gate = risk_gate(cyc)
        ex = cyc.config.execution
        for intent in intents:
            q = quote if intent.contract.con_id == contract.con_id else \
                cyc.broker.quote(intent.contract)
            if q.mid is None:
                continue
            price = limit_for_step(q, intent.side, intent.contract.tick, ex.start, 0,
                                   ex.reprice_ticks)
            decision = gate.check(OrderRequest(intent.contract, intent.side, intent.quantity,
                                               "LMT", price, intent.order_ref), intent.order_ref)
            plan.risk.append(decision)
            plan.blocked += [f"risk gate: {r}" for r in decision.reasons]
    return plan


def _blocking_reasons(cyc: Cycle, plan: OrderPlan, quote: Quote) -> list[str]:
    reasons: list[str] = []
    p, m = cyc.params, cyc.market
    if plan.prior_orders:
        done = ", ".join(f"{o.order_ref} {o.side} {o.quantity} {o.local_symbol} "
                         f"({o.status}, filled {o.filled})" for o in plan.prior_orders)
        reasons.append(f"already done: this cycle ({cyc.cycle_id}) already placed {done}; "
                       "a rerun never sends another order")
    if not plan.intents:
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
        elif quote.mid is None:
            reasons.append(f"no usable quote for {plan.contract.local_symbol} "
                           f"(bid {quote.bid}, ask {quote.ask})")
    if p.dry_run:
        reasons.append("dry run: orders computed, none sent")
    return reasons


# --------------------------------------------------------------------------------------------
# Step 5: execution (order manager behind the risk gate)
# --------------------------------------------------------------------------------------------
@dataclass
class ExecutionResult:
    outcomes: list[ParentOutcome]
    sent: bool
    note: str

    @property
    def orders_sent(self) -> int:
        return len(self.outcomes)

    @property
    def child_orders(self) -> int:
        return sum(len(o.children) for o in self.outcomes)

    def orders_frame(self) -> pd.DataFrame:
        cols = ["order_ref", "purpose", "local_symbol", "side", "quantity", "route",
                "participation", "status", "filled", "avg_fill_price", "children", "message"]
        rows = [{
            "order_ref": o.parent.order_ref, "purpose": o.parent.purpose,
            "local_symbol": o.parent.contract.local_symbol, "side": o.parent.side,
            "quantity": o.parent.quantity, "route": o.route,
            "participation": round(o.participation, 6), "status": o.status,
            "filled": o.filled, "avg_fill_price": o.avg_fill_price,
            "children": len(o.children), "message": o.message,
        } for o in self.outcomes]
        return pd.DataFrame(rows, columns=cols)

    def children_frame(self) -> pd.DataFrame:
        cols = ["child_ref", "slice", "attempt", "sent_at", "quantity", "limit_price",
                "status", "filled", "avg_fill_price", "message"]
        rows = [{**{k: getattr(c, k) for k in cols}, "sent_at": c.sent_at.isoformat()}
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


def execute(cyc: Cycle, plan: OrderPlan, sig: SignalResult) -> ExecutionResult:
    """Work each intended order (limit-patience or TWAP); every child passes the risk gate."""
    if plan.blocked:
        return ExecutionResult([], False, "nothing sent: " + "; ".join(plan.blocked))
    if not plan.intents:
        return ExecutionResult([], False, "nothing to do: position already at target")
    manager = OrderManager(cyc.broker, risk_gate(cyc), cyc.journal, cyc.clock,
                           cyc.config.execution, cyc.cycle_id, lambda: sync_fills(cyc),
                           _session_end(cyc))
    outcomes: list[ParentOutcome] = []
    note = ""
    for intent in plan.intents:
        arrival = cyc.broker.quote(intent.contract)
        if arrival.mid is None or arrival.spread is None:
            note = f"no usable quote for {intent.contract.local_symbol}; stopped"
            break
        predicted = slippage.predicted_price(arrival.spread / 2, plan.sigma, intent.quantity,
                                             plan.adv, cyc.config.slippage.k)
        now = cyc.broker.now().isoformat()
        cyc.journal.record_order(OrderRecord(
            order_ref=intent.order_ref, cycle_id=cyc.cycle_id, as_of=cyc.params.as_of.isoformat(),
            symbol=intent.contract.symbol, local_symbol=intent.contract.local_symbol,
            con_id=intent.contract.con_id, purpose=intent.purpose, side=intent.side,
            quantity=intent.quantity, route=plan.routes[intent.order_ref],
            broker=cyc.broker.kind, status="working", filled=0, avg_fill_price=None,
            decision_mid=cyc.decision_quote.mid if cyc.decision_quote else None,
            arrival_mid=arrival.mid, arrival_bid=arrival.bid, arrival_ask=arrival.ask,
            predicted_slippage_price=predicted,
            participation=intent.quantity / plan.adv if plan.adv else None,
            sent_at=now, updated_at=now,
        ))
        outcome = manager.work(intent, plan.adv)
        cyc.journal.update_order(intent.order_ref, status=outcome.status, filled=outcome.filled,
                                 avg_fill_price=outcome.avg_fill_price, message=outcome.message)
        outcomes.append(outcome)
        if outcome.status not in ("filled",):
            rest = plan.intents[len(outcomes):]
            if rest:
                note = (f"{intent.order_ref} ended {outcome.status}; not sending "
                        f"{', '.join(i.order_ref for i in rest)}")
            break
    sync_fills(cyc)
    summary = f"{len(outcomes)} order(s) worked, {sum(len(o.children) for o in outcomes)} " \
              "child order(s) sent"
    return ExecutionResult(outcomes, True, f"{summary}; {note}" if note else summary)


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
    after = sum(p.quantity for p in _market_positions(cyc))
    account = cyc.broker.account_state()
    if result.sent:
        status = "traded" if len(fills) else "sent_no_fill"
        if any(o.status in ("blocked", "rejected", "error") for o in result.outcomes):
            status = "execution_stopped"
    elif plan.already_done:
        status = "already_done"
    elif plan.blocked:
        status = "dry_run" if cyc.params.dry_run and len(plan.blocked) == 1 else "blocked"
    else:
        status = "no_trade"

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
        "status": status,
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
    if summary.get("blocked"):
        parts.append("blocked: " + " | ".join(summary["blocked"]))
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

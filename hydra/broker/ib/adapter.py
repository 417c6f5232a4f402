"""The Interactive Brokers broker: the Broker interface over ib_insync (IB Gateway or TWS).

How it behaves, and why:
- ib_insync runs on a private event loop thread (hydra.broker.ib.event_loop): every call below is
  synchronous for the caller, bounded by a timeout, and works the same from a script, the
  CLI, a papermill kernel and JupyterLab. A failed connect stops that thread: nothing lingers.
- connect: bounded attempts with backoff; the error names host, port and client id and says
  what is most likely wrong. Then the safety verdict is asked again with the connected
  account: paper mode on a non-paper ("DU...") account stops here, before any order.
- a dropped connection is noticed on the next call, which reconnects (same client id) and lets
  ib_insync's start-up sync reload positions, open and completed orders and the day's
  executions before the call proceeds. Fills are also kept in this object, so a fill seen
  before a drop is never forgotten by it.
- contracts: the dated FUT (never CONTFUT) Hydra's roll rule picks, from reqContractDetails;
  tick = minTick x priceMagnifier (IB reports grains' minTick as 0.0025 dollars with
  priceMagnifier 100 for prices in cents); any disagreement with hydra/conf/markets.toml
  (tick, multiplier, magnifier, last trade date) is an error, not a guess.
- quotes: streaming subscriptions kept open per contract (repeat quotes are instant); NaN,
  -1 and 0 mean "no price"; Quote.data_type says live / delayed / frozen.
- orders carry orderRef; their id for Hydra is IB's permId (stable across sessions). Order
  status, execDetails and commissionReport arrive as events (see `events`); executions() also
  sweeps reqExecutions, so fills that arrived late or while disconnected are found.
- now() is IB's clock (reqCurrentTime, advanced with a monotonic clock, re-read every few
  second): against `hydra sim-gateway` the cycle sees the simulated time. A sim-gateway run
  with --speed N says so at start-up (hydra.broker.ib.rehearsal): then now() advances and
  IBClock sleeps at N x wall time. Any other gateway, and every live port, stays at 1x.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo

from hydra.broker.base import Broker
from hydra.broker.ib.event_loop import LoopThread
from hydra.broker.ib.rehearsal import announced_speed
from hydra.broker.ib.translate import (
    UNSET_DOUBLE,
    _fill_rec,
    _FillRec,
    _ib_date,
    _invalid,
    _lib,
    _market_for_local,
    _month_of,
    _OrderMeta,
    _price,
    _size,
    _trade_snap,
    _TradeSnap,
    check_sessions,
    market_rule_agrees,
)
from hydra.broker.safety import SafetyVerdict, safety_verdict
from hydra.config import IBConfig, load_config
from hydra.domain.broker import (
    AccountState,
    Bar,
    BrokerError,
    ContractDetails,
    Execution,
    OrderRequest,
    OrderStatus,
    Position,
    Quote,
)
from hydra.domain.fills import latest_per_stem
from hydra.domain.market import Market
from hydra.reference.contracts import contract as hydra_contract
from hydra.reference.contracts import contract_from_local_symbol, front_contract
from hydra.reference.markets import UnknownMarketError, get_market
from hydra.reference.sessions import current_trade_date, in_session

T = TypeVar("T")
log = logging.getLogger("hydra.broker.ib")

TIME_RESYNC_SECONDS = 1.0
CANCEL_WAIT_SECONDS = 5.0
PNL_WAIT_SECONDS = 5.0
# IB message codes (https://interactivebrokers.github.io/tws-api/message_codes.html)
LINK_DOWN = {1100, 2110}
LINK_UP = {1101, 1102}
NOT_REJECTIONS = {161, 202, 399, 404, 434, 492, 10167} | LINK_DOWN | LINK_UP
READ_ONLY_HINT = ("IB Gateway's API is read-only: set ReadOnlyApi=no in IBC's config.ini (or "
                  "untick 'Read-Only API' under Configure > Settings > API in the gateway)")
# What to do about an order IB refused, by error code (appended to IB's own text)
ORDER_ERROR_HINTS = {
    201: "IB rejected the order: its reason says why (permissions, margin, the contract); fix "
         "that at IB before rerunning",
    110: "the limit price is off IB's price grid for this contract: check the tick in "
         "hydra/conf/markets.toml against IB's minTick and market rule",
    321: "IB could not validate the order: read its cause (a read-only API, an invalid "
         "account or field) and fix that setting",
}
CLIENT_ID_IN_USE = 326
LINK_POLL_SECONDS = 0.05
DATA_TYPES = {1: "live", 2: "frozen", 3: "delayed", 4: "frozen"}
STATUS_MAP = {"ApiPending": "PendingSubmit", "ValidationError": "Inactive"}


# ---------------------------------------------------------------------------------- broker
class IBBroker(Broker):
    """Interactive Brokers through ib_insync (see the module docstring)."""

    kind: ClassVar[str] = "ib"

    def __init__(self, host: str = "127.0.0.1", port: int = 4002, client_id: int = 17, *,
                 confirm_live: bool = False, settings: IBConfig | None = None) -> None:
        self.host, self.port, self.client_id = host, int(port), int(client_id)
        self.confirm_live = bool(confirm_live)
        self.settings = settings or load_config().ib
        s = self.settings
        if s.connect_attempts < 1 or s.connect_timeout_seconds <= 0 \
                or s.request_timeout_seconds <= 0 or s.quote_wait_seconds < 0:
            raise BrokerError(f"invalid [ib] settings {s}: attempts must be >= 1 and timeouts "
                              "positive")
        if s.market_data_type not in (1, 2, 3, 4):
            raise BrokerError(f"[ib] market_data_type must be 1, 2, 3 or 4, not "
                              f"{s.market_data_type}")
        self.verdict: SafetyVerdict = safety_verdict("ib", self.port, self.confirm_live)
        self.account_id: str | None = None
        self.events: deque[tuple[str, str, str]] = deque(maxlen=2000)  # (event, ref, detail)
        self._loop: LoopThread | None = None
        self._ib: Any = None
        self._closing = False
        self._lock = threading.RLock()
        self._fills: dict[str, _FillRec] = {}
        self._orders: dict[int, _OrderMeta] = {}  # permId -> meta
        self._pending: dict[tuple[int, int], _OrderMeta] = {}  # (clientId, orderId) -> meta
        self._order_errors: dict[int, str] = {}  # orderId -> IB error text (this session)
        self._cancel_notes: dict[int, str] = {}  # orderId -> IB's 202 text (this session)
        self._md_errors: dict[int, str] = {}  # market data reqId -> IB error text
        self._connect_errors: list[str] = []
        self._contracts: dict[int, ContractDetails] = {}
        self._rules: dict[int, list[tuple[float, float]]] = {}  # market rule -> increments
        self._sec_types: dict[int, str] = {}
        self._by_local: dict[str, ContractDetails] = {}
        self._tickers: dict[int, Any] = {}
        self._pnl: Any = None
        self._anchor: tuple[datetime, float] | None = None
        self.clock_speed = 1.0  # simulated seconds per wall second: 1 unless a rehearsal says
        self._last_now: datetime | None = None
        self._link_down = ""  # IB's text while the gateway has lost IB (1100 / 2110)
        self._resync_due = 0  # 1101 or 1102 after a restoration, until resynced
        self._link_lost = self._link_back = ""  # what IB said when it went and came back

    # ------------------------------------------------------------------------ plumbing
    def _require(self) -> tuple[LoopThread, Any]:
        if self._loop is None or self._ib is None or not self._loop.alive:
            raise BrokerError(f"the IB broker ({self.host}:{self.port}, client id "
                              f"{self.client_id}) is not connected: call connect() first")
        return self._loop, self._ib

    def _run(self, make: Callable[[], Awaitable[T]], what: str,
             timeout: float | None = None) -> T:
        """One request on the loop; errors become BrokerErrors that say what failed."""
        loop, _ = self._require()
        timeout = self.settings.request_timeout_seconds if timeout is None else timeout
        lib = _lib()
        for attempt in (1, 2):
            try:
                return loop.run(make, timeout)
            except TimeoutError:
                raise BrokerError(f"IB did not answer {what} within {timeout:g} s "
                                  f"({self.host}:{self.port}, client id {self.client_id})"
                                  ) from None
            except lib.RequestError as exc:
                hint = f": {READ_ONLY_HINT}" if exc.code == 321 and "Read-Only" in exc.message \
                    else ""
                raise BrokerError(f"IB refused {what}: error {exc.code}: {exc.message}{hint}") \
                    from None
            except ConnectionError as exc:
                if attempt == 2 or self._closing:
                    raise BrokerError(f"the connection to IB broke during {what}: {exc}") \
                        from None
                self._ensure()  # the drop happened mid-request: reconnect, resync, ask again
        raise AssertionError("unreachable")

    def _call(self, fn: Callable[[], T], timeout: float = 30.0) -> T:
        loop, _ = self._require()
        return loop.call(fn, timeout)

    def _ensure(self) -> Any:
        """The IB object, connected: reconnect (and resync) first if the connection dropped."""
        _, ib = self._require()
        if ib.isConnected():
            if self._resync_due:
                self._resync()
            return ib
        self.events.append(("reconnecting", "", f"{self.host}:{self.port}"))
        try:
            self._open_session(first=False)
        except BrokerError as exc:
            raise BrokerError(f"the connection to IB at {self.host}:{self.port} (client id "
                              f"{self.client_id}) was lost and could not be re-established: "
                              f"{exc}") from None
        self.events.append(("reconnected", "", f"{self.host}:{self.port}"))
        return self._ib

    # ------------------------------------------------------------------- connection
    def connect(self) -> None:
        if self.is_connected():
            return
        if not self.verdict.allowed:
            raise BrokerError(f"refused before connecting to {self.host}:{self.port}: "
                              f"{self.verdict.reason}")
        self._closing = False
        self._loop = LoopThread()
        self._loop.start()
        try:
            self._ib = self._loop.call(self._make_ib)
            self._open_session(first=True)
        except BaseException:
            self._teardown()
            raise

    def _make_ib(self) -> Any:
        ib = _lib().IB()
        ib.RaiseRequestErrors = True
        ib.execDetailsEvent += self._on_exec
        ib.commissionReportEvent += self._on_commission
        ib.orderStatusEvent += self._on_status
        ib.errorEvent += self._on_error
        ib.disconnectedEvent += self._on_disconnected
        return ib

    def _open_session(self, first: bool) -> None:
        self.clock_speed = 1.0  # until this session's gateway says otherwise
        self._connect_with_retries()
        try:
            self._after_connect(first)
        except BaseException:
            self._call(self._ib.disconnect, 10)
            raise

    def _connect_with_retries(self) -> None:
        s = self.settings
        assert self._loop is not None
        delay, reason = s.retry_backoff_seconds, ""
        for attempt in range(1, s.connect_attempts + 1):
            self._connect_errors.clear()
            try:
                self._loop.run(self._connect_once, 4 * s.connect_timeout_seconds + 5)
                return
            except Exception as exc:
                with contextlib.suppress(Exception):
                    self._loop.call(self._ib.disconnect, 10)
                reason = self._explain(exc)
                self.events.append(("connect-failed", "", reason))
                if self._client_id_in_use():
                    raise BrokerError(reason) from None  # the same id would be refused again
            if attempt < s.connect_attempts:
                time.sleep(delay)
                delay = min(2 * delay, 30.0)
        raise BrokerError(f"could not connect to IB at {self.host}:{self.port} with client id "
                          f"{self.client_id} after {s.connect_attempts} attempt(s): {reason}")

    async def _connect_once(self) -> None:
        """One connection attempt; an IB error 326 ends it at once (ib_insync would wait out
        its timeout on the closed socket)."""
        s = self.settings
        task = asyncio.ensure_future(self._ib.connectAsync(
            self.host, self.port, self.client_id, timeout=s.connect_timeout_seconds,
            account=s.account))
        while not task.done():
            if self._client_id_in_use():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
                raise ConnectionRefusedError(f"IB error {CLIENT_ID_IN_USE}")
            await asyncio.sleep(0.02)
        task.result()

    def _client_id_in_use(self) -> bool:
        return any(e.startswith(f"{CLIENT_ID_IN_USE}:") for e in self._connect_errors)

    def _explain(self, exc: BaseException) -> str:
        said = f"; IB said: {' | '.join(self._connect_errors)}" if self._connect_errors else ""
        if self._client_id_in_use():
            return (f"IB refused the connection to {self.host}:{self.port} with error "
                    f"{CLIENT_ID_IN_USE}: client id {self.client_id} is already in use by "
                    "another API session. Close that session (another notebook, cron run or "
                    "TWS API client), or run with another client id (-p client_id N); nothing "
                    "was sent")
        t = self.settings.connect_timeout_seconds
        if isinstance(exc, ConnectionRefusedError):
            return (f"nothing is listening on {self.host}:{self.port} (connection refused): "
                    f"start IB Gateway or TWS with API socket connections enabled on port "
                    f"{self.port}, or `hydra sim-gateway --port {self.port}` to rehearse")
        if isinstance(exc, TimeoutError):
            return (f"{self.host}:{self.port} accepted the connection but the API session did "
                    f"not start within {t:g} s: the gateway may be waiting at its login, "
                    f"two-factor or 'existing session' dialog, or client id {self.client_id} "
                    f"is already in use by another connection{said}")
        return f"{type(exc).__name__}: {exc}{said}"

    def _after_connect(self, first: bool) -> None:
        ib = self._ib
        accounts = self._call(lambda: list(ib.managedAccounts()))
        wanted = self.settings.account
        if wanted and wanted not in accounts:
            raise BrokerError(f"[ib] account {wanted} is not managed by this IB login "
                              f"(it manages {', '.join(accounts) or 'none'})")
        if not wanted and len(accounts) != 1:
            raise BrokerError(f"this IB login manages {len(accounts)} accounts "
                              f"({', '.join(accounts)}): set [ib] account in hydra.toml to the "
                              "one Hydra trades")
        account = wanted or accounts[0]
        if not first and account != self.account_id:
            raise BrokerError(f"reconnected to account {account}, not {self.account_id}")
        verdict = safety_verdict("ib", self.port, self.confirm_live, account=account)
        if not verdict.allowed:
            raise BrokerError(f"connected to {self.host}:{self.port} but refused before any "
                              f"order: {verdict.reason}")
        self.verdict, self.account_id = verdict, account
        with self._lock:
            self._tickers.clear()
            self._md_errors.clear()
        self._link_down, self._resync_due = "", 0  # a new session: ib_insync just resynced
        self._call(lambda: ib.reqMarketDataType(self.settings.market_data_type))
        self._pnl = self._call(lambda: ib.reqPnL(account))
        self._sync_time()
        self._collect_fills()
        self.events.append(("connected", account, f"{self.host}:{self.port} "
                                                  f"client {self.client_id}"))

    def close(self) -> None:
        self._closing = True
        self._teardown()

    def _teardown(self) -> None:
        loop, ib = self._loop, self._ib
        if loop is not None and loop.alive and ib is not None:
            def shutdown() -> None:
                if ib.isConnected():
                    for ticker in list(self._tickers.values()):
                        with contextlib.suppress(Exception):
                            ib.cancelMktData(ticker.contract)
                    if self.account_id and self._pnl is not None:
                        with contextlib.suppress(Exception):
                            ib.cancelPnL(self.account_id)
                ib.disconnect()
            with contextlib.suppress(Exception):
                loop.call(shutdown, 10)
        if loop is not None:
            loop.stop()
        self._loop, self._ib, self._pnl = None, None, None
        self._tickers.clear()
        self._anchor = None

    def is_connected(self) -> bool:
        return self._ib is not None and self._loop is not None and self._loop.alive \
            and self._ib.isConnected()

    # ---------------------------------------------------------------- events (loop thread)
    def _on_exec(self, trade: Any, fill: Any) -> None:
        rec = _fill_rec(fill)
        self._store_fill(rec)
        self.events.append(("execDetails", rec.order_ref,
                            f"{rec.side} {rec.shares:g} @ {rec.price:g} ({rec.exec_id})"))

    def _on_commission(self, trade: Any, fill: Any, report: Any) -> None:
        rec = _fill_rec(fill)
        self._store_fill(rec)
        self.events.append(("commissionReport", rec.order_ref,
                            f"{report.commission:g} {report.currency} ({rec.exec_id})"))

    def _on_status(self, trade: Any) -> None:
        snap = _trade_snap(trade)
        with self._lock:
            meta = self._pending.get((snap.client_id, snap.order_id))
            if meta is not None and snap.perm_id:
                meta.perm_id = snap.perm_id
                self._orders[snap.perm_id] = meta
            meta = meta or self._orders.get(snap.perm_id)
            if meta is not None:
                meta.updated_at = self._estimate_now()
        self.events.append(("orderStatus", snap.order_ref,
                            f"{snap.status} filled {snap.filled:g}/{snap.quantity:g}"))

    def _on_error(self, req_id: int, code: int, text: str, contract: Any) -> None:
        # logged by the caller's thread (_await_link, _resync): a notebook shows a kernel's
        # output only from the thread running the cell, not from ib_insync's loop thread
        if code in LINK_DOWN:
            with self._lock:
                self._link_down = self._link_lost = f"error {code}: {text}"
        elif code in LINK_UP:
            with self._lock:  # resync due before the link reads as up: no stale read between
                # a 1101 (data lost) is never downgraded by a later 1102 before the resync
                due = 1101 if 1101 in (code, self._resync_due) else code
                self._resync_due, self._link_back = due, f"error {code}: {text}"
                self._link_down = ""
        if req_id == -1 and not (2100 <= code < 2200):
            self._connect_errors.append(f"{code}: {text}")
        speed = announced_speed(code, text, self.port) if req_id == -1 else None
        if speed is not None:
            self.clock_speed = speed
        if req_id > 0 and code == 202:
            with self._lock:
                self._cancel_notes[req_id] = f"IB error 202: {text}"
        if req_id > 0 and code not in NOT_REJECTIONS and not (2100 <= code < 2200):
            hint = f" ({READ_ONLY_HINT})" if code == 321 and "Read-Only" in text else (
                f" ({ORDER_ERROR_HINTS[code]})" if code in ORDER_ERROR_HINTS else "")
            with self._lock:
                self._order_errors[req_id] = f"IB error {code}: {text}{hint}"
                self._md_errors[req_id] = f"IB error {code}: {text}"
        self.events.append(("error", str(req_id), f"{code}: {text}"))

    def _on_disconnected(self) -> None:
        if not self._closing:
            self.events.append(("disconnected", "", f"{self.host}:{self.port}"))

    def _store_fill(self, rec: _FillRec) -> None:
        with self._lock:
            old = self._fills.get(rec.exec_id)
            if old is not None and rec.commission is None:
                rec.commission, rec.currency = old.commission, old.currency
            self._fills[rec.exec_id] = rec

    def _collect_fills(self) -> None:
        """Copy every fill ib_insync holds (live and swept) into this object's own store."""
        _, ib = self._require()
        for rec in self._call(lambda: [_fill_rec(f) for f in ib.fills()]):
            self._store_fill(rec)

    # ------------------------------------------------------------------------- link state
    def _await_link(self, what: str) -> None:
        """While IB Gateway has lost IB (1100, 2110) nothing is sent: wait (bounded) for it to
        come back, resync, then go on; else stop with what happened and what to do."""
        if not self._link_down:
            return
        down, bound = self._link_down, self.settings.link_wait_seconds
        self.events.append(("link-wait", "", down))
        log.warning("IB Gateway lost its connection to IB (%s): no order will be sent until "
                    "it is restored (waiting up to %g s)", down, bound)
        deadline = time.monotonic() + bound
        while self._link_down and time.monotonic() < deadline:
            if not self.is_connected():
                break  # the socket itself dropped: _ensure reconnects and resyncs
            time.sleep(LINK_POLL_SECONDS)
        if self._link_down and self.is_connected():
            raise BrokerError(f"IB Gateway ({self.host}:{self.port}) reports its connection to "
                              f"IB's servers is down ({down}) and it was not restored within "
                              f"{bound:g} s: stopped before {what}, nothing further sent. Check "
                              "the gateway's network and login, then rerun the cycle: it "
                              "resumes from the journal")
        self._ensure()

    def _resync(self) -> None:
        """After 1101/1102: reload open and completed orders and the day's executions (events
        may have been lost while the link was down); 1101 also lost every market data
        subscription, so the tickers are dropped and re-requested on the next quote."""
        with self._lock:  # taken whole: a restoration arriving during this resync is kept
            code, self._resync_due = self._resync_due, 0
        ib = self._ib
        if code == 1101:
            def drop() -> None:
                for ticker in list(self._tickers.values()):
                    with contextlib.suppress(Exception):
                        ib.cancelMktData(ticker.contract)
                self._tickers.clear()
            with self._lock:
                self._md_errors.clear()
            self._call(drop)
        self._refresh_orders()
        lib = _lib()
        self._run(lambda: ib.reqExecutionsAsync(lib.ExecutionFilter()), "reqExecutions")
        self._collect_fills()
        self._run(ib.reqPositionsAsync, "positions")
        self._sync_time()
        detail = (f"after IB error {code}: resynced open/completed orders, positions and "
                  f"{len(self._fills)} execution(s)"
                  + ("; market data resubscribed" if code == 1101 else ""))
        self.events.append(("resynced", "", detail))
        log.warning("IB Gateway lost its connection to IB (%s) and it was restored (%s): %s",
                    self._link_lost or "no loss reported", self._link_back, detail)

    # ------------------------------------------------------------------------------ time
    def _sync_time(self) -> None:
        _, ib = self._require()
        t0 = time.monotonic()
        server = self._run(ib.reqCurrentTimeAsync, "reqCurrentTime")
        t1 = time.monotonic()
        # IB reports whole seconds: the true time is on average half a second later
        self._anchor = (server.astimezone(UTC) + timedelta(seconds=0.5), (t0 + t1) / 2)

    def _estimate_now(self) -> datetime:
        if self._anchor is None:
            return datetime.now(UTC)
        base, mono = self._anchor
        return base + timedelta(seconds=(time.monotonic() - mono) * self.clock_speed)

    def now(self) -> datetime:
        """IB's current time (the simulated time against `hydra sim-gateway`)."""
        if self._anchor is None or time.monotonic() - self._anchor[1] > TIME_RESYNC_SECONDS:
            self._ensure()
            self._sync_time()
        t = self._estimate_now()
        with self._lock:
            if self._last_now is not None and t < self._last_now:
                t = self._last_now
            self._last_now = t
        return t

    # ------------------------------------------------------------------ account & positions
    def account_state(self) -> AccountState:
        self._await_link("reading the account")  # values pushed while IB was away are stale
        ib = self._ensure()
        account = self.account_id
        values = self._call(lambda: [(v.tag, v.value, v.currency)
                                     for v in ib.accountValues(account)])

        def pick(tag: str, required: bool = True) -> float:
            found = {cur: val for t, val, cur in values if t == tag}
            for cur in ("USD", "BASE", ""):
                if cur in found:
                    try:
                        return float(found[cur])
                    except ValueError:
                        break
            if required:
                raise BrokerError(f"IB reported no {tag} for account {account} (got tags "
                                  f"{sorted({t for t, _, _ in values})[:12]})")
            return 0.0

        daily = self._daily_pnl()
        return AccountState(
            account_id=account or "", currency="USD",
            net_liquidation=pick("NetLiquidation"), cash=pick("TotalCashValue"),
            realized_pnl=pick("RealizedPnL", False), unrealized_pnl=pick("UnrealizedPnL", False),
            daily_pnl=daily, time=self.now(),
        )

    def _daily_pnl(self) -> float:
        pnl = self._pnl

        async def wait() -> float:
            deadline = time.monotonic() + PNL_WAIT_SECONDS
            while math.isnan(float(pnl.dailyPnL)) and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            return float(pnl.dailyPnL)

        value = self._run(wait, "reqPnL", PNL_WAIT_SECONDS + 5)
        if math.isnan(value):
            raise BrokerError(f"IB did not report the daily P&L (reqPnL) for account "
                              f"{self.account_id} within {PNL_WAIT_SECONDS:g} s")
        return value

    def positions(self) -> list[Position]:
        self._await_link("reading positions")
        ib = self._ensure()
        account = self.account_id

        def read() -> tuple[list[tuple[int, float, float]], dict[int, tuple[float, ...]]]:
            pos = [(int(p.contract.conId), float(p.position), float(p.avgCost))
                   for p in ib.positions(account)]
            port = {int(i.contract.conId): (float(i.marketPrice), float(i.unrealizedPNL),
                                            float(i.realizedPNL)) for i in ib.portfolio(account)}
            return pos, port

        rows, portfolio = self._call(read)
        out = []
        for con_id, qty, avg_cost in rows:
            if qty == 0:
                continue
            c = self._contract_by_con_id(con_id)
            mark, unrealized, realized = portfolio.get(con_id, (math.nan, math.nan, 0.0))
            avg_price = avg_cost / c.point_value  # IB's avgCost is per contract, in dollars
            if math.isnan(unrealized) and not math.isnan(mark):
                unrealized = (mark - avg_price) * qty * c.point_value
            out.append(Position(account_id=account or "", symbol=c.symbol,
                                local_symbol=c.local_symbol, con_id=con_id, quantity=int(qty),
                                avg_price=avg_price, market_price=mark,
                                point_value=c.point_value, unrealized_pnl=unrealized,
                                realized_pnl=realized))
        return out

    # ------------------------------------------------------------------------ contracts
    def _details(self, contract: Any, what: str) -> list[Any]:
        ib = self._ensure()
        try:
            return list(self._run(lambda: ib.reqContractDetailsAsync(contract), what))
        except BrokerError as exc:
            if "error 200" in str(exc):  # "No security definition has been found"
                return []
            raise

    def contract_details(self, symbol: str, as_of: date) -> ContractDetails:
        try:
            market = get_market(symbol)
        except UnknownMarketError as exc:
            raise BrokerError(str(exc)) from exc
        want = front_contract(market, as_of)
        lib = _lib()
        raw = self._details(lib.Future(symbol=market.symbol, exchange=market.exchange,
                                       currency=market.currency),
                            f"contract details for {market.symbol} futures")
        futs = [d for d in raw if d.contract.secType == "FUT"]
        if not futs:
            raise BrokerError(f"IB has no FUT contracts for {market.symbol} on "
                              f"{market.exchange} ({market.currency}); check the symbol and "
                              "exchange in hydra/conf/markets.toml (hogs trade on CME, grains "
                              "on CBOT)")
        hits = [d for d in futs if _month_of(d) == want.contract_month]
        if len(hits) > 1:
            ids = ", ".join(str(d.contract.conId) for d in hits)
            raise BrokerError(f"IB's contract details for {market.symbol} {want.contract_month} "
                              f"({want.local_symbol}) are ambiguous: {len(hits)} FUT contracts "
                              f"match (conIds {ids}). Hydra will not guess which one to trade; "
                              "nothing was sent. Look the month up at IB (exchange, trading "
                              "class) and fix the market's entry in hydra/conf/markets.toml")
        if len(hits) != 1:
            offered = ", ".join(sorted({_month_of(d) for d in futs}))
            raise BrokerError(f"IB lists {market.symbol} contract months {offered}; Hydra's "
                              f"roll rule wants {want.contract_month} ({want.local_symbol}) on "
                              f"{as_of} and found {len(hits)} matching contract(s)")
        return self._adopt(market, hits[0])

    def _adopt(self, market: Market, d: Any) -> ContractDetails:
        """A Hydra contract from IB's details, cross-checked against the registry."""
        c = d.contract
        magnifier = int(d.priceMagnifier or 1)
        tick = round(float(d.minTick) * magnifier, 10)
        multiplier = float(c.multiplier or 0)
        month = _month_of(d)
        ours = hydra_contract(market, int(month[:4]), int(month[4:6]))
        ltd = _ib_date(d.realExpirationDate or c.lastTradeDateOrContractMonth)
        problems = []
        if not math.isclose(tick, market.tick, rel_tol=1e-9):
            problems.append(f"minTick {d.minTick} x priceMagnifier {magnifier} = {tick:g}, but "
                            f"the registry's tick is {market.tick:g}")
        if multiplier != market.multiplier:
            problems.append(f"multiplier {c.multiplier}, registry {market.multiplier:g}")
        if magnifier != market.price_magnifier:
            problems.append(f"priceMagnifier {magnifier}, registry {market.price_magnifier}")
        if ltd is not None and ltd != ours.last_trade_date:
            problems.append(f"last trade date {ltd}, but the registry rule "
                            f"({market.last_trade_rule}) gives {ours.last_trade_date}")
        problems += check_sessions(market, d)
        problems += self._rule_disagreements(market, d)
        if problems:
            raise BrokerError(f"IB's {c.localSymbol or market.symbol} (conId {c.conId}) "
                              f"disagrees with hydra/conf/markets.toml: {'; '.join(problems)}. "
                              "Fix the registry before trading: refusing rather than pricing "
                              "orders on the wrong grid or rolling on the wrong day")
        hc = ContractDetails(
            symbol=market.symbol, local_symbol=ours.local_symbol, contract_month=month,
            con_id=int(c.conId), exchange=c.exchange or market.exchange,
            currency=c.currency or market.currency, multiplier=multiplier,
            price_magnifier=magnifier, tick=tick, last_trade_date=ltd or ours.last_trade_date,
            first_notice_date=ours.first_notice_date, timezone=market.timezone,
        )
        with self._lock:
            self._contracts[hc.con_id] = hc
            self._sec_types[hc.con_id] = c.secType
            self._by_local[hc.local_symbol] = hc
        return hc

    def _rule_disagreements(self, market: Market, d: Any) -> list[str]:
        """IB's market rule is the price grid it accepts orders on (error 110 off it): its
        increment must be the registry's tick, or every limit Hydra sends is off-grid."""
        first = str(getattr(d, "marketRuleIds", "") or "").split(",")[0].strip()
        if not first.isdigit():
            return []  # no rule id: minTick (checked above) is the only grid IB states
        rule = int(first)
        if rule not in self._rules:
            ib = self._ensure()
            increments = self._run(lambda: ib.reqMarketRuleAsync(rule), f"market rule {rule}")
            self._rules[rule] = [(float(p.lowEdge), float(p.increment))
                                 for p in increments or []]
        found = self._rules[rule]
        if not found:
            return [f"IB sent no price increments for market rule {rule}"]
        increment = found[0][1]
        if not market_rule_agrees(increment, market.tick, market.price_magnifier):
            return [f"market rule {rule} increment {increment:g} (from price {found[0][0]:g}) is "
                    f"neither the registry's tick {market.tick:g} nor that tick in minTick "
                    f"units ({market.tick:g} / priceMagnifier {market.price_magnifier} = "
                    f"{market.tick / market.price_magnifier:g})"]
        return []

    def contract_by_local_symbol(self, local_symbol: str) -> ContractDetails:
        local = local_symbol.strip().upper()
        with self._lock:
            if local in self._by_local:
                return self._by_local[local]
        market = _market_for_local(local)
        try:
            today = self._estimate_now().astimezone(ZoneInfo(market.timezone)).date()
            template = contract_from_local_symbol(market, local, today)
        except ValueError as exc:
            raise BrokerError(str(exc)) from exc
        lib = _lib()
        raw = self._details(lib.Future(symbol=market.symbol,
                                       lastTradeDateOrContractMonth=template.contract_month,
                                       exchange=market.exchange, currency=market.currency,
                                       includeExpired=True), f"contract details for {local}")
        hits = [d for d in raw if d.contract.secType == "FUT"
                and _month_of(d) == template.contract_month]
        if len(hits) != 1:
            raise BrokerError(f"IB has {len(hits)} FUT contracts for {local} "
                              f"({market.symbol} {template.contract_month}); expected one")
        return self._adopt(market, hits[0])

    def _contract_by_con_id(self, con_id: int) -> ContractDetails:
        with self._lock:
            if con_id in self._contracts:
                return self._contracts[con_id]
        raw = self._details(_lib().Contract(conId=con_id), f"contract details for conId {con_id}")
        if not raw:
            raise BrokerError(f"IB has no contract details for conId {con_id} (a contract the "
                              "account holds or an order names): IB's contract service may be "
                              "down (look for farm message 2158 in the gateway) or the "
                              "contract expired; nothing was sent")
        if len(raw) != 1:
            raise BrokerError(f"IB returned {len(raw)} contracts for conId {con_id}; nothing "
                              "was sent")
        d = raw[0]
        try:
            return self._adopt(get_market(d.contract.symbol), d)
        except UnknownMarketError:
            c = d.contract
            magnifier = int(d.priceMagnifier or 1)
            hc = ContractDetails(
                symbol=c.symbol, local_symbol=c.localSymbol, contract_month=_month_of(d),
                con_id=con_id, exchange=c.exchange, currency=c.currency,
                multiplier=float(c.multiplier or 1), price_magnifier=magnifier,
                tick=round(float(d.minTick) * magnifier, 10),
                last_trade_date=_ib_date(c.lastTradeDateOrContractMonth) or date.max,
                first_notice_date=None, timezone=d.timeZoneId or "UTC")
            with self._lock:
                self._contracts[con_id] = hc
                self._sec_types[con_id] = c.secType
            return hc

    def _ib_contract(self, c: ContractDetails) -> Any:
        """The IB contract to trade or quote: the dated FUT by conId (never CONTFUT)."""
        with self._lock:
            sec_type = self._sec_types.get(c.con_id)
        if sec_type is None:
            self._contract_by_con_id(c.con_id)
            with self._lock:
                sec_type = self._sec_types.get(c.con_id)
        if sec_type != "FUT":
            raise BrokerError(f"{c.local_symbol} (conId {c.con_id}) is a {sec_type} contract at "
                              "IB; orders and quotes use the dated FUT contract")
        return _lib().Contract(secType="FUT", conId=c.con_id, symbol=c.symbol,
                               exchange=c.exchange, currency=c.currency)

    # ------------------------------------------------------------------ market data
    def quote(self, contract: ContractDetails) -> Quote:
        self._await_link(f"a quote for {contract.local_symbol}")
        ib = self._ensure()
        ib_c = self._ib_contract(contract)
        wait = self.settings.quote_wait_seconds
        tickers, md_errors, lock = self._tickers, self._md_errors, self._lock

        async def read() -> tuple[Any, ...]:
            with lock:
                ticker = tickers.get(contract.con_id)
            if ticker is None:
                ticker = ib.reqMktData(ib_c, "", False, False)
                with lock:
                    tickers[contract.con_id] = ticker
            req_id = ib.wrapper.ticker2ReqId["mktData"].get(ticker, 0)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and req_id not in md_errors and (
                    math.isnan(float(ticker.bid)) or math.isnan(float(ticker.ask))):
                await asyncio.sleep(0.02)
            return (ticker.bid, ticker.ask, ticker.bidSize, ticker.askSize, ticker.last,
                    ticker.close, int(ticker.marketDataType or 1), md_errors.get(req_id, ""))

        bid, ask, bid_size, ask_size, last, close, mdt, error = self._run(
            read, f"a quote for {contract.local_symbol}", wait + 10)
        if error and _price(bid) is None and _price(ask) is None and _price(last) is None:
            raise BrokerError(f"no market data for {contract.local_symbol}: {error}. Without a "
                              "market data subscription use [ib] market_data_type = 3 "
                              "(delayed)")
        now = self.now()
        try:
            live_session = in_session(get_market(contract.symbol), now)
        except UnknownMarketError:
            live_session = _price(bid) is not None and _price(ask) is not None
        return Quote(con_id=contract.con_id, local_symbol=contract.local_symbol, time=now,
                     bid=_price(bid), ask=_price(ask), bid_size=_size(bid_size),
                     ask_size=_size(ask_size), last=_price(last) or _price(close),
                     data_type=DATA_TYPES.get(mdt, "live"),  # type: ignore[arg-type]
                     in_session=live_session)

    def daily_bars(self, contract: ContractDetails, days: int) -> list[Bar]:
        """The last `days` completed daily bars (IB's bar for a session in progress dropped)."""
        if days <= 0:
            return []
        ib = self._ensure()
        ib_c = self._ib_contract(contract)
        calendar_days = math.ceil(days * 7 / 5) + 10
        duration = (f"{calendar_days} D" if calendar_days <= 365
                    else f"{math.ceil(calendar_days / 365)} Y")
        raw = self._run(lambda: ib.reqHistoricalDataAsync(
            ib_c, "", duration, "1 day", "TRADES", True, 1, False, [], timeout=0),
            f"daily bars for {contract.local_symbol}")
        bars = []
        for b in raw:
            day = b.date.date() if isinstance(b.date, datetime) else b.date
            bars.append(Bar(date=day, open=float(b.open), high=float(b.high), low=float(b.low),
                            close=float(b.close), volume=_size(b.volume)))
        try:
            open_day = current_trade_date(get_market(contract.symbol), self.now())
        except UnknownMarketError:
            open_day = None
        complete = [b for b in bars if open_day is None or b.date < open_day]
        return complete[-days:]

    # --------------------------------------------------------------------------- orders
    def place_order(self, request: OrderRequest) -> OrderStatus:
        return self._place(request, resend_allowed=True)

    def _place(self, request: OrderRequest, resend_allowed: bool) -> OrderStatus:
        c = request.contract
        problem = _invalid(request)
        if problem:
            raise BrokerError(f"order {request.order_ref} not sent: {problem}")
        self._await_link(f"order {request.order_ref}")
        ib = self._ensure()
        ib_c = self._ib_contract(c)
        lib = _lib()
        kwargs = {"orderRef": request.order_ref, "tif": request.tif,
                  "account": self.account_id or ""}
        order = (lib.LimitOrder(request.side, request.quantity, float(request.limit_price),
                                **kwargs) if request.order_type == "LMT"
                 else lib.MarketOrder(request.side, request.quantity, **kwargs))
        submitted = self.now()
        pending, lock, client_id = self._pending, self._lock, self.client_id

        def submit() -> int:
            trade = ib.placeOrder(ib_c, order)
            oid = int(trade.order.orderId)
            with lock:
                pending[(client_id, oid)] = _OrderMeta(request.order_ref, submitted, client_id,
                                                       oid)
            return oid

        try:
            oid = self._call(submit)
        except ConnectionError:  # the socket died under placeOrder: UNKNOWN, not "not sent"
            return self._recover_placement(request, resend_allowed)
        self.events.append(("placeOrder", request.order_ref,
                            f"{request.side} {request.quantity} {request.order_type} "
                            f"{request.limit_price if request.limit_price is not None else ''}"))

        async def acked() -> None:
            # IB's own orderStatus, not openOrder's permId: openOrder can come well before the
            # status (a busy gateway), and until then ib_insync shows its placeholder. An
            # orderStatus carries the permId (even one that says PendingSubmit); a lost link
            # is the link wait's to handle
            deadline = time.monotonic() + self.settings.request_timeout_seconds
            while time.monotonic() < deadline:
                trade = ib.wrapper.trades.get((client_id, oid))
                if trade is None or trade.orderStatus.status != "PendingSubmit" \
                        or trade.orderStatus.permId or oid in self._order_errors \
                        or self._link_down:
                    return
                await asyncio.sleep(0.01)

        self._run(acked, f"the acknowledgement of {request.order_ref}",
                  self.settings.request_timeout_seconds + 5)
        if not self.is_connected() and not self._closing:
            return self._recover_placement(request, resend_allowed)
        try:
            return self._status_of(f"{client_id}/{oid}")
        except BrokerError as exc:  # the drop came after the check: the session lost the trade
            if self._closing or not str(exc).startswith("IB does not know order"):
                raise
            return self._recover_placement(request, resend_allowed)

    def _recover_placement(self, request: OrderRequest, resend_allowed: bool) -> OrderStatus:
        """The connection died between placeOrder and IB's acknowledgement, so the order is
        UNKNOWN: it may or may not have reached IB. After reconnecting (ib_insync's start-up
        sync reloads open orders and executions), look it up by its orderRef (unique per
        leg/slice/attempt): IB has it -> adopt it; IB has no order and no execution under that
        ref -> it was never received, so it is sent again once under the same ref. Never twice:
        a second loss during the resend is an error naming the order."""
        ref = request.order_ref
        self.events.append(("placement-unknown", ref, "connection lost before the ack"))
        log.warning("the connection to IB broke while order %s was being placed: looking it up "
                    "by orderRef after reconnecting", ref)
        self._ensure()
        self._refresh_orders()
        ib = self._ib
        snap = self._call(lambda: next((_trade_snap(t) for t in ib.trades()
                                        if t.order.orderRef == ref), None))
        if snap is not None:
            self.events.append(("placement-adopted", ref, f"IB has it ({snap.status})"))
            return self._to_status(snap)
        execs = [e for e in self.executions(ref) if e.order_ref == ref]
        if execs:
            self.events.append(("placement-adopted", ref, f"IB filled it ({execs[0].order_id})"))
            return self._status_of(execs[0].order_id)
        if not resend_allowed:
            raise BrokerError(f"the connection to IB broke twice while order {ref} was being "
                              "placed and IB does not show it: not sending it a third time; "
                              "check it at IB, then rerun the cycle (it resumes from the "
                              "journal)")
        self.events.append(("placement-resent", ref, "IB never received it"))
        log.warning("IB never received order %s (no open or completed order, no execution "
                    "under its ref): sending it again under the same ref", ref)
        return self._place(request, resend_allowed=False)

    def _find(self, order_id: str) -> _TradeSnap | None:
        ib = self._ib

        def find() -> _TradeSnap | None:
            trades = ib.wrapper.trades
            if "/" in order_id:
                cid, oid = (int(x) for x in order_id.split("/", 1))
                trade = trades.get((cid, oid))
                return _trade_snap(trade) if trade is not None else None
            perm = int(order_id)
            trade = ib.wrapper.permId2Trade.get(perm)
            if trade is None:
                trade = next((t for t in trades.values()
                              if t.order.permId == perm or t.orderStatus.permId == perm), None)
            return _trade_snap(trade) if trade is not None else None

        return self._call(find)

    def _status_of(self, order_id: str, refresh: bool = True) -> OrderStatus:
        if not (order_id.isdigit() or "/" in order_id):
            raise BrokerError(f"{order_id!r} is not an IB order id (a permId like 123456789)")
        self._ensure()
        snap = self._find(order_id)
        if snap is None and refresh:
            self._refresh_orders()
            snap = self._find(order_id)
        if snap is None:
            raise BrokerError(f"IB does not know order {order_id} (not open, and not among "
                              "today's completed orders)")
        return self._to_status(snap)

    def _to_status(self, snap: _TradeSnap) -> OrderStatus:
        with self._lock:
            meta = self._orders.get(snap.perm_id) or self._pending.get(
                (snap.client_id, snap.order_id))
            if meta is not None and snap.perm_id and not meta.perm_id:
                meta.perm_id = snap.perm_id
                self._orders[snap.perm_id] = meta
            mine = bool(snap.order_id) and snap.client_id == self.client_id
            error = self._order_errors.get(snap.order_id, "") if mine else ""
            cancel_note = self._cancel_notes.get(snap.order_id, "") if mine else ""
            fills = [f for f in self._fills.values() if snap.perm_id and f.perm_id == snap.perm_id]
        status = STATUS_MAP.get(snap.status, snap.status)
        cancelled_by_us = meta is not None and meta.cancel_requested
        message = snap.log_message
        if error and status in ("Cancelled", "ApiCancelled", "Inactive", "PendingSubmit") \
                and not cancelled_by_us:
            status, message = "Inactive", error  # rejected by IB, not cancelled by anyone
        elif error and not message:
            message = error
        elif status in ("Cancelled", "ApiCancelled") and meta is not None \
                and not cancelled_by_us:
            said = cancel_note or message or "no reason given"
            message = (f"IB cancelled it without Hydra asking ({said}): see the order's log in "
                       "TWS (a price band, margin, the exchange) before rerunning")
        filled = int(snap.filled)
        avg = snap.avg_fill_price or None
        fills = latest_per_stem(fills, lambda f: f.exec_id)  # a correction replaces, never adds
        qty = sum(f.shares for f in fills)
        if fills and qty > 0 and (avg is None or filled < qty):
            filled = max(filled, int(qty))
            avg = sum(f.shares * f.price for f in fills) / qty
        now = self._estimate_now()
        local = self._local_symbol_of(snap.con_id)
        if status not in ("PendingSubmit", "PreSubmitted", "Submitted", "PendingCancel",
                          "Cancelled", "ApiCancelled", "Filled", "Inactive"):
            message = f"IB status {status}; {message}".strip("; ")
            status = "Submitted"
        return OrderStatus(
            order_id=str(snap.perm_id) if snap.perm_id else f"{snap.client_id}/{snap.order_id}",
            order_ref=snap.order_ref, con_id=snap.con_id, local_symbol=local,
            side=snap.action,  # type: ignore[arg-type]
            quantity=int(snap.quantity),
            order_type=snap.order_type,  # type: ignore[arg-type]
            limit_price=snap.limit_price if 0 < snap.limit_price < UNSET_DOUBLE else None,
            status=status,  # type: ignore[arg-type]
            filled=filled, avg_fill_price=avg if filled else None,
            submitted_at=meta.submitted_at if meta else (
                min(f.time for f in fills) if fills else now),
            updated_at=max([(meta.updated_at or meta.submitted_at) if meta else now]
                           + [f.time for f in fills]),
            message=message,
        )

    def _local_symbol_of(self, con_id: int) -> str:
        try:
            return self._contract_by_con_id(con_id).local_symbol
        except BrokerError:
            return str(con_id)

    def _refresh_orders(self) -> None:
        ib = self._ensure()

        async def both() -> None:
            await ib.reqAllOpenOrdersAsync()
            await ib.reqCompletedOrdersAsync(False)

        self._run(both, "open and completed orders")

    def order_status(self, order_id: str) -> OrderStatus:
        return self._status_of(str(order_id).strip())

    def cancel_order(self, order_id: str) -> OrderStatus:
        status = self._status_of(str(order_id).strip())
        if status.is_done:
            note = f"order {order_id} is already {status.status}; nothing to cancel"
            return OrderStatus(**{**status.__dict__, "message": note})
        ib = self._ensure()
        key = status.order_id

        def cancel() -> None:
            if key.isdigit():
                meta = self._orders.get(int(key))
                trade = ib.wrapper.permId2Trade.get(int(key)) or next(
                    (t for t in ib.wrapper.trades.values() if t.order.permId == int(key)), None)
            else:
                cid, oid = (int(x) for x in key.split("/", 1))
                meta = self._pending.get((cid, oid))
                trade = ib.wrapper.trades.get((cid, oid))
            if trade is None:
                raise BrokerError(f"IB does not know order {key}")
            if meta is not None:
                with self._lock:
                    meta.cancel_requested = True
            ib.cancelOrder(trade.order)

        self._call(cancel)
        self.events.append(("cancelOrder", status.order_ref, key))
        deadline = time.monotonic() + CANCEL_WAIT_SECONDS
        while time.monotonic() < deadline:
            status = self._status_of(key)
            if status.is_done:
                break
            time.sleep(0.02)
        return status

    def orders(self, order_ref_prefix: str | None = None) -> list[OrderStatus]:
        self._refresh_orders()
        ib = self._ib
        snaps = self._call(lambda: [_trade_snap(t) for t in ib.trades()])
        out: dict[str, OrderStatus] = {}
        for snap in snaps:
            if order_ref_prefix and not snap.order_ref.startswith(order_ref_prefix):
                continue
            st = self._to_status(snap)
            out[st.order_id] = st
        return sorted(out.values(), key=lambda s: (s.submitted_at, s.order_id))

    # ------------------------------------------------------------------------ executions
    def executions(self, order_ref_prefix: str | None = None,
                   since: datetime | None = None) -> list[Execution]:
        """Every fill IB reports today (reqExecutions sweep) plus every fill seen by events."""
        if since is not None and since.tzinfo is None:
            raise BrokerError(f"executions(since=...) needs a timezone-aware time, got {since}")
        ib = self._ensure()
        lib = _lib()
        self._run(lambda: ib.reqExecutionsAsync(lib.ExecutionFilter()), "reqExecutions")
        self._collect_fills()
        with self._lock:
            recs = list(self._fills.values())
        out = []
        for r in recs:
            if self.account_id and r.account and r.account != self.account_id:
                continue
            if order_ref_prefix and not r.order_ref.startswith(order_ref_prefix):
                continue
            if since is not None and r.time < since:
                continue
            out.append(self._to_execution(r))
        return sorted(out, key=lambda e: (e.time, e.exec_id))

    def _to_execution(self, r: _FillRec) -> Execution:
        try:
            c = self._contract_by_con_id(r.con_id)
            symbol, local = c.symbol, c.local_symbol
        except BrokerError:
            symbol, local = r.symbol, r.ib_local_symbol
        return Execution(
            exec_id=r.exec_id, order_id=str(r.perm_id), order_ref=r.order_ref,
            account_id=r.account, symbol=symbol, local_symbol=local, con_id=r.con_id,
            side="BUY" if r.side in ("BOT", "BUY") else "SELL", quantity=int(r.shares),
            price=r.price, time=r.time, commission=r.commission, currency=r.currency or "USD",
        )


class IBClock:
    """The cycle's clock against IB: IB's time, slept through at IB's speed.

    Against a real gateway this is the wall clock. Against `hydra sim-gateway` it is the
    simulated time, so the order manager's deadlines and the session times it compares them
    with come from the same clock (a plain WallClock there would be days away from it), and
    a sleep lasts seconds / --speed of wall time (see hydra.broker.ib.rehearsal).
    """

    def __init__(self, broker: IBBroker) -> None:
        self.broker = broker

    def now(self) -> datetime:
        return self.broker.now()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds) / self.broker.clock_speed)


__all__ = ["IBBroker", "IBClock"]

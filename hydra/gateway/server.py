"""`hydra sim-gateway`: the simulated paper broker spoken over the TWS API socket protocol.

A server on 127.0.0.1 that an unmodified IB API client (ib_insync, ib_async, IB's ibapi)
connects to as if it were IB Gateway: handshake, framing, the start-up requests ib_insync sends
on connect, contract details, market data (live or delayed), daily bars, account values,
P&L, positions, orders with orderRef, order status, executions with commission reports (as
events when they happen, and again on reqExecutions), completed orders. Behind it sits
hydra.broker.sim.broker.SimBroker: the same persistent account and simulated market the embedded
broker uses. It exists so the whole IB path (adapter, notebook, CLI) is tested over a real
socket and an operator can rehearse it without an IB account.

Faithful where the adapter depends on it, simplified elsewhere (documented in place):
- order ids: the client's orderId maps to the simulator's order id, reported as permId; the
  mapping lives in memory, so after a gateway restart old orders come back with orderId 0
  (ib_insync then keys them by permId, as it does manual TWS orders);
- live execDetails/orderStatus go to the client that placed the order and to client id 0;
  reqExecutions returns the current IB day's executions (since midnight US/Eastern), which
  is why a fill nobody swept before then is lost to the API, as at IB;
- the simulator has one price series per market, so every contract month of a market quotes
  and charts the same prices;
- order modification (placeOrder with a used order id), combos, algos, what-if and other order
  types than LMT/MKT are refused with an error, never approximated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from hydra.broker.ib.hours import ib_hours
from hydra.broker.ib.rehearsal import rehearsal_notice
from hydra.broker.sim.broker import SimBroker
from hydra.domain.broker import (
    DONE_STATES,
    BrokerError,
    ContractDetails,
    Execution,
    OrderRequest,
    OrderStatus,
    Position,
)
from hydra.domain.market import MONTH_CODES, Market
from hydra.gateway import messages as msg
from hydra.gateway.faults import parse_faults
from hydra.gateway.messages import (
    LINK_TEXT,
    REJECT_TEXT,
    ExecView,
    IbContract,
    OrderView,
)
from hydra.gateway.protocol import (
    HEADER,
    MAX_MESSAGE,
    Cursor,
    HistoricalRequest,
    In,
    ProtocolError,
    WireContract,
    decode,
    duration_days,
    encode,
    negotiate,
    parse_exec_filter,
    parse_historical,
    parse_mkt_data,
    parse_place_order,
    parse_version_range,
)
from hydra.reference.contracts import contract as hydra_contract
from hydra.reference.contracts import contract_from_local_symbol, listed_months
from hydra.reference.markets import UnknownMarketError, get_market, load_registry

log = logging.getLogger("hydra.sim_gateway")
T = TypeVar("T")

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
IB_DAY_ZONE = ZoneInfo("America/New_York")
MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV",
               "DEC")
IB_ZONE_IDS = {"America/Chicago": "US/Central", "America/New_York": "US/Eastern"}
LISTED_MONTHS_AHEAD = 24
# IB's tick types: (bid, ask, last, close) prices and (bid, ask, last) sizes, live and delayed
LIVE_TICKS = ((1, 2, 4, 9), (0, 3, 5))
DELAYED_TICKS = ((66, 67, 68, 75), (69, 70, 71))
FARM_MESSAGES = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefnj"),
)


class ScaledClock:
    """Wall time since start, times `speed`, from a fixed start (the rehearsal clock)."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("ScaledClock needs a timezone-aware start time")
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.start, self.speed = start.astimezone(UTC), float(speed)
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds) / self.speed)


@dataclass(frozen=True)
class GatewayOptions:
    market_data: str = "live"  # "live": real-time data for every market; "delayed": only
    #                            delayed (type 3) data, 15 minutes old, as for an account
    #                            without market data subscriptions
    read_only: bool = False  # emulate IB Gateway's "Read-Only API" setting (error 321)
    handshake_delay: float = 0.0  # seconds to stall before answering the handshake (tests)
    poll_seconds: float = 0.2  # how often the simulator is checked for fills and quotes
    delayed_minutes: int = 15
    faults: frozenset[str] = frozenset()  # names from FAULTS (none: a faithful gateway)
    restore_seconds: float = 4.0  # link faults: wall seconds from 1100 to 1101/1102 (long
    #                              enough that the client's next request meets the outage)

    def __post_init__(self) -> None:
        if self.market_data not in ("live", "delayed"):
            raise ValueError(f"market_data must be 'live' or 'delayed', not {self.market_data!r}")
        object.__setattr__(self, "faults", parse_faults(self.faults))


# --------------------------------------------------------------------------- contracts
def ib_local_symbol(c: ContractDetails) -> str:
    """IB-style local symbol ('ZO   MAR 27'): deliberately not Hydra's 'ZOH7'."""
    year, month = int(c.contract_month[:4]), int(c.contract_month[4:])
    return f"{c.symbol:<5}{MONTH_NAMES[month - 1]} {year % 100:02d}"


MARKET_RULE_BASE = 2000


def market_rules() -> dict[int, float]:
    """IB-style market rule ids: one per distinct minTick in the registry (stable).

    The increment is in minTick (exchange) units, as clients that trade on real IB read it
    (the order-price grid is increment x priceMagnifier: 0.0025 x 100 = 0.25 cents for ZO);
    the gateway rejects prices off that grid with error 110.
    """
    ticks = sorted({_min_tick(m.tick, m.price_magnifier) for m in load_registry().values()})
    return {MARKET_RULE_BASE + i: t for i, t in enumerate(ticks)}


def _min_tick(tick: float, magnifier: int) -> float:
    return round(tick / magnifier, 12)


def market_rule_id(tick: float, magnifier: int) -> int:
    min_tick = _min_tick(tick, magnifier)
    return next(i for i, t in market_rules().items() if abs(t - min_tick) < 1e-15)


def to_ib(c: ContractDetails, market: Market, sec_type: str = "FUT") -> IbContract:
    mult = int(c.multiplier) if float(c.multiplier).is_integer() else c.multiplier
    month = int(c.contract_month[4:])
    return IbContract(
        con_id=c.con_id, symbol=c.symbol, sec_type=sec_type,
        last_trade_date=f"{c.last_trade_date:%Y%m%d}", multiplier=str(mult),
        exchange=c.exchange, currency=c.currency, local_symbol=ib_local_symbol(c),
        trading_class=c.symbol, contract_month=c.contract_month,
        min_tick=_min_tick(c.tick, c.price_magnifier), price_magnifier=c.price_magnifier,
        long_name=f"{market.name} {MONTH_CODES[month - 1]}{c.contract_month[:4]}",
        time_zone=IB_ZONE_IDS.get(c.timezone, c.timezone),
        market_rule_id=market_rule_id(c.tick, c.price_magnifier),
    )


# ------------------------------------------------------------------------------- sessions
@dataclass
class _MktSub:
    contract: ContractDetails
    served: int  # market data type actually served: 1 live, 3 delayed
    last: tuple[Any, ...] | None = None


@dataclass
class Session:
    """One connected API client."""

    number: int
    writer: asyncio.StreamWriter
    peer: str
    version: int = 0
    client_id: int | None = None
    md_type: int = 1
    mkt: dict[int, _MktSub] = field(default_factory=dict)
    account_updates: bool = False
    positions: bool = False
    pnl: set[int] = field(default_factory=set)
    pnl_single: dict[int, int] = field(default_factory=dict)  # reqId -> conId
    sent_positions: dict[int, tuple[int, float]] = field(default_factory=dict)
    sent_values: dict[str, str] = field(default_factory=dict)

    def send(self, fields: Iterable[object]) -> None:
        if not self.writer.is_closing():
            self.writer.write(encode(msg.for_version(list(fields), self.version)))

    @property
    def closed(self) -> bool:
        return self.writer.is_closing()


class TwsServer:
    """The simulated IB Gateway (see the module docstring). One event loop, one SimBroker."""

    def __init__(self, broker: SimBroker, *, host: str = "127.0.0.1", port: int = 0,
                 options: GatewayOptions | None = None) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"the simulated gateway listens on the loopback interface only, "
                             f"not {host!r}")
        self.sim = broker
        self.host, self._port = host, int(port)
        self.options = options or GatewayOptions()
        self.account = broker.account_id
        self.requests: deque[tuple[int | None, int]] = deque(maxlen=5000)  # (client, msg id)
        self._sessions: dict[int, Session] = {}
        self._numbers = 0
        self._placed = 0  # placeOrder messages received (the die-at-order-N faults count them)
        self._owners: dict[int, tuple[int, int]] = {}  # permId -> (clientId, orderId)
        self._by_client: dict[tuple[int, int], int] = {}
        self._next_id: dict[int, int] = {}
        self._watch: dict[int, tuple[str, int]] = {}  # working permId -> last status sent
        self._seen_exec: set[str] = set()
        self._exec_since: datetime | None = None
        self._contracts: dict[int, tuple[IbContract, ContractDetails]] = {}
        self._last_slow = 0.0
        self._server: asyncio.base_events.Server | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self._owners_db: Path | None = None
        self._link: str = ""  # "" up; "down" while an injected outage lasts; "done" after
        self._restore_at = 0.0
        db = getattr(broker, "db_path", None)
        if db is not None:
            self._owners_db = Path(db).with_name("gateway_owners.sqlite")
            self._load_owners()

    # ---------------------------------------------------------------- order ownership
    def _load_owners(self) -> None:
        """Which API client placed which order, kept across gateway restarts: IB keeps an
        order's (clientId, orderId) server-side, so after a restart the client that placed it
        can still cancel it by its orderId (else: error 135, and the order works on)."""
        assert self._owners_db is not None
        self._owners_db.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(self._owners_db) as con:
            con.execute("CREATE TABLE IF NOT EXISTS owners (perm_id INTEGER PRIMARY KEY, "
                        "client_id INTEGER NOT NULL, order_id INTEGER NOT NULL)")
            for perm, cid, oid in con.execute("SELECT perm_id, client_id, order_id FROM owners"):
                self._remember(perm, cid, oid)

    def _remember(self, perm: int, client_id: int, order_id: int) -> None:
        self._owners[perm] = (client_id, order_id)
        self._by_client[(client_id, order_id)] = perm
        self._next_id[client_id] = max(self._next_id.get(client_id, 1), order_id + 1)

    def _own(self, perm: int, client_id: int, order_id: int) -> None:
        self._remember(perm, client_id, order_id)
        if self._owners_db is not None:
            with sqlite3.connect(self._owners_db) as con:
                con.execute("INSERT OR REPLACE INTO owners VALUES (?, ?, ?)",
                            (perm, client_id, order_id))

    # ------------------------------------------------------------------------ lifecycle
    @property
    def port(self) -> int:
        return self._port

    async def start_async(self) -> None:
        """Open the account and start listening (call on the loop that will serve)."""
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self.sim.connect()
        try:
            self._prime()
            self._server = await asyncio.start_server(self._on_client, self.host, self._port)
        except BaseException:
            self.sim.close()
            raise
        self._port = self._server.sockets[0].getsockname()[1]
        self._poll_task = asyncio.create_task(self._poll_loop())
        log.info("sim-gateway listening on %s:%d for account %s", self.host, self._port,
                 self.account)

    async def stop_async(self) -> None:
        if self._poll_task is not None:
            self._poll_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._poll_task
            self._poll_task = None
        if self._server is not None:
            self._server.close()
            for s in list(self._sessions.values()):
                s.writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None
        self.sim.close()
        if self._stopped is not None:
            self._stopped.set()

    async def serve_until_stopped(self) -> None:
        """Start, then serve until stop is requested (the CLI's main coroutine)."""
        await self.start_async()
        assert self._stopped is not None
        try:
            await self._stopped.wait()
        finally:
            await self.stop_async()

    def request_stop(self) -> None:
        """Thread-safe: ask serve_until_stopped to finish."""
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)

    def start(self, timeout: float = 20.0) -> TwsServer:
        """Serve from a background thread with its own event loop (tests, notebooks)."""
        if self._thread is not None and self._thread.is_alive():
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.stop_async())
                loop.close()

        self._thread = threading.Thread(target=main, name="hydra-sim-gateway", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError(f"the simulated gateway did not start within {timeout} s")
        if failure:
            raise failure[0]
        return self

    def stop(self, timeout: float = 20.0) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = None

    def __enter__(self) -> TwsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, fn: Callable[[], T], timeout: float = 20.0) -> T:
        """Run `fn` on the server's loop thread (tests: inspect state, force a poll)."""
        assert self._loop is not None

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def sync(self, timeout: float = 20.0) -> None:
        """Process the simulator now (fills, statuses, quotes) and flush to clients."""
        self.call(self._poll, timeout)

    def drop_clients(self) -> int:
        """Cut every client's socket, as a network drop or a gateway restart would."""
        def cut() -> int:
            n = 0
            for s in list(self._sessions.values()):
                transport = s.writer.transport
                if not transport.is_closing():
                    transport.abort()
                    n += 1
            return n
        return self.call(cut)

    def connected_clients(self) -> list[int]:
        return self.call(lambda: sorted(s.client_id for s in self._sessions.values()
                                        if s.client_id is not None and not s.closed))

    # ---------------------------------------------------------------------- connections
    async def _on_client(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        self._numbers += 1
        peer = str(writer.get_extra_info("peername"))
        session = Session(self._numbers, writer, peer)
        self._sessions[session.number] = session
        try:
            await self._handshake(session, reader)
            while True:
                header = await reader.readexactly(HEADER.size)
                (size,) = HEADER.unpack(header)
                if size > MAX_MESSAGE:
                    raise ProtocolError(f"message of {size} bytes")
                fields = decode(await reader.readexactly(size))
                if fields:
                    self._dispatch(session, fields)
                await writer.drain()
                if session.closed:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except ProtocolError as exc:
            log.warning("closing %s: %s", peer, exc)
        except Exception:  # a bug here must not kill the gateway: log it, drop the client
            log.exception("error serving %s (client id %s)", peer, session.client_id)
        finally:
            self._sessions.pop(session.number, None)
            writer.close()
            log.info("client id %s (%s) disconnected", session.client_id, peer)

    async def _handshake(self, s: Session, reader: asyncio.StreamReader) -> None:
        prefix = await reader.readexactly(4)
        if prefix != b"API\0":
            raise ProtocolError(f"expected the API handshake, got {prefix!r}")
        (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
        if size > 1024:
            raise ProtocolError("oversized version string")
        text = (await reader.readexactly(size)).decode(errors="replace")
        if self.options.handshake_delay:
            await asyncio.sleep(self.options.handshake_delay)
        s.version = negotiate(*parse_version_range(text))
        now = self.sim.clock.now().astimezone(ZoneInfo("America/Chicago"))
        s.send([s.version, f"{now:%Y%m%d %H:%M:%S} CST"])

    def _dispatch(self, s: Session, fields: list[str]) -> None:
        msg_id = int(fields[0])
        client = s.client_id
        if msg_id == In.START_API and len(fields) > 2 and fields[2].lstrip("-").isdigit():
            client = int(fields[2])
        self.requests.append((client, msg_id))
        if s.client_id is None and msg_id != In.START_API:
            return  # TWS ignores requests before startApi
        handler = self._handlers().get(msg_id)
        if handler is None:
            # answer with the request's id, so a client waiting on it fails fast, not by timeout
            s.send(msg.error(_req_id_guess(fields), 10000 + msg_id % 1000,
                             f"hydra sim-gateway does not support API message {msg_id}"))
            return
        try:
            handler(s, fields)
        except (ProtocolError, ValueError, BrokerError) as exc:
            req_id = _req_id_guess(fields)
            s.send(msg.error(req_id, 321, f"Error validating request: {exc}"))

    def _handlers(self) -> dict[int, Callable[[Session, list[str]], None]]:
        return {
            In.START_API: self._start_api,
            In.REQ_IDS: lambda s, f: s.send(msg.next_valid_id(self._next_order_id(s))),
            In.REQ_MANAGED_ACCTS: lambda s, f: s.send(msg.managed_accounts(self.account)),
            In.REQ_CURRENT_TIME: lambda s, f: s.send(
                msg.current_time(int(self.sim.clock.now().timestamp()))),
            In.REQ_MARKET_DATA_TYPE: self._market_data_type,
            In.REQ_CONTRACT_DATA: self._contract_data,
            In.REQ_MKT_DATA: self._mkt_data,
            In.CANCEL_MKT_DATA: lambda s, f: s.mkt.pop(int(f[2]), None),
            In.REQ_HISTORICAL_DATA: self._historical,
            In.CANCEL_HISTORICAL_DATA: lambda s, f: None,
            In.REQ_POSITIONS: self._positions,
            In.CANCEL_POSITIONS: lambda s, f: setattr(s, "positions", False),
            In.REQ_ACCT_DATA: self._account_updates,
            In.REQ_ACCOUNT_UPDATES_MULTI: self._account_multi,
            In.CANCEL_ACCOUNT_UPDATES_MULTI: lambda s, f: None,
            In.REQ_ACCOUNT_SUMMARY: self._account_summary,
            In.CANCEL_ACCOUNT_SUMMARY: lambda s, f: None,
            In.REQ_PNL: self._pnl,
            In.CANCEL_PNL: lambda s, f: s.pnl.discard(int(f[1])),
            In.REQ_OPEN_ORDERS: lambda s, f: self._open_orders(s, everyone=False),
            In.REQ_ALL_OPEN_ORDERS: lambda s, f: self._open_orders(s, everyone=True),
            In.REQ_AUTO_OPEN_ORDERS: lambda s, f: None,
            In.REQ_COMPLETED_ORDERS: self._completed_orders,
            In.REQ_MARKET_RULE: self._market_rule,
            In.REQ_PNL_SINGLE: self._pnl_single,
            In.CANCEL_PNL_SINGLE: lambda s, f: s.pnl_single.pop(Cursor(f, 1).int(), None),
            In.REQ_EXECUTIONS: self._executions,
            In.PLACE_ORDER: self._place_order,
            In.CANCEL_ORDER: self._cancel_order,
            In.REQ_GLOBAL_CANCEL: self._global_cancel,
        }

    def _start_api(self, s: Session, fields: list[str]) -> None:
        c = Cursor(fields, 2)
        client_id = c.int()
        if self._fault("client-id-326") or any(
                o.client_id == client_id and not o.closed for o in self._sessions.values()
                if o is not s):
            s.send(msg.error(-1, 326, "Unable to connect as the client id is already in use. "
                                      "Retry with a unique client id."))
            s.writer.close()
            return
        s.client_id = client_id
        s.send(msg.next_valid_id(self._next_order_id(s)))
        s.send(msg.managed_accounts(self.account))
        for code, text in FARM_MESSAGES:
            s.send(msg.error(-1, code, text))
        # how fast the simulated clock runs, so the adapter sleeps in simulated seconds
        s.send(msg.error(-1, *rehearsal_notice(getattr(self.sim.clock, "speed", 1.0))))
        log.info("client id %d connected from %s (server version %d)", client_id, s.peer,
                 s.version)

    def _next_order_id(self, s: Session) -> int:
        assert s.client_id is not None
        return self._next_id.get(s.client_id, 1)

    # ------------------------------------------------------------------------ contracts
    def _prime(self) -> None:
        """Remember the account's working orders and executions at start-up."""
        for o in self.sim.orders():
            if o.status not in DONE_STATES:
                self._watch[int(o.order_id)] = (o.status, o.filled)
        for e in self.sim.executions():
            self._seen_exec.add(e.exec_id)
            self._exec_since = max(self._exec_since or e.time, e.time)

    def _register(self, c: ContractDetails) -> IbContract:
        hit = self._contracts.get(c.con_id)
        if hit is None:
            hit = (to_ib(c, get_market(c.symbol)), c)
            self._contracts[c.con_id] = hit
        return hit[0]

    def _by_local(self, symbol: str, local_symbol: str) -> tuple[IbContract, ContractDetails]:
        market = get_market(symbol)
        c = contract_from_local_symbol(market, local_symbol, self._today(market))
        return self._register(c), c

    def _today(self, market: Market) -> date:
        return self.sim.clock.now().astimezone(ZoneInfo(market.timezone)).date()

    def _listing(self, market: Market, include_expired: bool) -> list[ContractDetails]:
        today = self._today(market)
        start = date(today.year - (1 if include_expired else 0), today.month, 1)
        horizon = date(today.year + LISTED_MONTHS_AHEAD // 12, today.month, 1)
        out = []
        for year, month in listed_months(market, start):
            if date(year, month, 1) > horizon:
                break
            c = hydra_contract(market, year, month)
            if include_expired or c.last_trade_date >= today:
                out.append(c)
        return out

    def _match(self, w: WireContract, include_expired: bool = False
               ) -> list[tuple[IbContract, ContractDetails]]:
        if w.con_id:
            hit = self._contracts.get(w.con_id)
            if hit is None:  # a conId from an earlier gateway run: search the listings
                for market in load_registry().values():
                    for c in self._listing(market, True):
                        if c.con_id == w.con_id:
                            hit = (self._register(c), c)
            return [hit] if hit else []
        try:
            market = get_market(w.symbol)
        except UnknownMarketError:
            return []
        if w.sec_type not in ("FUT", "CONTFUT"):
            return []
        if w.exchange and w.exchange not in (market.exchange, "SMART"):
            return []  # e.g. GLOBEX for hogs: IB wants CME
        if w.currency and w.currency != market.currency:
            return []
        listing = self._listing(market, include_expired or w.sec_type == "CONTFUT")
        if w.sec_type == "CONTFUT":
            front = [c for c in listing if c.last_trade_date >= self._today(market)][:1]
            return [(to_ib(c, market, "CONTFUT"), c) for c in front]
        out = []
        for c in listing:
            ib = self._register(c)
            if w.last_trade_or_month and not (
                    ib.last_trade_date.startswith(w.last_trade_or_month)
                    or c.contract_month == w.last_trade_or_month):
                continue
            if w.local_symbol and w.local_symbol not in (ib.local_symbol, c.local_symbol):
                continue
            if w.multiplier and float(w.multiplier) != float(ib.multiplier):
                continue
            out.append((ib, c))
        return out

    def _contract_data(self, s: Session, fields: list[str]) -> None:
        c = Cursor(fields, 2)
        req_id = c.int()
        wire = WireContract.read(c)
        include_expired = c.bool()
        found = [] if self._fault("details-missing") else self._match(wire, include_expired)
        if self._fault("details-ambiguous") and not wire.con_id:  # a conId stays unique
            found = [pair for ib, c in found for pair in (
                (ib, c), (replace(ib, con_id=ib.con_id + 1), replace(c, con_id=c.con_id + 1)))]
        if self._fault("wrong-min-tick"):
            found = [(replace(ib, min_tick=ib.min_tick * 2), c) for ib, c in found]
        if not found:
            s.send(msg.error(req_id, 200, "No security definition has been found for the "
                                          "request"))
            return
        for ib, hc in found:
            market = get_market(hc.symbol)
            trading, liquid = ib_hours(market, self._today(market))
            s.send(msg.contract_data(req_id, replace(ib, trading_hours=trading,
                                                     liquid_hours=liquid)))
        s.send(msg.contract_data_end(req_id))

    def _market_rule(self, s: Session, fields: list[str]) -> None:
        rule_id = Cursor(fields, 1).int()
        increment = market_rules().get(rule_id)
        if increment is None:
            s.send(msg.error(-1, 321, f"Error validating request: unknown market rule {rule_id}"))
            return
        if self._fault("wrong-market-rule"):
            increment *= 2
        s.send(msg.market_rule(rule_id, [(0.0, increment)]))

    def _resolve(self, s: Session, req_id: int, w: WireContract
                 ) -> tuple[IbContract, ContractDetails] | None:
        found = [f for f in self._match(w) if f[0].sec_type == w.sec_type or w.con_id]
        if len(found) != 1:
            s.send(msg.error(req_id, 200, "No security definition has been found for the "
                             "request" if not found else "The contract description specified "
                             "is ambiguous"))
            return None
        return found[0]

    # ----------------------------------------------------------------------- market data
    def _market_data_type(self, s: Session, fields: list[str]) -> None:
        s.md_type = int(fields[2])

    def _mkt_data(self, s: Session, fields: list[str]) -> None:
        req_id, wire, snapshot = parse_mkt_data(fields)
        hit = self._resolve(s, req_id, wire)
        if hit is None:
            return
        ib, c = hit
        if self.options.market_data == "live":
            served = 1
        elif s.md_type in (3, 4):
            served = 3
        else:
            s.send(msg.error(req_id, 354, "Requested market data is not subscribed. Delayed "
                             "market data is available."))
            return
        s.send(msg.tick_req_params(req_id, ib.min_tick))
        s.send(msg.market_data_type(req_id, served))
        sub = _MktSub(c, served)
        self._send_quote(s, req_id, sub)
        if snapshot:
            s.send(msg.tick_snapshot_end(req_id))
        else:
            s.mkt[req_id] = sub

    def _send_quote(self, s: Session, req_id: int, sub: _MktSub) -> None:
        sm = self.sim.market(sub.contract.symbol)
        now = self.sim.clock.now()
        if sub.served == 3:
            now -= timedelta(minutes=self.options.delayed_minutes)
        q = sm.quote_at(now)
        prev = sm.last_completed_trade_date(now)
        close = sm.close(prev) if prev is not None else q.last
        if self._fault("quotes-nan"):
            state = (math.nan, 0, math.nan, 0, q.last, close)
        elif self._fault("quotes-minus-one"):
            state = (-1.0, 0, -1.0, 0, q.last, close)
        elif self._fault("quotes-zero"):
            state = (0.0, 0, 0.0, 0, q.last, close)
        elif q.in_session:
            state = (q.bid, q.bid_size, q.ask, q.ask_size, q.last, close)
        else:  # between sessions IB shows no bid/ask: -1 (a client must treat it as missing)
            state = (-1.0, 0, -1.0, 0, q.last, close)
        if state == sub.last or (sub.last is not None and self._fault("quotes-nan")):
            return
        bid, bid_size, ask, ask_size, last, close = state
        prices, sizes = DELAYED_TICKS if sub.served == 3 else LIVE_TICKS
        # as TWS: each price tick carries its size, and the size follows as its own tickSize
        for price_type, size_type, price, size in zip(
                prices[:3], sizes, (bid, ask, last), (bid_size, ask_size, 1), strict=True):
            if math.isnan(price):
                continue  # nothing sent: the client's field stays NaN
            s.send(msg.tick_price(req_id, price_type, price, size))
            s.send(msg.tick_size(req_id, size_type, size))
        s.send(msg.tick_price(req_id, prices[3], close, 0))
        sub.last = state

    def _historical(self, s: Session, fields: list[str]) -> None:
        r = parse_historical(fields)
        hit = self._resolve(s, r.req_id, r.contract)
        if hit is None:
            return
        _, c = hit
        size = r.bar_size.strip().lower()
        if size not in ("1 day", "1 d", "1day"):
            seconds = INTRADAY_BAR_SECONDS.get(size)
            if seconds is None:
                s.send(msg.error(r.req_id, 162, "Historical Market Data Service error message:"
                                 f"hydra sim-gateway serves 1 day bars and intraday bars of "
                                 f"{', '.join(INTRADAY_BAR_SECONDS)}; not {r.bar_size!r}"))
                return
            self._intraday_historical(s, r, c.symbol, seconds)
            return
        window = self._history_window(s, r)
        if window is None:
            return
        end, days = window
        market = get_market(c.symbol)
        sm = self.sim.market(c.symbol)
        local_end = end.astimezone(ZoneInfo(market.timezone)).date()
        open_day = sm.trade_date_at(end)
        last_done = sm.last_completed_trade_date(end)
        first = local_end - timedelta(days=days)
        rows: list[tuple[str, float, float, float, float, int]] = []
        if last_done is not None:
            for b in sm.bars(first, last_done):
                rows.append((f"{b.date:%Y%m%d}", b.open, b.high, b.low, b.close, b.volume))
        if open_day is not None:  # IB includes today's bar so far: a client must drop it
            path = sm.day_path(open_day)
            i = path.index_at(end)
            if i is not None:
                last = path.last[: i + 1]
                rows.append((f"{open_day:%Y%m%d}", float(last[0]), float(last.max()),
                             float(last.min()), float(last[-1]), int(path.volume[: i + 1].sum())))
        s.send(msg.historical_data(r.req_id, f"{first:%Y%m%d} 00:00:00",
                                   f"{end:%Y%m%d %H:%M:%S}", rows))

    def _history_window(self, s: Session, r: HistoricalRequest) -> tuple[datetime, int] | None:
        """(end, calendar days) of a historical request, never past the simulator's now;
        None after answering a malformed duration with an error."""
        now = self.sim.clock.now()
        end = now if not r.end.strip() else min(now, _parse_ib_time(r.end))
        try:
            return end, duration_days(r.duration)
        except ValueError as exc:
            s.send(msg.error(r.req_id, 321, f"Error validating request: {exc}"))
            return None

    def _intraday_historical(self, s: Session, r: HistoricalRequest, symbol: str,
                             seconds: int) -> None:
        """Bars aggregated from the simulator's minute path (the same path quotes come from).

        Times are epoch seconds (what formatDate=2 asks for, and what ib_insync parses in
        either format); useRTH keeps the day session only; the bar in progress is included,
        as IB does.
        """
        window = self._history_window(s, r)
        if window is None:
            return
        end, days = window
        span = duration_seconds(r.duration)
        start = end - timedelta(seconds=span)
        sm = self.sim.market(symbol)
        rows: list[tuple[str, float, float, float, float, int]] = []
        local = end.astimezone(ZoneInfo(get_market(symbol).timezone)).date()
        for day in sm.trade_dates_overlapping(start - timedelta(days=1),
                                              end + timedelta(days=1)):
            if day > local + timedelta(days=1) or day < local - timedelta(days=days + 5):
                continue
            path = sm.day_path(day)
            # every minute overlapping (start, end]: the minute under way at `end` included,
            # so the last bar agrees with the current quote
            keep = (path.starts > start.timestamp() - 60) & (path.starts <= end.timestamp())
            if r.use_rth:
                keep &= path.day_session
            idx = [int(i) for i in keep.nonzero()[0]]
            buckets: dict[int, list[int]] = {}
            for i in idx:
                buckets.setdefault(int(path.starts[i]) // seconds * seconds, []).append(i)
            for bucket, members in sorted(buckets.items()):
                last = path.last[members]
                rows.append((str(bucket), float(last[0]), float(last.max()), float(last.min()),
                             float(last[-1]), int(path.volume[members].sum())))
        rows.sort(key=lambda row: int(row[0]))
        s.send(msg.historical_data(r.req_id, f"{start:%Y%m%d %H:%M:%S}",
                                   f"{end:%Y%m%d %H:%M:%S}", rows))

    # ------------------------------------------------------------------ account & positions
    def _account_values(self) -> dict[str, tuple[str, str]]:
        a = self.sim.account_state()
        positions = self.sim.positions()
        gross = sum(abs(p.quantity) * p.market_price * p.point_value for p in positions)
        usd = {
            "NetLiquidation": a.net_liquidation, "TotalCashValue": a.cash,
            "CashBalance": a.cash, "EquityWithLoanValue": a.net_liquidation,
            "AvailableFunds": a.net_liquidation, "ExcessLiquidity": a.net_liquidation,
            "BuyingPower": 4 * a.net_liquidation, "GrossPositionValue": gross,
            "RealizedPnL": a.realized_pnl, "UnrealizedPnL": a.unrealized_pnl,
            "InitMarginReq": 0.0, "MaintMarginReq": 0.0,
        }
        out = {tag: (f"{value:.2f}", "USD") for tag, value in usd.items()}
        out["AccountCode"] = (self.account, "")
        out["AccountType"] = ("INDIVIDUAL", "")
        out["Currency"] = ("USD", "USD")
        return out

    def _account_updates(self, s: Session, fields: list[str]) -> None:
        c = Cursor(fields, 2)
        subscribe, account = c.bool(), c.str()
        if account and account != self.account:
            s.send(msg.error(-1, 321, f"Error validating request: unknown account {account}"))
            return
        s.account_updates = subscribe
        if subscribe:
            s.sent_values.clear()
            self._push_account(s, full=True)
            s.send(msg.account_download_end(self.account))

    def _push_account(self, s: Session, full: bool = False) -> None:
        for tag, (value, currency) in self._account_values().items():
            if full or s.sent_values.get(tag) != value:
                s.send(msg.account_value(tag, value, currency, self.account))
                s.sent_values[tag] = value
        for p in self.sim.positions():
            ib, _ = self._by_local(p.symbol, p.local_symbol)
            s.send(msg.portfolio_value(ib, p.quantity, p.market_price,
                                       p.quantity * p.market_price * p.point_value,
                                       p.avg_price * p.point_value, p.unrealized_pnl,
                                       p.realized_pnl, self.account))
        now = self.sim.clock.now().astimezone(ZoneInfo("America/Chicago"))
        s.send(msg.account_time(f"{now:%H:%M}"))

    def _account_multi(self, s: Session, fields: list[str]) -> None:
        c = Cursor(fields, 2)
        req_id = c.int()
        for tag, (value, currency) in self._account_values().items():
            s.send(msg.account_update_multi(req_id, self.account, tag, value, currency))
        s.send(msg.account_update_multi_end(req_id))

    def _account_summary(self, s: Session, fields: list[str]) -> None:
        c = Cursor(fields, 2)
        req_id, _group, tags = c.int(), c.str(), c.str()
        wanted = {t for t in tags.split(",") if t and not t.startswith("$")}
        for tag, (value, currency) in self._account_values().items():
            if tag in wanted or tag == "AccountType":
                s.send(msg.account_summary(req_id, self.account, tag, value, currency))
        s.send(msg.account_summary_end(req_id))

    def _position_rows(self) -> dict[int, tuple[IbContract, int, float]]:
        out = {}
        for p in self.sim.positions():
            ib, _ = self._by_local(p.symbol, p.local_symbol)
            out[p.con_id] = (ib, p.quantity, p.avg_price * p.point_value)
        return out

    def _positions(self, s: Session, fields: list[str]) -> None:
        s.positions = True
        s.sent_positions.clear()
        for con_id, (ib, qty, cost) in self._position_rows().items():
            s.send(msg.position(self.account, ib, qty, cost))
            s.sent_positions[con_id] = (qty, cost)
        s.send(msg.position_end())

    def _push_positions(self, s: Session) -> None:
        rows = self._position_rows()
        for con_id, (ib, qty, cost) in rows.items():
            if s.sent_positions.get(con_id) != (qty, cost):
                s.send(msg.position(self.account, ib, qty, cost))
                s.sent_positions[con_id] = (qty, cost)
        for con_id in [k for k in s.sent_positions if k not in rows]:
            ib = self._contracts[con_id][0]
            s.send(msg.position(self.account, ib, 0, 0.0))
            del s.sent_positions[con_id]

    def _pnl(self, s: Session, fields: list[str]) -> None:
        c = Cursor(fields, 1)
        req_id, account = c.int(), c.str()
        if account != self.account:
            s.send(msg.error(req_id, 321, f"Error validating request: unknown account {account}"))
            return
        s.pnl.add(req_id)
        self._push_pnl(s)

    def _pnl_single(self, s: Session, fields: list[str]) -> None:
        c = Cursor(fields, 1)
        req_id, account, _model, con_id = c.int(), c.str(), c.str(), c.int()
        if account != self.account:
            s.send(msg.error(req_id, 321, f"Error validating request: unknown account {account}"))
            return
        s.pnl_single[req_id] = con_id
        self._push_pnl(s)

    def _push_pnl(self, s: Session) -> None:
        """PnL and PnL-single updates for the subscriptions `s` holds.

        The simulator keeps daily PnL per account, not per position: a position's dailyPnL is
        the account's when it is the only position, else unset (Double.MAX_VALUE, as IB sends
        a value it does not have) rather than a guess.
        """
        if not s.pnl and not s.pnl_single:
            return
        a = self.sim.account_state()
        for req_id in s.pnl:
            s.send(msg.pnl(req_id, a.daily_pnl, a.unrealized_pnl, a.realized_pnl))
        if not s.pnl_single:
            return
        held = {p.con_id: p for p in self.sim.positions() if p.quantity}
        for req_id, con_id in s.pnl_single.items():
            p = held.get(con_id)
            if p is None:
                s.send(msg.pnl_single(req_id, 0, 0.0, 0.0, 0.0, 0.0))
                continue
            daily: float | str = a.daily_pnl if len(held) == 1 else msg.JAVA_DOUBLE_MAX
            s.send(msg.pnl_single(req_id, p.quantity, daily, p.unrealized_pnl, p.realized_pnl,
                                  p.quantity * p.market_price * p.point_value))

    # ---------------------------------------------------------------------------- orders
    def _view(self, o: OrderStatus, last_fill: float = 0.0) -> OrderView:
        perm = int(o.order_id)
        client_id, order_id = self._owners.get(perm, (0, 0))
        return OrderView(
            order_id=order_id, client_id=client_id, perm_id=perm, action=o.side,
            quantity=o.quantity, order_type=o.order_type, limit_price=o.limit_price,
            tif="DAY", account=self.account, order_ref=o.order_ref, status=o.status,
            filled=o.filled, avg_fill_price=o.avg_fill_price or 0.0,
            last_fill_price=last_fill,
            completed_time=msg.ib_time(o.updated_at) if o.is_done else "",
        )

    def _contract_of(self, o: OrderStatus | Execution | Position) -> IbContract:
        return self._by_local(get_market(o.local_symbol[:-2]).symbol, o.local_symbol)[0]

    def _owner_sessions(self, perm: int) -> list[Session]:
        owner = self._owners.get(perm, (0, 0))[0]
        return [s for s in self._sessions.values()
                if s.client_id is not None and not s.closed and s.client_id in (owner, 0)]

    def _open_orders(self, s: Session, everyone: bool) -> None:
        for o in self.sim.orders():
            if o.is_done:
                continue
            perm = int(o.order_id)
            owner = self._owners.get(perm, (0, 0))[0]
            if everyone or owner == s.client_id or s.client_id == 0:
                view = self._view(o)
                ib = self._contract_of(o)
                s.send(msg.open_order(view, ib))
                s.send(msg.order_status(view))
        s.send(msg.open_order_end())

    def _completed_orders(self, s: Session, fields: list[str]) -> None:
        since = self._ib_day_start()
        for o in self.sim.orders():
            if o.is_done and o.updated_at >= since:
                s.send(msg.completed_order(self._view(o), self._contract_of(o)))
        s.send(msg.completed_orders_end())

    def _ib_day_start(self) -> datetime:
        local = self.sim.clock.now().astimezone(IB_DAY_ZONE)
        return datetime.combine(local.date(), datetime.min.time(), IB_DAY_ZONE).astimezone(UTC)

    def _place_order(self, s: Session, fields: list[str]) -> None:
        w = parse_place_order(fields)
        assert s.client_id is not None
        oid = w.order_id
        self._placed += 1
        if self._placed == 2 and self._fault("die-at-order-2-unstored"):
            log.warning("fault die-at-order-2-unstored: dying on order %d (%s)", oid, w.order_ref)
            os._exit(9)  # as a kill -9: nothing stored, nothing answered
        refuse = self._refusal(s, w)
        if refuse is not None:
            s.send(msg.error(oid, *refuse))
            return
        hit = self._resolve(s, oid, w.contract)
        if hit is None:
            return
        ib, c = hit
        if self._link == "down":
            log.warning("fault: order %d (%s) placed while the link to IB is down", oid,
                        w.order_ref)
        for code in (201, 110, 321):
            if self._fault(f"reject-{code}"):
                log.warning("fault reject-%d: rejected order %d (%s)", code, oid, w.order_ref)
                self._next_id[s.client_id] = max(self._next_id.get(s.client_id, 1), oid + 1)
                s.send(msg.error(oid, code, REJECT_TEXT[code]))
                return
        if ib.sec_type != "FUT":
            s.send(msg.error(oid, 201, f"Order rejected - reason:{ib.sec_type} contracts are "
                             "for data only; orders need the dated FUT contract"))
            return
        qty = int(w.quantity) if float(w.quantity).is_integer() else w.quantity
        request = OrderRequest(contract=c, side=w.action, quantity=qty,  # type: ignore[arg-type]
                               order_type=w.order_type,  # type: ignore[arg-type]
                               limit_price=w.limit_price, order_ref=w.order_ref,
                               tif=w.tif or "DAY")  # type: ignore[arg-type]
        status = self.sim.place_order(request)
        perm = int(status.order_id)
        self._own(perm, s.client_id, oid)
        if self._placed == 2 and self._fault("die-at-order-2-stored"):
            log.warning("fault die-at-order-2-stored: dying after storing order %d (%s)", oid,
                        w.order_ref)
            os._exit(9)  # stored (the simulator's account is persistent), never acknowledged
        if status.status == "Inactive":
            code = 110 if "Invalid Price" in status.message else 201
            text = ("The price does not conform to the minimum price variation for this "
                    f"contract. ({status.message})" if code == 110 else
                    f"Order rejected - reason:{status.message}")
            s.send(msg.error(oid, code, text))
            view = self._view(status)
            s.send(msg.open_order(view, ib))
            s.send(msg.order_status(view))
            return
        # acknowledge as working first, then report what the simulator already did
        first = OrderStatus(**{**status.__dict__, "status": "Submitted" if status.is_done
                               or status.status == "Submitted" else status.status,
                               "filled": 0, "avg_fill_price": None})
        view = self._view(first)
        s.send(msg.open_order(view, ib))

        def status() -> None:
            s.send(msg.order_status(view))
            self._watch[perm] = (first.status, 0)
            self._poll()

        if self._fault("status-late"):  # the status, and whatever follows it, half a second on
            def late() -> None:
                if self._server is None:  # stopped meanwhile
                    return
                try:
                    status()
                except Exception:
                    log.exception("sim-gateway: the late status of order %d failed", oid)

            asyncio.get_running_loop().call_later(0.5, late)
            return
        status()
        if self._fault("cancel-202") and not self.sim.order_status(str(perm)).is_done:
            log.warning("fault cancel-202: IB cancels order %d (%s) unasked", oid, w.order_ref)
            self.sim.cancel_order(str(perm))
            s.send(msg.error(oid, 202, "Order Canceled - reason:cancelled by the system "
                                       "(hydra sim-gateway fault cancel-202)"))
            self._poll()

    def _refusal(self, s: Session, w: Any) -> tuple[int, str] | None:
        assert s.client_id is not None
        if self.options.read_only:
            return 321, ("Error validating request.-'bO' : cause - The API interface is "
                         "currently in Read-Only mode.")
        if (s.client_id, w.order_id) in self._by_client:
            return 103, "Duplicate order id"
        if w.order_id < self._next_id.get(s.client_id, 1):
            return 103, "Duplicate order id"
        if w.contract.sec_type == "CONTFUT":
            return 201, ("Order rejected - reason:CONTFUT contracts are for data only; orders "
                         "need the dated FUT contract")
        if w.e_trade_only:
            return 10268, "The 'EtradeOnly' order attribute is not supported."
        if w.firm_quote_only:
            return 10269, "The 'firmQuoteOnly' order attribute is not supported."
        if w.unsupported:
            return 201, f"Order rejected - reason:hydra sim-gateway does not simulate " \
                        f"{w.unsupported}"
        if w.what_if:
            return 201, "Order rejected - reason:what-if orders are not simulated"
        if not w.transmit or w.parent_id:
            return 201, "Order rejected - reason:parent/child (transmit=False) orders are not " \
                        "simulated"
        if w.account and w.account != self.account:
            return 321, f"Error validating request.-'bN' : cause - Invalid account code " \
                        f"{w.account}"
        if w.order_type not in ("LMT", "MKT"):
            return 387, f"Unsupported order type {w.order_type}: hydra sim-gateway " \
                        "simulates LMT and MKT"
        return None

    def _cancel_order(self, s: Session, fields: list[str]) -> None:
        oid = int(fields[2])
        assert s.client_id is not None
        perm = self._by_client.get((s.client_id, oid))
        if perm is None:
            s.send(msg.error(oid, 135, f"Can't find order with id = {oid}"))
            return
        before = self.sim.order_status(str(perm))
        if before.is_done:
            s.send(msg.error(oid, 161, f"Cancel attempted when order is not in a cancellable "
                                       f"state. Order permId ={perm}"))
            return
        self.sim.cancel_order(str(perm))
        self._poll()
        s.send(msg.error(oid, 202, "Order Canceled - reason:"))

    def _global_cancel(self, s: Session, fields: list[str]) -> None:
        for o in self.sim.orders():
            if not o.is_done:
                self.sim.cancel_order(o.order_id)
        self._poll()

    # ------------------------------------------------------------------------ executions
    def _exec_view(self, e: Execution, cum: int, avg: float) -> ExecView:
        perm = int(e.order_id)
        client_id, order_id = self._owners.get(perm, (0, 0))
        placed = self.sim.order_status(e.order_id).submitted_at
        return ExecView(exec_id=e.exec_id, order_id=order_id, client_id=client_id,
                        perm_id=perm, time=e.time, account=e.account_id,
                        exchange=get_market(e.symbol).exchange,
                        side="BOT" if e.side == "BUY" else "SLD", shares=e.quantity,
                        price=e.price, cum_qty=cum, avg_price=avg, order_ref=e.order_ref,
                        last_liquidity=2 if e.time <= placed else 1)

    def _with_cumulative(self, execs: list[Execution]) -> list[tuple[Execution, int, float]]:
        totals: dict[str, tuple[int, float]] = {}
        out = []
        for e in sorted(execs, key=lambda x: (x.time, x.exec_id)):
            qty, notional = totals.get(e.order_id, (0, 0.0))
            qty, notional = qty + e.quantity, notional + e.quantity * e.price
            totals[e.order_id] = (qty, notional)
            out.append((e, qty, notional / qty))
        return out

    def _executions(self, s: Session, fields: list[str]) -> None:
        req_id, f = parse_exec_filter(fields)
        day = self._ib_day_start()
        everything = self.sim.executions(since=self._ib_day_start() - timedelta(days=1))
        cumulative = self._with_cumulative(everything)
        for e, cum, avg in cumulative:
            if e.time < day:
                continue
            owner = self._owners.get(int(e.order_id), (0, 0))[0]
            if f.client_id and owner != f.client_id:
                continue
            if f.account and f.account != e.account_id:
                continue
            if f.symbol and f.symbol != e.symbol:
                continue
            if f.sec_type and f.sec_type != "FUT":
                continue
            if f.side and f.side.upper() not in (e.side, "BOT" if e.side == "BUY" else "SLD"):
                continue
            if f.time and e.time < _parse_ib_time(f.time):
                continue
            s.send(msg.exec_details(req_id, self._exec_view(e, cum, avg), self._contract_of(e)))
            if e.commission is not None:
                s.send(msg.commission_report(e.exec_id, e.commission, e.currency, None))
        s.send(msg.exec_details_end(req_id))

    # ------------------------------------------------------------------------------ poll
    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.poll_seconds)
            try:
                self._poll()
            except Exception:
                log.exception("sim-gateway poll failed")

    def _fault(self, name: str) -> bool:
        return name in self.options.faults

    def _link_fault(self) -> tuple[int, int | None] | None:
        """(code that breaks the link, code that restores it or None) of the armed fault."""
        for name, codes in (("link-lost-1101", (1100, 1101)), ("link-lost-1102", (1100, 1102)),
                            ("link-broken-2110", (2110, None))):
            if self._fault(name):
                return codes
        return None

    def _broadcast_link(self, code: int) -> None:
        log.warning("fault: error %d sent to every client: %s", code, LINK_TEXT[code])
        for s in self._sessions.values():
            if s.client_id is not None and not s.closed:
                s.send(msg.error(-1, code, LINK_TEXT[code]))
                if code == 1101:  # data lost: every market data subscription is gone
                    s.mkt.clear()

    def _poll(self) -> None:
        """Catch the simulator up and tell clients what changed, as IB pushes events."""
        fault = self._link_fault()
        if self._link == "down":
            assert fault is not None
            if fault[1] is None or time.monotonic() < self._restore_at:
                return  # the link is down: nothing reaches the clients
            self._link = "done"
            self._broadcast_link(fault[1])
        sessions = [s for s in self._sessions.values() if s.client_id is not None
                    and not s.closed]
        since = (self._exec_since or self.sim.clock.now()) - timedelta(hours=1)
        new = [e for e in self.sim.executions(since=since) if e.exec_id not in self._seen_exec]
        # IB's order for a fill (wire captures of TWS): execDetails, then openOrder and
        # orderStatus for the status change, then commissionReport
        outbox: dict[int, list[list[object]]] = {}
        reports: dict[int, list[list[object]]] = {}
        if new:
            day_execs = self.sim.executions(since=min(e.time for e in new) - timedelta(days=1))
            cumulative = {e.exec_id: (cum, avg) for e, cum, avg
                          in self._with_cumulative(day_execs)}
            for e in sorted(new, key=lambda x: (x.time, x.exec_id)):
                self._seen_exec.add(e.exec_id)
                self._exec_since = max(self._exec_since or e.time, e.time)
                cum, avg = cumulative.get(e.exec_id, (e.quantity, e.price))
                view, ib = self._exec_view(e, cum, avg), self._contract_of(e)
                for s in self._owner_sessions(int(e.order_id)):
                    outbox.setdefault(s.number, []).append(msg.exec_details(-1, view, ib))
                    if e.commission is not None:
                        reports.setdefault(s.number, []).append(msg.commission_report(
                            e.exec_id, e.commission, e.currency, None))
        for perm, sent in list(self._watch.items()):
            o = self.sim.order_status(str(perm))
            if (o.status, o.filled) == sent:
                continue
            last = [e.price for e in new if e.order_id == o.order_id]
            view = self._view(o, last[-1] if last else 0.0)
            ib = self._contract_of(o)
            for s in self._owner_sessions(perm):
                outbox.setdefault(s.number, []).extend(
                    [msg.open_order(view, ib), msg.order_status(view)])
            if o.is_done:
                del self._watch[perm]
            else:
                self._watch[perm] = (o.status, o.filled)
        for number in {*outbox, *reports}:
            target = self._sessions.get(number)
            if target is not None:
                for fields in [*outbox.get(number, []), *reports.get(number, [])]:
                    target.send(fields)
        if fault is not None and not self._link and new:  # mid-cycle: after the first fill
            self._link = "down"
            self._restore_at = time.monotonic() + self.options.restore_seconds
            self._broadcast_link(fault[0])
            return
        for s in sessions:
            for req_id, sub in list(s.mkt.items()):
                self._send_quote(s, req_id, sub)
        slow_due = time.monotonic() - self._last_slow >= 1.0
        if new or slow_due:
            self._last_slow = time.monotonic()
            for s in sessions:
                if s.positions:
                    self._push_positions(s)
                if s.account_updates:
                    self._push_account(s)
                self._push_pnl(s)


INTRADAY_BAR_SECONDS = {
    "1 min": 60, "2 mins": 120, "3 mins": 180, "5 mins": 300, "10 mins": 600, "15 mins": 900,
    "20 mins": 1200, "30 mins": 1800, "1 hour": 3600, "2 hours": 7200, "3 hours": 10800,
    "4 hours": 14400, "8 hours": 28800,
}


def duration_seconds(duration: str) -> int:
    """IB's durationStr in seconds (months and years as 31 and 366 days)."""
    n, unit = duration.split()
    per = {"S": 1, "D": 86400, "W": 7 * 86400, "M": 31 * 86400, "Y": 366 * 86400}
    return int(n) * per[unit.upper()]


def _req_id_guess(fields: list[str]) -> int:
    """The request id of a malformed request, where the layout puts one (else -1)."""
    try:
        msg_id = int(fields[0])
        # newer messages (79 on) and these two carry no version field before the id
        if msg_id in (In.PLACE_ORDER, In.REQ_HISTORICAL_DATA) or msg_id >= 79:
            return int(fields[1])
        return int(fields[2])
    except (IndexError, ValueError):
        return -1


def _parse_ib_time(text: str) -> datetime:
    """'20261124 16:00:00 UTC', '20261124-16:00:00', '20261124 10:00:00 US/Central', ...

    A time without a zone is taken as UTC (ib_insync always sends UTC with the zone).
    """
    text = text.strip()
    if "-" in text[:9]:
        day, clock = text.split("-", 1)
        zone = "UTC"
    else:
        parts = text.split()
        day, clock = parts[0], (parts[1] if len(parts) > 1 else "00:00:00")
        zone = parts[2] if len(parts) > 2 else "UTC"
    naive = datetime.strptime(f"{day} {clock}", "%Y%m%d %H:%M:%S")
    return naive.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def sim_start(as_of: date, local_time: str, timezone: str = "America/Chicago") -> datetime:
    """`as_of` at HH:MM exchange time, in UTC (the rehearsal clock's start)."""
    hh, mm = (int(x) for x in local_time.split(":"))
    return datetime(as_of.year, as_of.month, as_of.day, hh, mm,
                    tzinfo=ZoneInfo(timezone)).astimezone(UTC)


__all__ = ["GatewayOptions", "ScaledClock", "TwsServer", "ib_local_symbol", "sim_start",
           "to_ib"]

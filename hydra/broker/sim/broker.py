"""The embedded simulated paper broker: a persistent account trading the simulated market.

State lives in one SQLite file (WAL mode, `BEGIN IMMEDIATE` around every call) so a notebook
kernel and the CLI can share an account. Only orders and executions are stored; positions,
cash and P&L are replayed from executions (average cost), so they can never disagree.

The market is processed lazily: every public call first catches the account up from the last
processed time to `clock.now()`, minute by minute through session minutes while orders are
working, matching them against that minute's simulated quote (`match_order` holds every fill
rule). Time never runs backwards for a persistent account.

Simplifications worth knowing: orders do not compete for liquidity with each other or deplete
the simulated book between minutes; there is no margin check; expiring contracts are closed at
their last trade date's close (no delivery); realized P&L is gross of commissions, which are
deducted from cash separately.
"""

from __future__ import annotations

import numbers
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

import numpy as np

from hydra.broker.base import Broker
from hydra.broker.sim.market import DayPath, MinuteQuote, SimMarket, round_to_tick, sim_market
from hydra.domain.broker import (
    DONE_STATES,
    AccountState,
    Bar,
    BrokerError,
    ContractDetails,
    Execution,
    OrderRequest,
    OrderStatus,
    Position,
    Quote,
    Side,
)
from hydra.domain.market import Market
from hydra.reference.clock import Clock, SimClock
from hydra.reference.contracts import contract, contract_from_local_symbol, front_contract
from hydra.reference.markets import UnknownMarketError, get_market, load_registry
from hydra.sqlite_tx import relax

SCHEMA_VERSION = 2
# Share of a minute's traded volume that hits one side of the book (sellers hitting the bid,
# buyers lifting the offer): what works through the queue in front of a passive order.
HIT_SHARE = 0.5
EXPIRY_REF = "SIM-EXPIRY"
WORKING_STATES = ("PreSubmitted", "Submitted")
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        schema_version INTEGER NOT NULL,
        seed INTEGER NOT NULL,
        account_id TEXT NOT NULL,
        starting_cash REAL NOT NULL,
        commission REAL NOT NULL,
        created_at TEXT NOT NULL,
        last_processed TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS orders (
        order_id INTEGER PRIMARY KEY AUTOINCREMENT,
        order_ref TEXT NOT NULL,
        con_id INTEGER NOT NULL,
        local_symbol TEXT NOT NULL,
        symbol TEXT NOT NULL,
        contract_month TEXT NOT NULL,
        side TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        order_type TEXT NOT NULL,
        limit_price REAL,
        tif TEXT NOT NULL,
        trade_date TEXT,
        status TEXT NOT NULL,
        filled INTEGER NOT NULL DEFAULT 0,
        avg_fill_price REAL,
        submitted_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        message TEXT NOT NULL DEFAULT '',
        queue_ahead REAL,
        queue_at TEXT)""",
    "CREATE INDEX IF NOT EXISTS orders_status ON orders(status)",
    "CREATE INDEX IF NOT EXISTS orders_ref ON orders(order_ref)",
    """CREATE TABLE IF NOT EXISTS executions (
        exec_id TEXT PRIMARY KEY,
        order_id INTEGER NOT NULL REFERENCES orders(order_id),
        order_ref TEXT NOT NULL,
        account_id TEXT NOT NULL,
        symbol TEXT NOT NULL,
        local_symbol TEXT NOT NULL,
        con_id INTEGER NOT NULL,
        side TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        price REAL NOT NULL,
        time TEXT NOT NULL,
        commission REAL,
        currency TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS executions_time ON executions(time)",
    "CREATE INDEX IF NOT EXISTS executions_order ON executions(order_id)",
)


def _ts(when: datetime) -> str:
    """Fixed-width UTC ISO text, so SQL string order is time order."""
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# --------------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class Fill:
    quantity: int
    price: float


def match_order(
    side: str,
    remaining: int,
    order_type: str,
    limit_price: float | None,
    quote: MinuteQuote,
    book: Iterable[tuple[float, int]],
    arriving: bool,
    tick: float,
) -> list[Fill]:
    """Fills for one order in one minute: the single place where fill rules live.

    An *arriving* order (just placed in session, a MKT order, or a PreSubmitted order at its
    first session minute) takes liquidity: it walks `book` (the opposite side, best level
    first), each level at its own price, never past its limit. A *resting* limit is passive: a
    BUY at L fills at L once the ask is at or below L, for up to the size offered at or under L
    (SELL mirrored). A queue / fill-probability model for passive orders resting at the touch
    (bid == L for a BUY) would be added here.
    """
    if remaining <= 0:
        return []
    buy = side == "BUY"
    eps = tick * 1e-6

    def within(price: float) -> bool:
        if limit_price is None:
            return True
        return price <= limit_price + eps if buy else price >= limit_price - eps

    if not within(quote.ask if buy else quote.bid):
        return []
    if arriving or limit_price is None:
        fills: list[Fill] = []
        for price, size in book:
            if remaining <= 0 or not within(price):
                break
            take = min(size, remaining)
            fills.append(Fill(take, price))
            remaining -= take
        return fills
    available = 0
    for price, size in book:
        if available >= remaining or not within(price):
            break
        available += size
    take = min(available, remaining)
    return [Fill(take, float(limit_price))] if take > 0 else []


def queue_fill(
    side: str,
    remaining: int,
    limit_price: float,
    quote: MinuteQuote,
    queue_ahead: float | None,
    tick: float,
) -> tuple[int, float | None]:
    """A passive limit at (or inside) the touch: the queue model. Returns (fill, queue left).

    Joining the best bid (BUY) puts the displayed size ahead of us; improving the bid puts us
    first. Each minute HIT_SHARE of the traded volume hits our side and works through the
    queue; what is left after the queue fills us, at our limit. Behind the touch there is no
    queue position (None): the order joins at the back when the touch comes to its price.
    """
    eps = tick * 1e-6
    buy = side == "BUY"
    touch, touch_size = (quote.bid, quote.bid_size) if buy else (quote.ask, quote.ask_size)
    behind = limit_price < touch - eps if buy else limit_price > touch + eps
    if behind or remaining <= 0:
        return 0, None
    if queue_ahead is None:
        at_touch = abs(limit_price - touch) <= eps
        queue_ahead = float(touch_size) if at_touch else 0.0
    left = queue_ahead - HIT_SHARE * quote.volume
    if left >= 0:
        return 0, left
    return min(remaining, int(-left)), 0.0


def _candidate_minutes(
    path: DayPath, live: list[_Order], first: int, stop: int, tick: float
) -> np.ndarray:
    """Minutes in [first, stop) where `match_order` could do anything for some live order.

    Skipping the others only saves time (a long catch-up with GTC orders); it must stay in step
    with `match_order`: a queue model that fills passive orders at the touch has to widen this.
    """
    eps = tick * 1e-6  # the tolerance match_order uses
    mask = np.zeros(max(0, stop - first), dtype=bool)
    if not len(mask):
        return np.flatnonzero(mask)
    for o in live:
        if o.order_type == "MKT" or o.status == "PreSubmitted" or o.limit_price is None:
            mask[0] = True  # arriving orders act at their first minute
        elif o.side == "BUY":  # through the order, or the order at/inside the touch (queue)
            mask |= path.bid[first:stop] <= o.limit_price + eps
        else:
            mask |= path.ask[first:stop] >= o.limit_price - eps
    return first + np.flatnonzero(mask)


# ------------------------------------------------------------------------------- accounting


@dataclass
class _Book:
    """One contract's position, replayed from executions by the average-cost method."""

    symbol: str
    local_symbol: str
    con_id: int
    contract_month: str
    point_value: float
    quantity: int = 0
    avg_price: float = 0.0
    realized: float = 0.0
    commission: float = 0.0

    def apply(self, side: str, quantity: int, price: float, commission: float | None) -> None:
        signed = quantity if side == "BUY" else -quantity
        self.commission += commission or 0.0
        if self.quantity == 0 or (self.quantity > 0) == (signed > 0):
            new = self.quantity + signed
            self.avg_price = (self.avg_price * abs(self.quantity) + price * quantity) / abs(new)
            self.quantity = new
            return
        direction = 1 if self.quantity > 0 else -1
        closing = min(quantity, abs(self.quantity))
        self.realized += (price - self.avg_price) * closing * direction * self.point_value
        self.quantity += signed
        if self.quantity == 0:
            self.avg_price = 0.0
        elif (self.quantity > 0) != (direction > 0):
            self.avg_price = price  # flipped: the remainder opened at this fill

    def unrealized(self, mark: float) -> float:
        return (mark - self.avg_price) * self.quantity * self.point_value

    def equity(self, mark: float) -> float:
        """This contract's contribution to net liquidation above starting cash."""
        return self.realized - self.commission + self.unrealized(mark)


def replay(rows: Iterable[sqlite3.Row]) -> dict[int, _Book]:
    """Positions per con_id from execution rows in time order (joined with contract_month)."""
    books: dict[int, _Book] = {}
    for r in rows:
        book = books.get(r["con_id"])
        if book is None:
            pv = get_market(r["symbol"]).point_value
            book = _Book(r["symbol"], r["local_symbol"], r["con_id"], r["contract_month"], pv)
            books[r["con_id"]] = book
        book.apply(r["side"], r["quantity"], r["price"], r["commission"])
    return books


@dataclass
class _History:
    """One connection's read of the executions (SimBroker._rows) and what was derived from it."""

    version: int  # PRAGMA data_version when read
    rows: list[sqlite3.Row]
    books: dict[int, _Book] | None = None  # replay(rows)
    reference: dict[tuple[str, str], float] = field(default_factory=dict)  # _reference_equity


# ---------------------------------------------------------------------------------- orders


@dataclass
class _Order:
    """A working order held in memory while the account catches up."""

    order_id: int
    order_ref: str
    con_id: int
    local_symbol: str
    symbol: str
    contract_month: str
    side: Side
    quantity: int
    order_type: str
    limit_price: float | None
    tif: str
    trade_date: date | None
    status: str
    filled: int
    avg_fill_price: float | None
    message: str
    fills: int  # executions so far, for the exec_id sequence
    queue_ahead: float | None = None  # contracts ahead of us at our price, while at the touch
    queue_at: datetime | None = None  # the minute the queue was last updated

    @classmethod
    def from_row(cls, r: sqlite3.Row, fills: int) -> _Order:
        return cls(
            order_id=r["order_id"], order_ref=r["order_ref"], con_id=r["con_id"],
            local_symbol=r["local_symbol"], symbol=r["symbol"],
            contract_month=r["contract_month"], side=r["side"], quantity=r["quantity"],
            order_type=r["order_type"], limit_price=r["limit_price"], tif=r["tif"],
            trade_date=date.fromisoformat(r["trade_date"]) if r["trade_date"] else None,
            status=r["status"], filled=r["filled"], avg_fill_price=r["avg_fill_price"],
            message=r["message"], fills=fills, queue_ahead=r["queue_ahead"],
            queue_at=_dt(r["queue_at"]) if r["queue_at"] else None,
        )  # fmt: skip

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled

    @property
    def working(self) -> bool:
        return self.status in WORKING_STATES


def _status_from_row(r: sqlite3.Row) -> OrderStatus:
    return OrderStatus(
        order_id=str(r["order_id"]),
        order_ref=r["order_ref"],
        con_id=r["con_id"],
        local_symbol=r["local_symbol"],
        side=r["side"],
        quantity=r["quantity"],
        order_type=r["order_type"],
        limit_price=r["limit_price"],
        status=r["status"],
        filled=r["filled"],
        avg_fill_price=r["avg_fill_price"],
        submitted_at=_dt(r["submitted_at"]),
        updated_at=_dt(r["updated_at"]),
        message=r["message"],
    )


def _execution_from_row(r: sqlite3.Row) -> Execution:
    return Execution(
        exec_id=r["exec_id"],
        order_id=str(r["order_id"]),
        order_ref=r["order_ref"],
        account_id=r["account_id"],
        symbol=r["symbol"],
        local_symbol=r["local_symbol"],
        con_id=r["con_id"],
        side=r["side"],
        quantity=r["quantity"],
        price=r["price"],
        time=_dt(r["time"]),
        commission=r["commission"],
        currency=r["currency"],
    )


def _on_tick(price: float, tick: float) -> bool:
    steps = price / tick
    return abs(steps - round(steps)) <= 1e-9 * max(1.0, abs(steps))


def _check_is_sqlite(path: Path) -> None:
    """Refuse a file that is not SQLite before sqlite3 touches it (never recreate it)."""
    if not path.exists():
        return
    if path.is_dir():
        raise BrokerError(f"the simulated account path {path} is a directory, not a file")
    if path.stat().st_size == 0:
        return
    with path.open("rb") as fh:
        head = fh.read(len(_SQLITE_MAGIC))
    if head != _SQLITE_MAGIC:
        raise BrokerError(_corrupt_message(path, "it does not start with the SQLite header"))


def _corrupt_message(path: Path, why: object) -> str:
    return (
        f"the simulated account file {path} is not a readable Hydra SQLite database ({why}); "
        f"it was left untouched. Move it aside (e.g. rename it to {path.name}.broken) to start "
        "a new simulated account there, or point Hydra at another account file."
    )


# ---------------------------------------------------------------------------------- broker


class SimBroker(Broker):
    """The embedded, persistent simulated paper broker (see the module docstring)."""

    kind: ClassVar[str] = "sim"

    def __init__(
        self,
        db_path: Path,
        clock: Clock,
        seed: int = 7,
        starting_cash: float = 100_000.0,
        commission_per_contract: float = 2.35,
        account_id: str = "DUSIM0001",
        null_market: bool = False,
        follow_account: bool = False,
    ) -> None:
        if int(seed) < 0:
            raise BrokerError(f"the simulator seed must be a non-negative integer, not {seed}")
        self.db_path = Path(db_path)
        self.clock = clock
        self.seed = int(seed)
        self.starting_cash = float(starting_cash)
        self.commission_per_contract = float(commission_per_contract)
        self.account_id = account_id
        self.null_market = bool(null_market)  # calibration: prices a pure random walk
        # a reader (a report, a status) of an account another process may be moving on (a
        # running `hydra sim-gateway`): each transaction starts at the account's own time
        # when that is later than the clock's, instead of refusing to act in its past
        self.follow_account = bool(follow_account)
        self._conn: sqlite3.Connection | None = None
        self._history: _History | None = None  # the executions as last read (see _rows)

    # ------------------------------------------------------------------------ connection

    def connect(self) -> None:
        if self._conn is not None:
            return
        _check_is_sqlite(self.db_path)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = relax(sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None))
        except sqlite3.Error as exc:
            raise BrokerError(f"cannot open the simulated account {self.db_path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        try:
            self._open_account(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def close(self) -> None:
        self._history = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def is_connected(self) -> bool:
        return self._conn is not None

    def _open_account(self, conn: sqlite3.Connection) -> None:
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as exc:
            raise BrokerError(_corrupt_message(self.db_path, exc)) from exc
        if tables and "meta" not in tables:
            raise BrokerError(_corrupt_message(self.db_path, "a SQLite file without Hydra tables"))
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._begin(conn)
            try:
                for statement in _SCHEMA:
                    conn.execute(statement)
                now = _ts(self.now())
                conn.execute(
                    "INSERT OR IGNORE INTO meta VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
                    (SCHEMA_VERSION, self.seed, self.account_id, self.starting_cash,
                     self.commission_per_contract, now, now),
                )  # fmt: skip
                meta = conn.execute("SELECT * FROM meta WHERE id = 1").fetchone()
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise BrokerError(_corrupt_message(self.db_path, exc)) from exc
        self._check_meta(meta)

    def _check_meta(self, meta: sqlite3.Row) -> None:
        """A persistent account keeps its seed (its market history) and its terms."""
        stored = (meta["seed"], meta["account_id"], meta["starting_cash"], meta["commission"])
        wanted = (self.seed, self.account_id, self.starting_cash, self.commission_per_contract)
        if meta["schema_version"] != SCHEMA_VERSION:
            raise BrokerError(
                f"{self.db_path} has simulated-account schema {meta['schema_version']}; this "
                f"Hydra understands {SCHEMA_VERSION}. Move the file aside to start a new account."
            )
        if stored != wanted:
            raise BrokerError(
                f"{self.db_path} is simulated account {meta['account_id']} created with seed "
                f"{meta['seed']}, starting cash {meta['starting_cash']:,.2f} and commission "
                f"{meta['commission']} per contract; this broker was configured with account "
                f"{self.account_id}, seed {self.seed}, starting cash {self.starting_cash:,.2f} "
                f"and commission {self.commission_per_contract}. A persistent account keeps its "
                "seed and terms: configure the stored values, or use a new account file."
            )

    @staticmethod
    def last_processed(db_path: Path) -> datetime | None:
        """The account's clock (None if no account exists yet): start a SimClock at or after it."""
        path = Path(db_path)
        if not path.exists():
            return None
        _check_is_sqlite(path)
        try:
            conn = sqlite3.connect(path, timeout=30.0)
            try:
                names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
                if "meta" not in names:
                    return None
                row = conn.execute("SELECT last_processed FROM meta WHERE id = 1").fetchone()
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            raise BrokerError(_corrupt_message(path, exc)) from exc
        return _dt(row[0]) if row else None

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise BrokerError(
                f"the simulated broker is not connected: call connect() first ({self.db_path})"
            )
        return self._conn

    def _begin(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise BrokerError(
                f"the simulated account {self.db_path} stayed locked by another process for 30 s "
                f"({exc}); close the other notebook or CLI run and retry"
            ) from exc

    @contextmanager
    def _session(self) -> Iterator[tuple[sqlite3.Connection, datetime]]:
        """One transaction: catch the market up to now, then let the caller read or write."""
        conn = self._require()
        now = self.now()
        self._begin(conn)
        try:
            yield conn, self._catch_up(conn, now)
        except BaseException:
            self._history = None  # it may hold executions the rollback undoes
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # ------------------------------------------------------------------------------- time

    def now(self) -> datetime:
        """The clock's time (works unconnected: it is a pure read of the clock)."""
        when = self.clock.now()
        if when.tzinfo is None:
            raise BrokerError(f"the simulated broker needs timezone-aware times, got {when}")
        return when.astimezone(UTC)

    def _market(self, symbol: str) -> SimMarket:
        try:
            return sim_market(get_market(symbol).symbol, self.seed, self.null_market)
        except UnknownMarketError as exc:
            raise BrokerError(str(exc)) from exc

    # ------------------------------------------------------------------------- catching up

    def _catch_up(self, conn: sqlite3.Connection, now: datetime) -> datetime:
        """Process the market from meta.last_processed to `now` (never backwards); the time
        the transaction acts at (a following reader's is the account's, if that is later)."""
        last = _dt(conn.execute("SELECT last_processed FROM meta").fetchone()[0])
        if now < last and self.follow_account and isinstance(self.clock, SimClock):
            self.clock.advance_to(last)
            return last
        if now < last:
            raise BrokerError(
                f"the simulated broker's clock is at {last.isoformat()}; cannot act at earlier "
                f"time {now.isoformat()} (start the clock at SimBroker.last_processed(path) or "
                "later)"
            )
        if now == last:
            return now
        working = [self._order_obj(conn, r) for r in conn.execute(
            "SELECT * FROM orders WHERE status IN (?, ?) ORDER BY order_id", WORKING_STATES
        ).fetchall()]  # fmt: skip
        held = {cid: b for cid, b in self._books(conn).items() if b.quantity != 0}
        symbols = {o.symbol for o in working} | {b.symbol for b in held.values()}
        for symbol in sorted(symbols):
            orders = [o for o in working if o.symbol == symbol]
            months = {(o.con_id, o.contract_month) for o in orders}
            months |= {(b.con_id, b.contract_month) for b in held.values() if b.symbol == symbol}
            self._advance_market(conn, self._market(symbol), last, now, orders, dict(months))
        conn.execute("UPDATE meta SET last_processed = ?", (_ts(now),))
        return now

    def _advance_market(
        self,
        conn: sqlite3.Connection,
        sm: SimMarket,
        after: datetime,
        until: datetime,
        orders: list[_Order],
        months: dict[int, str],
    ) -> None:
        expiries = {
            cid: contract(sm.market, int(m[:4]), int(m[4:])).last_trade_date
            for cid, m in months.items()
        }
        for day in sm.trade_dates_overlapping(after, until):
            live = [o for o in orders if o.working]
            if live:
                self._match_minutes(conn, sm, day, after, until, live)
            close_time = sm.session_close(day)
            if after < close_time <= until:
                self._end_of_day(conn, sm, day, close_time, orders, expiries)

    def _match_minutes(
        self,
        conn: sqlite3.Connection,
        sm: SimMarket,
        day: date,
        after: datetime,
        until: datetime,
        live: list[_Order],
    ) -> None:
        """Match working orders minute by minute over `day`'s minutes starting in (after, until]."""
        path = sm.day_path(day)
        first = int(np.searchsorted(path.starts, after.timestamp(), side="right"))
        stop = int(np.searchsorted(path.starts, until.timestamp(), side="right"))
        live = [o for o in live if not (o.tif == "DAY" and o.trade_date and o.trade_date > day)]
        for i in _candidate_minutes(path, live, first, stop, sm.tick):
            quote = path.quote(int(i))
            for o in live:
                if o.working:
                    arriving = o.order_type == "MKT" or o.status == "PreSubmitted"
                    self._match(conn, sm, o, quote, quote.time, arriving)
            live = [o for o in live if o.working]
            if not live:
                return

    def _match(
        self,
        conn: sqlite3.Connection,
        sm: SimMarket,
        o: _Order,
        quote: MinuteQuote,
        when: datetime,
        arriving: bool,
    ) -> None:
        """Match one order against one minute's quote, then record fills and status."""
        side = "ask" if o.side == "BUY" else "bid"
        book = sm.book(quote.trade_date, quote.index, side)
        fills = match_order(
            o.side, o.remaining, o.order_type, o.limit_price, quote, book, arriving, sm.tick
        )
        changed = o.status == "PreSubmitted"
        if changed:
            o.status, o.message = "Submitted", ""
        for fill in fills:
            self._record_fill(conn, o, fill, when)
        if o.working and o.limit_price is not None and o.order_type == "LMT":
            changed |= self._work_queue(o, quote, arriving, sm.tick, fills, conn, when)
        if fills or changed:
            self._save(conn, o, when)

    def _work_queue(
        self,
        o: _Order,
        quote: MinuteQuote,
        arriving: bool,
        tick: float,
        fills: list[Fill],
        conn: sqlite3.Connection,
        when: datetime,
    ) -> bool:
        """Advance a resting order's queue position by one minute; True if it changed."""
        assert o.limit_price is not None
        gap = o.queue_at is not None and quote.time - o.queue_at > timedelta(seconds=60)
        queue = None if gap else o.queue_ahead  # it was behind the touch in between
        if arriving or fills:
            # just placed (or took liquidity): it joins the queue now, nothing has traded yet
            _, queue = queue_fill(o.side, o.remaining, o.limit_price,
                                  replace(quote, volume=0), queue, tick)
        else:
            qty, queue = queue_fill(o.side, o.remaining, o.limit_price, quote, queue, tick)
            if qty > 0:
                self._record_fill(conn, o, Fill(qty, float(o.limit_price)), when)
        old = (o.queue_ahead, o.queue_at)
        o.queue_ahead, o.queue_at = queue, quote.time
        return (o.queue_ahead, o.queue_at) != old

    def _record_fill(self, conn: sqlite3.Connection, o: _Order, fill: Fill, when: datetime) -> None:
        self._history = None  # this connection's own write: data_version does not move
        o.fills += 1
        notional = (o.avg_fill_price or 0.0) * o.filled + fill.price * fill.quantity
        o.filled += fill.quantity
        o.avg_fill_price = round(notional / o.filled, 10)
        if o.filled >= o.quantity:
            o.status = "Filled"
        conn.execute(
            "INSERT INTO executions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (f"SIM.{o.order_id:08d}.{o.fills:02d}.01", o.order_id, o.order_ref, self.account_id,
             o.symbol, o.local_symbol, o.con_id, o.side, fill.quantity, fill.price, _ts(when),
             round(self.commission_per_contract * fill.quantity, 8), "USD"),
        )  # fmt: skip

    def _save(self, conn: sqlite3.Connection, o: _Order, when: datetime) -> None:
        conn.execute(
            "UPDATE orders SET status = ?, filled = ?, avg_fill_price = ?, message = ?, "
            "updated_at = ?, queue_ahead = ?, queue_at = ? WHERE order_id = ?",
            (o.status, o.filled, o.avg_fill_price, o.message, _ts(when), o.queue_ahead,
             _ts(o.queue_at) if o.queue_at else None, o.order_id),
        )

    def _end_of_day(
        self,
        conn: sqlite3.Connection,
        sm: SimMarket,
        day: date,
        close_time: datetime,
        orders: list[_Order],
        expiries: dict[int, date],
    ) -> None:
        """At `day`'s close: expire DAY orders, then close out contracts past last trade."""
        for o in orders:
            if o.working and o.tif == "DAY" and (o.trade_date is None or o.trade_date <= day):
                o.status, o.message = "Cancelled", "DAY order expired at the session close"
                self._save(conn, o, close_time)
        for con_id, last_trade in list(expiries.items()):
            if last_trade > day:
                continue
            del expiries[con_id]
            for o in orders:
                if o.working and o.con_id == con_id:
                    o.status = "Cancelled"
                    o.message = f"contract {o.local_symbol} expired (last trade date {last_trade})"
                    self._save(conn, o, close_time)
            self._expire_position(conn, sm, con_id, last_trade)

    def _expire_position(
        self, conn: sqlite3.Connection, sm: SimMarket, con_id: int, last_trade: date
    ) -> None:
        """Close a position in a dead contract at its last trade date's close."""
        book = self._books(conn, con_id=con_id).get(con_id)
        if book is None or book.quantity == 0:
            return
        price, when = sm.close(last_trade), sm.session_close(last_trade)
        side: Side = "SELL" if book.quantity > 0 else "BUY"
        qty = abs(book.quantity)
        message = (
            f"contract {book.local_symbol} expired: position closed at the {last_trade} close "
            f"{price}"
        )
        cur = conn.execute(
            "INSERT INTO orders (order_ref, con_id, local_symbol, symbol, contract_month, side, "
            "quantity, order_type, limit_price, tif, trade_date, status, filled, avg_fill_price, "
            "submitted_at, updated_at, message) VALUES (?, ?, ?, ?, ?, ?, ?, 'MKT', NULL, 'DAY', "
            "?, 'Submitted', 0, NULL, ?, ?, ?)",
            (EXPIRY_REF, con_id, book.local_symbol, book.symbol, book.contract_month, side, qty,
             last_trade.isoformat(), _ts(when), _ts(when), message),
        )  # fmt: skip
        o = self._order_obj(conn, self._order_row(conn, int(cur.lastrowid or 0)))
        self._record_fill(conn, o, Fill(qty, price), when)
        self._save(conn, o, when)

    # --------------------------------------------------------------------------- helpers

    def _order_row(self, conn: sqlite3.Connection, order_id: int) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        if row is None:
            raise BrokerError(f"no order {order_id} in the simulated account {self.db_path}")
        return row

    def _order_obj(self, conn: sqlite3.Connection, row: sqlite3.Row) -> _Order:
        n = conn.execute(
            "SELECT COUNT(*) FROM executions WHERE order_id = ?", (row["order_id"],)
        ).fetchone()[0]
        return _Order.from_row(row, n)

    def _books(self, conn: sqlite3.Connection, con_id: int | None = None) -> dict[int, _Book]:
        """Positions per con_id replayed from the executions (copies: callers may not change
        the remembered ones). A book depends on its own contract's rows only, so one
        contract's is its entry in the replay of all."""
        h = self._rows(conn)
        if h.books is None:
            h.books = replay(h.rows)
        return {cid: replace(b) for cid, b in h.books.items() if con_id in (None, cid)}

    def _execution_rows(self, conn: sqlite3.Connection, con_id: int | None = None) -> list:
        rows = self._rows(conn).rows
        return rows if con_id is None else [r for r in rows if r["con_id"] == con_id]

    def _rows(self, conn: sqlite3.Connection) -> _History:
        """Every execution in time order, read again only when the file changed: another
        connection committed (PRAGMA data_version moves) or this one wrote a fill or rolled
        back (both drop the remembered rows). Executions are never updated or deleted, and
        positions and cash are replayed from them on every call: the order manager's polls
        replayed the whole history each time."""
        version = int(conn.execute("PRAGMA data_version").fetchone()[0])
        h = self._history
        if h is None or h.version != version:
            rows = conn.execute(
                "SELECT e.*, o.contract_month FROM executions e JOIN orders o USING (order_id)"
                " ORDER BY e.time, e.exec_id").fetchall()
            h = self._history = _History(version, rows)
        return h

    def _mark(self, sm: SimMarket, now: datetime) -> float:
        """Mid in session, else the last completed close: the price positions are valued at."""
        quote = sm.quote_at(now)
        if quote.in_session:
            return quote.mid
        day = sm.last_completed_trade_date(now)
        return sm.close(day) if day is not None else quote.last

    # ------------------------------------------------------------------ account and positions

    def positions(self) -> list[Position]:
        with self._session() as (conn, now):
            books = self._books(conn)
        out = []
        for book in books.values():
            if book.quantity == 0:
                continue
            mark = self._mark(self._market(book.symbol), now)
            out.append(
                Position(
                    account_id=self.account_id,
                    symbol=book.symbol,
                    local_symbol=book.local_symbol,
                    con_id=book.con_id,
                    quantity=book.quantity,
                    avg_price=book.avg_price,
                    market_price=mark,
                    point_value=book.point_value,
                    unrealized_pnl=book.unrealized(mark),
                    realized_pnl=book.realized,
                )
            )
        return out

    def account_state(self) -> AccountState:
        """Cash = start + realized - commissions; daily P&L per market since its reference close.

        The reference is the close of the trade date before the latest one that has started,
        so after today's close (until the next session opens) daily_pnl still shows today.
        """
        with self._session() as (conn, now):
            rows = self._execution_rows(conn)
            books = self._books(conn)
        marks = {s: self._mark(self._market(s), now) for s in {b.symbol for b in books.values()}}
        realized = sum(b.realized for b in books.values())
        commissions = sum(b.commission for b in books.values())
        unrealized = sum(b.unrealized(marks[b.symbol]) for b in books.values())
        cash = self.starting_cash + realized - commissions
        daily = sum(b.equity(marks[b.symbol]) for b in books.values())
        daily -= sum(self._reference_equity(rows, s, now) for s in marks)
        return AccountState(
            account_id=self.account_id,
            currency="USD",
            net_liquidation=cash + unrealized,
            cash=cash,
            realized_pnl=realized,
            unrealized_pnl=unrealized,
            daily_pnl=daily,
            time=now,
        )

    def _reference_equity(self, rows: list, symbol: str, now: datetime) -> float:
        """`symbol`'s equity contribution at its previous trade date's close."""
        sm = self._market(symbol)
        started = sm.latest_started_trade_date(now)
        ref_day = sm.previous_day(started) if started is not None else None
        if ref_day is None:
            return 0.0
        cutoff = _ts(sm.session_close(ref_day))
        h = self._history
        key = (symbol, cutoff)
        if h is not None and h.rows is rows and key in h.reference:
            return h.reference[key]
        books = replay(r for r in rows if r["symbol"] == symbol and r["time"] <= cutoff)
        mark = sm.close(ref_day)
        value = sum(b.equity(mark) for b in books.values())
        if h is not None and h.rows is rows:
            h.reference[key] = value
        return value

    # ------------------------------------------------------------------ contracts and data

    def contract_details(self, symbol: str, as_of: date) -> ContractDetails:
        with self._session():
            return front_contract(self._market(symbol).market, as_of)

    def contract_by_local_symbol(self, local_symbol: str) -> ContractDetails:
        with self._session() as (_, now):
            market = _market_for_local_symbol(local_symbol)
            today = now.astimezone(ZoneInfo(market.timezone)).date()
            try:
                return contract_from_local_symbol(market, local_symbol.strip().upper(), today)
            except ValueError as exc:
                raise BrokerError(str(exc)) from exc

    def quote(self, contract: ContractDetails) -> Quote:
        with self._session() as (_, now):
            sm = self._market(contract.symbol)
            try:
                q = sm.quote_at(now)
            except ValueError as exc:
                raise BrokerError(str(exc)) from exc
        return Quote(
            con_id=contract.con_id,
            local_symbol=contract.local_symbol,
            time=q.time,
            bid=q.bid,
            ask=q.ask,
            bid_size=q.bid_size,
            ask_size=q.ask_size,
            last=q.last,
            data_type="simulated",
            in_session=q.in_session,
        )

    def price_at(self, contract: ContractDetails, when: datetime) -> float | None:
        """The mid at a past moment `when` (what intraday history gives; the model's entry
        prices, hydra/model/returns.py); None outside a day session or not yet reached."""
        if when > self.now():
            return None
        return self._market(contract.symbol).session_mid_at(when)

    def daily_bars(self, contract: ContractDetails, days: int) -> list[Bar]:
        """The last `days` completed bars before now (a trade date counts once it has closed)."""
        with self._session() as (_, now):
            sm = self._market(contract.symbol)
            last = sm.last_completed_trade_date(now)
            if last is None or days <= 0:
                return []
            return sm.bars_before(last, int(days))

    # ------------------------------------------------------------------------------ orders

    def place_order(self, request: OrderRequest) -> OrderStatus:
        """Validate, record, and match at once if in session; invalid orders become Inactive."""
        with self._session() as (conn, now):
            problem = self._validate(request, now)
            if problem is not None:
                return self._insert_order(conn, request, now, "Inactive", problem, None)
            sm = self._market(request.contract.symbol)
            trade_date = sm.trade_date_at(now)
            if trade_date is None:
                day, _ = sm.next_session(now)
                message = "resting until the next session opens"
                return self._insert_order(conn, request, now, "PreSubmitted", message, day)
            status = self._insert_order(conn, request, now, "Submitted", "", trade_date)
            o = self._order_obj(conn, self._order_row(conn, int(status.order_id)))
            self._match(conn, sm, o, sm.quote_at(now), now, arriving=True)
            return _status_from_row(self._order_row(conn, o.order_id))

    def _validate(self, r: OrderRequest, now: datetime) -> str | None:
        """Why IB/CME would reject this order, or None if it is acceptable."""
        c = r.contract
        try:
            market = get_market(c.symbol)
        except UnknownMarketError as exc:
            return str(exc)
        if problem := r.shape_problem():
            return problem
        if r.order_type == "LMT":
            lp = r.limit_price
            if not _on_tick(float(lp or 0.0), market.tick):
                return (
                    f"Invalid Price: {lp} is not a multiple of the {c.local_symbol} tick "
                    f"{market.tick} (the price does not conform to the minimum price variation)"
                )
        sm = self._market(market.symbol)
        day = sm.trade_date_at(now) or sm.next_session(now)[0]
        if day > c.last_trade_date:
            return (
                f"contract {c.local_symbol} has expired: its last trade date was "
                f"{c.last_trade_date}, the next session is for {day}"
            )
        return None

    def _insert_order(
        self,
        conn: sqlite3.Connection,
        r: OrderRequest,
        now: datetime,
        status: str,
        message: str,
        trade_date: date | None,
    ) -> OrderStatus:
        limit = None if r.order_type == "MKT" or r.limit_price is None else float(r.limit_price)
        if limit is not None and status != "Inactive":
            limit = float(round_to_tick(limit, get_market(r.contract.symbol).tick))  # exact grid
        qty = int(r.quantity) if isinstance(r.quantity, numbers.Integral) else r.quantity
        c = r.contract
        cur = conn.execute(
            "INSERT INTO orders (order_ref, con_id, local_symbol, symbol, contract_month, side, "
            "quantity, order_type, limit_price, tif, trade_date, status, filled, avg_fill_price, "
            "submitted_at, updated_at, message) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, ?, ?, ?)",
            (r.order_ref, c.con_id, c.local_symbol, c.symbol, c.contract_month, r.side, qty,
             r.order_type, limit, r.tif, trade_date.isoformat() if trade_date else None, status,
             _ts(now), _ts(now), message),
        )  # fmt: skip
        return _status_from_row(self._order_row(conn, int(cur.lastrowid or 0)))

    def cancel_order(self, order_id: str) -> OrderStatus:
        """Cancel a working order; a done order comes back unchanged with a message."""
        with self._session() as (conn, now):
            row = self._order_row(conn, _parse_order_id(order_id))
            if row["status"] in DONE_STATES:
                status = _status_from_row(row)
                note = f"order {order_id} is already {row['status']}; nothing to cancel"
                return OrderStatus(**{**status.__dict__, "message": note})
            conn.execute(
                "UPDATE orders SET status = 'Cancelled', message = ?, updated_at = ? "
                "WHERE order_id = ?",
                ("cancelled by request", _ts(now), row["order_id"]),
            )
            return _status_from_row(self._order_row(conn, row["order_id"]))

    def order_status(self, order_id: str) -> OrderStatus:
        with self._session() as (conn, _):
            return _status_from_row(self._order_row(conn, _parse_order_id(order_id)))

    def orders(self, order_ref_prefix: str | None = None) -> list[OrderStatus]:
        """Every order in the account (the whole history), optionally by orderRef prefix."""
        where, args = _ref_filter(order_ref_prefix)
        with self._session() as (conn, _):
            rows = conn.execute(f"SELECT * FROM orders{where} ORDER BY order_id", args).fetchall()
        return [_status_from_row(r) for r in rows]

    def executions(
        self, order_ref_prefix: str | None = None, since: datetime | None = None
    ) -> list[Execution]:
        where, args = _ref_filter(order_ref_prefix)
        if since is not None:
            if since.tzinfo is None:
                raise BrokerError(f"executions(since=...) needs a timezone-aware time, got {since}")
            where += (" AND" if where else " WHERE") + " time >= ?"
            args.append(_ts(since))
        with self._session() as (conn, _):
            rows = conn.execute(
                f"SELECT * FROM executions{where} ORDER BY time, exec_id", args
            ).fetchall()
        return [_execution_from_row(r) for r in rows]

    def market(self, symbol: str) -> SimMarket:
        """The simulated market behind `symbol` (same seed as the account), for inspection."""
        return self._market(symbol)


def _ref_filter(prefix: str | None) -> tuple[str, list[object]]:
    """WHERE clause for a literal orderRef prefix (LIKE would treat _ and % as wildcards)."""
    if not prefix:
        return "", []
    return " WHERE substr(order_ref, 1, ?) = ?", [len(prefix), prefix]


def _parse_order_id(order_id: str) -> int:
    try:
        return int(str(order_id).strip())
    except ValueError:
        raise BrokerError(f"{order_id!r} is not a simulated order id (they are integers)") from None


def _market_for_local_symbol(local_symbol: str) -> Market:
    """The registry market whose symbol prefixes `local_symbol` (the longest such symbol)."""
    local = local_symbol.strip().upper()
    registry = load_registry()
    matches = [m for s, m in registry.items() if local.startswith(s) and len(local) == len(s) + 2]
    if not matches:
        raise BrokerError(
            f"{local_symbol!r} is not a local symbol of a known market (like ZOZ6); known "
            f"markets are {', '.join(sorted(registry))}"
        )
    return max(matches, key=lambda m: len(m.symbol))


__all__ = ["EXPIRY_REF", "Fill", "SimBroker", "match_order", "replay"]

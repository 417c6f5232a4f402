"""The TWS API socket protocol: framing, field encoding, message ids, and the request layouts.

What `hydra sim-gateway` needs to speak to a real IB API client (ib_insync, ib_async, IB's
own ibapi): a connection opens with the bytes ``API\\0`` followed by a length-prefixed
``v<min>..<max>`` version range; the server answers with its version and connection time;
after that every message in both directions is a 4-byte big-endian length followed by
NUL-terminated text fields, the first being the message id. The gateway serves server
versions MIN_CLIENT_VERSION..SERVER_VERSION (157..176: IB's ibapi 9.81.1 tops out at 157,
ib_insync 0.9.86 at 176, ib_async 2.1 asks 157..178) and refuses clients outside that range
(the connection is closed, the reason logged) rather than send layouts they cannot read.
Replies are laid out per negotiated version by tws_messages.for_version; requests are read as
ib_insync 0.9.86 writes them for 176, which matches older versions up to the fields parsed
here (fields past those are ignored).

Pure functions only: the server (tws_server.py) does the I/O.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum

from hydra.domain.errors import HydraError

SERVER_VERSION = 176
MIN_CLIENT_VERSION = 157  # ib_insync's MinClientVersion; older clients are refused
UNSET_DOUBLE = 1.7976931348623157e308  # Java's Double.MAX_VALUE: "no value" on the wire
UNSET_INTEGER = 2**31 - 1
HEADER = struct.Struct(">I")
MAX_MESSAGE = 16 * 1024 * 1024  # a frame larger than this is a protocol error, not a message


class ProtocolError(HydraError, ValueError):
    """The peer sent bytes that are not the TWS API protocol."""


class In(IntEnum):
    """Client -> server message ids."""

    REQ_MKT_DATA = 1
    CANCEL_MKT_DATA = 2
    PLACE_ORDER = 3
    CANCEL_ORDER = 4
    REQ_OPEN_ORDERS = 5
    REQ_ACCT_DATA = 6
    REQ_EXECUTIONS = 7
    REQ_IDS = 8
    REQ_CONTRACT_DATA = 9
    REQ_AUTO_OPEN_ORDERS = 15
    REQ_ALL_OPEN_ORDERS = 16
    REQ_MANAGED_ACCTS = 17
    REQ_HISTORICAL_DATA = 20
    CANCEL_HISTORICAL_DATA = 25
    REQ_CURRENT_TIME = 49
    REQ_GLOBAL_CANCEL = 58
    REQ_MARKET_DATA_TYPE = 59
    REQ_POSITIONS = 61
    REQ_ACCOUNT_SUMMARY = 62
    CANCEL_ACCOUNT_SUMMARY = 63
    CANCEL_POSITIONS = 64
    START_API = 71
    REQ_ACCOUNT_UPDATES_MULTI = 76
    CANCEL_ACCOUNT_UPDATES_MULTI = 77
    REQ_PNL = 92
    CANCEL_PNL = 93
    REQ_PNL_SINGLE = 94
    CANCEL_PNL_SINGLE = 95
    REQ_MARKET_RULE = 91
    REQ_COMPLETED_ORDERS = 99


class Out(IntEnum):
    """Server -> client message ids."""

    TICK_PRICE = 1
    TICK_SIZE = 2
    ORDER_STATUS = 3
    ERR_MSG = 4
    OPEN_ORDER = 5
    ACCT_VALUE = 6
    PORTFOLIO_VALUE = 7
    ACCT_UPDATE_TIME = 8
    NEXT_VALID_ID = 9
    CONTRACT_DATA = 10
    EXECUTION_DATA = 11
    MANAGED_ACCTS = 15
    HISTORICAL_DATA = 17
    CURRENT_TIME = 49
    CONTRACT_DATA_END = 52
    OPEN_ORDER_END = 53
    ACCT_DOWNLOAD_END = 54
    EXECUTION_DATA_END = 55
    TICK_SNAPSHOT_END = 57
    MARKET_DATA_TYPE = 58
    COMMISSION_REPORT = 59
    POSITION_DATA = 61
    POSITION_END = 62
    ACCOUNT_SUMMARY = 63
    ACCOUNT_SUMMARY_END = 64
    ACCOUNT_UPDATE_MULTI = 73
    ACCOUNT_UPDATE_MULTI_END = 74
    TICK_REQ_PARAMS = 81
    MARKET_RULE = 93
    PNL = 94
    PNL_SINGLE = 95
    COMPLETED_ORDER = 101
    COMPLETED_ORDERS_END = 102


# ------------------------------------------------------------------------------------ framing
def field(value: object) -> str:
    """One value as TWS writes it: '' for none/unset, 1/0 for booleans, Java-style infinity."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isnan(value) or value >= UNSET_DOUBLE:
            return ""
        if math.isinf(value):
            return "Infinity"
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, int) and value == UNSET_INTEGER:
        return ""
    return str(value)


def encode(fields: Iterable[object]) -> bytes:
    """A framed message: length prefix + NUL-terminated fields."""
    body = "".join(field(f) + "\0" for f in fields).encode()
    return HEADER.pack(len(body)) + body


def decode(body: bytes) -> list[str]:
    """The fields of one message body (without its length prefix)."""
    text = body.decode("utf-8", errors="replace")
    if not text.endswith("\0"):
        raise ProtocolError("a TWS API message must end with a NUL byte")
    return text.split("\0")[:-1]


def parse_version_range(text: str) -> tuple[int, int]:
    """'v157..176' (optionally followed by ' +PACEAPI') -> (157, 176)."""
    head = text.split(" ", 1)[0]
    if not head.startswith("v"):
        raise ProtocolError(f"expected a client version range like v157..176, got {text!r}")
    body = head[1:]
    try:
        if ".." in body:
            lo, hi = body.split("..", 1)
            return int(lo), int(hi)
        return int(body), int(body)
    except ValueError:
        raise ProtocolError(f"bad client version range {text!r}") from None


def negotiate(client_min: int, client_max: int) -> int:
    """The version both sides speak, or ProtocolError when there is none."""
    version = min(client_max, SERVER_VERSION)
    if version < max(client_min, MIN_CLIENT_VERSION):
        raise ProtocolError(
            f"client versions {client_min}..{client_max} do not overlap this server's "
            f"{MIN_CLIENT_VERSION}..{SERVER_VERSION}: the sim gateway lays messages out for "
            f"server versions {MIN_CLIENT_VERSION}..{SERVER_VERSION} only (IB's ibapi 9.81.1 gets "
            f"157, ib_insync 0.9.86 and ib_async 2.x get 176); refusing rather than sending "
            f"layouts the client cannot read"
        )
    return version


# --------------------------------------------------------------------------- field parsing
class Cursor:
    """Reads a message's fields in order with typed accessors (IB's empty means default)."""

    def __init__(self, fields: Sequence[str], start: int = 0) -> None:
        self.fields = fields
        self.i = start

    def str(self) -> str:
        if self.i >= len(self.fields):
            raise ProtocolError(f"message too short: wanted field {self.i} of {self.fields!r}")
        value = self.fields[self.i]
        self.i += 1
        return value

    def int(self, default: int = 0) -> int:
        text = self.str()
        if text == "":
            return default
        try:
            return int(float(text)) if "." in text else int(text)
        except ValueError:
            raise ProtocolError(f"field {self.i - 1} should be an integer, got {text!r}") from None

    def float(self, default: float = UNSET_DOUBLE) -> float:
        text = self.str()
        if text == "":
            return default
        try:
            return float(text)
        except ValueError:
            raise ProtocolError(f"field {self.i - 1} should be a number, got {text!r}") from None

    def bool(self) -> bool:
        text = self.str()
        return text not in ("", "0", "false", "False")

    def skip(self, n: int) -> None:
        self.i += n

    @property
    def left(self) -> int:
        return len(self.fields) - self.i


@dataclass(frozen=True)
class WireContract:
    """The 12 contract fields every request carries (client.send serialises a Contract so)."""

    con_id: int
    symbol: str
    sec_type: str
    last_trade_or_month: str
    strike: float
    right: str
    multiplier: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str
    trading_class: str

    @classmethod
    def read(cls, c: Cursor) -> WireContract:
        return cls(c.int(), c.str(), c.str(), c.str(), c.float(0.0), c.str(), c.str(), c.str(),
                   c.str(), c.str(), c.str(), c.str())


@dataclass(frozen=True)
class WireOrder:
    """The parts of a placeOrder message the simulated gateway acts on."""

    order_id: int
    contract: WireContract
    action: str
    quantity: float
    order_type: str
    limit_price: float | None
    aux_price: float | None
    tif: str
    account: str
    order_ref: str
    transmit: bool
    parent_id: int
    what_if: bool
    unsupported: str  # why this order uses a feature the gateway does not simulate, or ""
    e_trade_only: bool = False  # TWS 10 rejects both (errors 10268 / 10269); ibapi 9.81.1's
    firm_quote_only: bool = False  # Order() defaults them to True


def parse_place_order(fields: Sequence[str]) -> WireOrder:
    """Decode placeOrder (id 3) as ib_insync's client.placeOrder writes it for version 176."""
    c = Cursor(fields, 1)
    order_id = c.int()
    contract = WireContract.read(c)
    c.skip(2)  # secIdType, secId
    action, quantity, order_type = c.str(), c.float(0.0), c.str()
    limit, aux = c.float(), c.float()
    tif, _oca, account, _open_close, _origin, order_ref = (
        c.str(), c.str(), c.str(), c.str(), c.str(), c.str())
    transmit = c.str() != "0"
    parent_id = c.int()
    unsupported: list[str] = []
    what_if = e_trade_only = firm_quote_only = False
    if contract.sec_type == "BAG":
        unsupported.append("combo (BAG) orders")
    else:
        try:
            what_if, e_trade_only, firm_quote_only = _skip_to_what_if(c, unsupported)
        except ProtocolError:
            unsupported.append("an order layout this gateway cannot read")
    return WireOrder(
        order_id=order_id, contract=contract, action=action, quantity=quantity,
        order_type=order_type, limit_price=None if limit >= UNSET_DOUBLE else limit,
        aux_price=None if aux >= UNSET_DOUBLE else aux, tif=tif, account=account,
        order_ref=order_ref, transmit=transmit, parent_id=parent_id, what_if=what_if,
        unsupported="; ".join(unsupported), e_trade_only=e_trade_only,
        firm_quote_only=firm_quote_only,
    )


def _skip_to_what_if(c: Cursor, unsupported: list[str]) -> tuple[bool, bool, bool]:
    """Walk the variable part of placeOrder up to the whatIf flag -> (whatIf, eTradeOnly,
    firmQuoteOnly)."""
    c.skip(6)  # blockOrder, sweepToFill, displaySize, triggerMethod, outsideRth, hidden
    c.skip(1)  # deprecated sharesAllocation ''
    c.skip(17)  # discretionaryAmt .. percentOffset
    e_trade_only, firm_quote_only = c.bool(), c.bool()
    c.skip(10)  # nbboPriceCap .. volatilityType
    delta_neutral_type = c.str()
    c.skip(1)  # deltaNeutralAuxPrice
    if delta_neutral_type:
        unsupported.append("delta-neutral orders")
        c.skip(8)
    c.skip(6)  # continuousUpdate, referencePriceType, trailStopPrice, trailingPercent,
    #            scaleInitLevelSize, scaleSubsLevelSize
    increment = c.float()
    if 0 < increment < UNSET_DOUBLE:
        unsupported.append("scale orders")
        c.skip(7)
    c.skip(3)  # scaleTable, activeStartTime, activeStopTime
    if c.str():  # hedgeType
        unsupported.append("hedge orders")
        c.skip(1)
    c.skip(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if c.bool():  # deltaNeutralContract present
        unsupported.append("delta-neutral contracts")
        c.skip(3)
    if c.str():  # algoStrategy
        unsupported.append("IB algos")
        n = c.int()
        c.skip(2 * n)
    c.skip(1)  # algoId
    return c.bool(), e_trade_only, firm_quote_only


@dataclass(frozen=True)
class ExecFilter:
    client_id: int
    account: str
    time: str
    symbol: str
    sec_type: str
    exchange: str
    side: str


def parse_exec_filter(fields: Sequence[str]) -> tuple[int, ExecFilter]:
    c = Cursor(fields, 2)
    req_id = c.int()
    return req_id, ExecFilter(c.int(), c.str(), c.str(), c.str(), c.str(), c.str(), c.str())


@dataclass(frozen=True)
class HistoricalRequest:
    req_id: int
    contract: WireContract
    include_expired: bool
    end: str
    bar_size: str
    duration: str
    use_rth: bool
    what_to_show: str
    format_date: int
    keep_up_to_date: bool


def parse_historical(fields: Sequence[str]) -> HistoricalRequest:
    c = Cursor(fields, 1)
    req_id = c.int()
    contract = WireContract.read(c)
    include_expired, end, bar_size, duration = c.bool(), c.str(), c.str(), c.str()
    use_rth, what, fmt = c.bool(), c.str(), c.int(1)
    keep = c.bool() if contract.sec_type != "BAG" and c.left else False
    return HistoricalRequest(req_id, contract, include_expired, end, bar_size, duration,
                             use_rth, what, fmt, keep)


def parse_mkt_data(fields: Sequence[str]) -> tuple[int, WireContract, bool]:
    """reqMktData -> (reqId, contract, snapshot)."""
    c = Cursor(fields, 2)
    req_id = c.int()
    contract = WireContract.read(c)
    if contract.sec_type == "BAG":
        n = c.int()
        c.skip(4 * n)
    if c.bool():  # delta-neutral contract
        c.skip(3)
    c.skip(1)  # genericTickList
    snapshot = c.bool()
    return req_id, contract, snapshot


def duration_days(duration: str) -> int:
    """IB's durationStr ('30 D', '2 W', '6 M', '2 Y', '3600 S') in calendar days (>= 1)."""
    parts = duration.split()
    if len(parts) != 2:
        raise ValueError(f"bad duration {duration!r}: expected like '60 D' or '2 Y'")
    n, unit = int(parts[0]), parts[1].upper()
    per = {"S": 1 / 86400, "D": 1, "W": 7, "M": 31, "Y": 366}
    if unit not in per or n <= 0:
        raise ValueError(f"bad duration {duration!r}: unit must be S, D, W, M or Y")
    return max(1, math.ceil(n * per[unit]))

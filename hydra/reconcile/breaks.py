"""Broker vs journal: every fill, every position, every commission, and every break listed.

Pure functions: the caller brings the journal's fills and the broker's executions and positions
(hydra.reconcile.fill_report reads them). Executions are matched to fills by execId stem, so a
broker correction (same stem, later suffix) that the journal has not applied is a break of its own
rather than one missing and one extra fill.

Scope. Fills and Hydra executions (orderRef "HYD-...") are compared over the report's trade
dates; a Hydra execution is dated by the trade date in its orderRef. Positions are compared at
the broker's current time against the WHOLE journal, since a position is the sum of every fill
ever made. Executions Hydra did not place are classified: the simulator's expiry close-outs
(orderRef "SIM-EXPIRY") change the position for a known reason and are listed as explained;
anything else ("foreign") changes the position behind the journal's back and is a break.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from functools import cached_property
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hydra.broker.columns import ExecutionColumns
from hydra.config import ReconcileConfig
from hydra.domain import fills
from hydra.domain.broker import Execution, Position
from hydra.execution.fillsync import HYDRA_PREFIX

_REF_DAY = r"^HYD-[A-Z0-9]+-(\d{8})-"  # a Hydra orderRef's trade date (fillsync._REF)
EXPIRY_REF = "SIM-EXPIRY"  # broker.sim.broker.EXPIRY_REF (not imported: keep this pure)

# kind -> what it means and what to do; `explained` kinds are listed but not counted as breaks
KINDS: dict[str, str] = {
    "missing_in_journal": (
        "the broker reports this Hydra execution and the journal has no fill for it: the next "
        "cycle's start-up sync journals it (hydra.execution.fillsync.sync_fills); if it stays, "
        "investigate why the sync does not pick it up"),
    "missing_at_broker": (
        "the journal has a fill the broker does not report: check the account (reset? another "
        "account?) before trusting the journal's position"),
    "correction_not_applied": (
        "the broker corrected this execution (same execId stem, later suffix) and the journal "
        "still holds the earlier version"),
    "side_mismatch": "the journal and the broker disagree on the side of this execution",
    "quantity_mismatch": "the journal and the broker disagree on the quantity of this execution",
    "price_mismatch": "the journal and the broker disagree on the price of this execution",
    "commission_mismatch": (
        "the journal's commission differs from the broker's commission report (a late report "
        "is picked up by the next sync)"),
    "foreign_execution": (
        "an execution Hydra did not place (orderRef not starting with HYD-): it changes the "
        "position without the journal knowing"),
    "position_mismatch": (
        "the broker's position differs from the position the journal's fills (plus explained "
        "executions) imply"),
    "expiry_close": (
        "explained: the simulator closed a position in an expired contract at its last trade "
        "date's close (orderRef SIM-EXPIRY)"),
}


@dataclass(frozen=True)
class Break:
    kind: str
    explained: bool
    local_symbol: str
    exec_id: str | None
    order_ref: str | None
    journal: str  # what the journal says ("-" when it has nothing)
    broker: str  # what the broker says
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _break(kind: str, local: str, exec_id: str | None, order_ref: str | None, journal: str,
           broker: str, explained: bool = False) -> Break:
    return Break(kind, explained, local, exec_id, order_ref, journal, broker, KINDS[kind])


# ---------------------------------------------------------------------------- executions
EXEC_COLUMNS = ["exec_id", "order_ref", "account_id", "symbol", "local_symbol", "side",
                "quantity", "price", "time", "commission"]


def executions_frame(executions: Iterable[Execution]) -> pd.DataFrame:
    """Column by column through Arrow (a million executions: seconds less than row tuples);
    times stay the broker's datetime objects, as before."""
    items = executions if isinstance(executions, list) else list(executions)
    if not items:
        return pd.DataFrame(columns=EXEC_COLUMNS)
    cols = {c: list(map(attrgetter(c), items)) for c in EXEC_COLUMNS}
    times = cols.pop("time")
    frame = pa.table({c: pa.array(v) for c, v in cols.items()}).to_pandas()
    frame["time"] = pd.Series(times, dtype=object)
    return frame[EXEC_COLUMNS]


def _stems(exec_ids: pd.Series) -> pd.Series:
    """hydra.domain.fills.exec_stem of every execId, vectorised (Arrow's regex: no Python loop)."""
    arr = pa.array(exec_ids.astype("str"), type=pa.string())
    # split at the last dot only; no dot: the whole id, as exec_stem does
    out = pc.list_element(pc.split_pattern(arr, ".", max_splits=1, reverse=True), 0)
    return pd.Series(out.to_pandas().array, index=exec_ids.index)


def execution_origin(order_ref: str) -> str:
    """"hydra" (orderRef HYD-...), "expiry" (the simulator's close-out) or "foreign"."""
    if order_ref.startswith(HYDRA_PREFIX):
        return "hydra"
    if order_ref == EXPIRY_REF:
        return "expiry"
    return "foreign"


def trade_dates(execs: pd.DataFrame, timezone: str) -> pd.Series:
    """A Hydra execution's trade date is in its orderRef (as fillsync.cycle_of reads it);
    others: the exchange-local calendar date of the execution. Vectorised: a million
    executions take a second, not a minute."""
    if not len(execs):
        return pd.Series([], dtype=object)
    text = _ref_days(pa.array(execs["order_ref"].astype("str"), type=pa.string()))
    day = pd.Series(text.to_numpy(zero_copy_only=False), index=execs.index, dtype=object)
    bad = day.isna().to_numpy()
    if bad.any():  # not a Hydra ref (or not a date in it): the exchange-local calendar day
        local = pd.to_datetime(execs.loc[bad, "time"], utc=True).dt.tz_convert(
            ZoneInfo(timezone))
        day.loc[bad] = local.dt.strftime("%Y-%m-%d").to_numpy()
    return day.astype(object)


def _ref_days(refs: pa.Array) -> pa.Array:
    """The trade date YYYY-MM-DD in each Hydra orderRef; null where there is none."""
    digits = pc.struct_field(pc.extract_regex(refs, pattern=_REF_DAY.replace("(", "(?P<d>", 1)),
                             [0])
    # a few thousand distinct days among a million refs: each checked and formatted once
    coded = pc.dictionary_encode(digits).combine_chunks() if isinstance(
        digits, pa.ChunkedArray) else pc.dictionary_encode(digits)
    days = coded.dictionary
    valid = pc.is_valid(pc.strptime(days, format="%Y%m%d", unit="s", error_is_null=True))
    # YYYYMMDD -> YYYY-MM-DD by slicing (strftime of a million dates takes a second)
    parts = [pc.utf8_slice_codeunits(days, a, b) for a, b in ((0, 4), (4, 6), (6, 8))]
    text = pc.if_else(valid, pc.binary_join_element_wise(*parts, "-"),
                      pa.scalar(None, pa.string()))
    return text.take(coded.indices)


def in_range(as_of: pd.Series, since: date | None, until: date | None) -> pd.Series:
    keep = pd.Series(True, index=as_of.index)
    if since is not None:
        keep &= as_of >= since.isoformat()
    if until is not None:
        keep &= as_of <= until.isoformat()
    return keep


def latest_per_stem(execs: pd.DataFrame) -> pd.DataFrame:
    """One execution per execId stem: the latest correction (the rule of hydra.domain.fills)."""
    if not len(execs):
        return execs.assign(exec_stem=pd.Series(dtype=object))
    out = execs.assign(exec_stem=_stems(execs["exec_id"]))
    if out["exec_stem"].is_unique:
        return out
    keep = set(fills.latest_per_stem(out["exec_id"], str))
    return out[out["exec_id"].isin(keep)].drop_duplicates("exec_stem", keep="last")


def _fmt(side: Any, qty: Any, price: Any, commission: Any = None) -> str:
    text = f"{side} {int(qty)} @ {float(price):g}"
    if commission is not None and not pd.isna(commission):
        text += f", commission {float(commission):.2f}"
    return text


def compare_fills(journal: pd.DataFrame, hydra_execs: pd.DataFrame,
                  cfg: ReconcileConfig) -> tuple[list[Break], int]:
    """Journal fills vs the broker's Hydra executions, by execId stem: (breaks, matched).

    Both frames must already be cut to the same scope (trade dates, market, account).
    """
    jcols = ["exec_id", "exec_stem", "order_ref", "local_symbol", "side", "quantity", "price",
             "commission", "tick"]
    j = journal[jcols] if len(journal) else pd.DataFrame(columns=jcols)
    b = latest_per_stem(hydra_execs)[["exec_id", "exec_stem", "order_ref", "local_symbol",
                                      "side", "quantity", "price", "commission"]]
    m = j.merge(b, on="exec_stem", how="outer", suffixes=("_j", "_b"), indicator=True)
    breaks: list[Break] = []
    for r in m[m["_merge"] == "left_only"].itertuples(index=False):
        breaks.append(_break("missing_at_broker", r.local_symbol_j, r.exec_id_j, r.order_ref_j,
                             _fmt(r.side_j, r.quantity_j, r.price_j, r.commission_j), "-"))
    for r in m[m["_merge"] == "right_only"].itertuples(index=False):
        breaks.append(_break("missing_in_journal", r.local_symbol_b, r.exec_id_b, r.order_ref_b,
                             "-", _fmt(r.side_b, r.quantity_b, r.price_b, r.commission_b)))
    both = m[m["_merge"] == "both"]
    if len(both):
        tick = both["tick"].astype(float).fillna(0.0)
        tol = np.maximum(cfg.price_tolerance_ticks * tick, 1e-9)
        jc, bc = both["commission_j"].astype(float), both["commission_b"].astype(float)
        checks = {
            "correction_not_applied": both["exec_id_j"] != both["exec_id_b"],
            "side_mismatch": both["side_j"] != both["side_b"],
            "quantity_mismatch": both["quantity_j"].astype("int64")
            != both["quantity_b"].astype("int64"),
            "price_mismatch": (both["price_j"].astype(float)
                               - both["price_b"].astype(float)).abs() > tol,
            "commission_mismatch": bc.notna() & (
                jc.isna() | ((jc - bc).abs() > cfg.commission_tolerance_usd)),
        }
        for kind, bad in checks.items():
            for r in both[bad].itertuples(index=False):
                breaks.append(_break(
                    kind, r.local_symbol_b, r.exec_id_b, r.order_ref_b,
                    f"{r.exec_id_j}: " + _fmt(r.side_j, r.quantity_j, r.price_j, r.commission_j),
                    f"{r.exec_id_b}: " + _fmt(r.side_b, r.quantity_b, r.price_b, r.commission_b)))
    matched = int((m["_merge"] == "both").sum())
    return breaks, matched


# ------------------------------------------------------------------------------ positions
def signed(side: pd.Series, quantity: pd.Series) -> pd.Series:
    return np.where(side == "BUY", 1, -1) * quantity.astype("int64")


def net_by_contract(frame: pd.DataFrame) -> dict[str, int]:
    """Signed quantity per local symbol (zero positions left out)."""
    if not len(frame):
        return {}
    net = pd.Series(signed(frame["side"], frame["quantity"]), index=frame.index)
    out = net.groupby(frame["local_symbol"]).sum()
    return {str(k): int(v) for k, v in out.items() if v != 0}


POSITION_COLUMNS = ["local_symbol", "journal", "explained", "expected", "broker", "difference",
                    "status"]


def compare_positions(journal_net: dict[str, int], explained_net: dict[str, int],
                      broker: Iterable[Position], foreign_net: dict[str, int] | None = None
                      ) -> tuple[pd.DataFrame, list[Break]]:
    """Per contract: journal-implied + explained changes vs the broker's position."""
    held = {p.local_symbol: int(p.quantity) for p in broker if p.quantity}
    foreign_net = foreign_net or {}
    rows, breaks = [], []
    for local in sorted(set(journal_net) | set(explained_net) | set(held)):
        j, x, b = journal_net.get(local, 0), explained_net.get(local, 0), held.get(local, 0)
        expected = j + x
        ok = expected == b
        rows.append({"local_symbol": local, "journal": j, "explained": x, "expected": expected,
                     "broker": b, "difference": b - expected, "status": "ok" if ok else "BREAK"})
        if not ok:
            note = f" (foreign executions net {foreign_net[local]:+d})" \
                if foreign_net.get(local) else ""
            breaks.append(_break("position_mismatch", local, None, None,
                                 f"{expected:+d} (fills {j:+d}, explained {x:+d})",
                                 f"{b:+d}{note}"))
    return pd.DataFrame(rows, columns=POSITION_COLUMNS), breaks


# ------------------------------------------------------------------------ position history
def position_over_time(journal: pd.DataFrame, explained: pd.DataFrame | None = None
                       ) -> pd.DataFrame:
    """Position after every fill (and explained execution), per contract and per market."""
    cols = ["time", "symbol", "local_symbol", "change", "position", "market_position", "source"]
    parts = []
    if len(journal):
        parts.append(pd.DataFrame({
            "time": pd.to_datetime(journal["fill_time"], utc=True, format="ISO8601"),
            "symbol": journal["symbol"], "local_symbol": journal["local_symbol"],
            "change": signed(journal["side"], journal["quantity"]), "source": "journal"}))
    if explained is not None and len(explained):
        parts.append(pd.DataFrame({
            "time": pd.to_datetime(explained["time"], utc=True),
            "symbol": explained["symbol"], "local_symbol": explained["local_symbol"],
            "change": signed(explained["side"], explained["quantity"]), "source": "explained"}))
    if not parts:
        return pd.DataFrame(columns=cols)
    ev = pd.concat(parts, ignore_index=True).sort_values("time", kind="stable")
    ev["position"] = ev.groupby("local_symbol")["change"].cumsum().astype("int64")
    ev["market_position"] = ev.groupby("symbol")["change"].cumsum().astype("int64")
    return ev[cols].reset_index(drop=True)


# --------------------------------------------------------------------------- the whole check
@dataclass
class BrokerReconciliation:
    """The broker check's outcome: matched counts, totals, positions and every break."""

    broker: str
    account_id: str
    broker_time: str | None
    status: str  # "compared" | "no_account" | "skipped"
    message: str
    journal_fills: int = 0  # journal fills compared (in scope)
    broker_executions: int = 0  # Hydra executions at the broker in scope
    matched: int = 0
    not_compared: int = 0  # journal fills older than the broker's execution history
    journal_commission: float = 0.0
    broker_commission: float = 0.0
    breaks: list[Break] = field(default_factory=list)  # unexplained
    explained: list[Break] = field(default_factory=list)
    positions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=POSITION_COLUMNS))
    # position_over_time, built when first asked for (the chart's input, not a metric: a
    # million fills sorted by time cost a second the report's numbers do not need)
    history_of: Callable[[], pd.DataFrame] | None = field(default=None, repr=False)

    @cached_property
    def history(self) -> pd.DataFrame | None:
        return self.history_of() if self.history_of is not None else None

    @property
    def break_count(self) -> int:
        return len(self.breaks)

    @property
    def nothing_to_compare(self) -> bool:
        return not (self.journal_fills or self.broker_executions or self.explained
                    or len(self.positions))

    @property
    def headline(self) -> str:
        if self.status == "skipped":
            return f"broker check skipped: {self.message}"
        if not self.breaks and self.nothing_to_compare:
            return "zero breaks: nothing to compare (no fills, no executions, no positions)"
        if not self.breaks:
            extra = f"; {len(self.explained)} explained" if self.explained else ""
            return (f"zero breaks: {self.matched} fill(s) match the broker's executions and "
                    f"every position agrees{extra}")
        kinds = pd.Series([b.kind for b in self.breaks]).value_counts()
        listed = ", ".join(f"{n} {k}" for k, n in kinds.items())
        return f"{len(self.breaks)} BREAK(S): {listed}"

    def breaks_frame(self, explained: bool = False) -> pd.DataFrame:
        items = self.explained if explained else self.breaks
        cols = ["kind", "local_symbol", "exec_id", "order_ref", "journal", "broker", "detail"]
        return pd.DataFrame([{c: getattr(b, c) for c in cols} for b in items], columns=cols)

    def as_dict(self) -> dict[str, Any]:
        return {
            "broker": self.broker, "account_id": self.account_id,
            "broker_time": self.broker_time, "status": self.status, "message": self.message,
            "journal_fills": self.journal_fills, "broker_executions": self.broker_executions,
            "matched": self.matched, "not_compared": self.not_compared,
            "journal_commission": self.journal_commission,
            "broker_commission": self.broker_commission,
            "breaks": len(self.breaks), "explained": len(self.explained),
            "break_list": [b.as_dict() for b in self.breaks],
            "explained_list": [b.as_dict() for b in self.explained],
            "positions": [{k: (int(v) if isinstance(v, np.integer) else v) for k, v in r.items()}
                          for r in self.positions.to_dict("records")],
        }


def reconcile(journal_all: pd.DataFrame, executions: Iterable[Execution],
              positions: Iterable[Position], cfg: ReconcileConfig, *, since: date | None,
              until: date | None, timezone: str, broker: str, account_id: str,
              broker_time: str | None, status: str = "compared", message: str = "",
              history_start: datetime | None = None, symbol: str | None = None
              ) -> BrokerReconciliation:
    """Compare the journal (all fills of this account) with the broker's executions/positions.

    `history_start`: the broker only reports executions from then on (IB: the current day);
    older journal fills are counted as not compared instead of reported missing.
    """
    ex = executions_frame(executions)
    if symbol is not None and len(ex):
        ex = ex[ex["symbol"] == symbol]
    if symbol is not None:  # the report covers one market: other markets are not its business
        positions = [p for p in positions if p.symbol == symbol]
    origin = ex["order_ref"].map(execution_origin) if len(ex) else pd.Series(dtype=object)
    dates = trade_dates(ex, timezone)
    scope = in_range(dates, since, until) if len(ex) else pd.Series(dtype=bool)

    journal = journal_all
    if len(journal):
        journal = journal_all[in_range(journal_all["as_of"], since, until)]
    not_compared = 0
    if history_start is not None and len(journal):
        old = pd.to_datetime(journal["fill_time"], utc=True, format="ISO8601") < history_start
        not_compared = int(old.sum())
        journal = journal[~old]

    hydra = ex[(origin == "hydra") & scope] if len(ex) else ex
    if history_start is not None and len(hydra):  # both sides cut at the same instant
        hydra = hydra[pd.to_datetime(hydra["time"], utc=True) >= history_start]
    fill_breaks, matched = compare_fills(journal, hydra, cfg)

    expiry_all = ex[origin == "expiry"] if len(ex) else ex
    foreign_all = ex[origin == "foreign"] if len(ex) else ex
    explained = [_break("expiry_close", r.local_symbol, r.exec_id, r.order_ref, "-",
                        _fmt(r.side, r.quantity, r.price, r.commission), explained=True)
                 for r in ex[(origin == "expiry") & scope].itertuples(index=False)] \
        if len(ex) else []
    foreign = [_break("foreign_execution", r.local_symbol, r.exec_id, r.order_ref, "-",
                      _fmt(r.side, r.quantity, r.price, r.commission))
               for r in ex[(origin == "foreign") & scope].itertuples(index=False)] \
        if len(ex) else []

    table, position_breaks = compare_positions(
        net_by_contract(journal_all), net_by_contract(expiry_all), positions,
        net_by_contract(foreign_all))
    return BrokerReconciliation(
        broker=broker, account_id=account_id, broker_time=broker_time, status=status,
        message=message, journal_fills=len(journal), broker_executions=len(hydra),
        matched=matched, not_compared=not_compared,
        journal_commission=float(journal["commission"].fillna(0).sum()) if len(journal) else 0.0,
        broker_commission=float(hydra["commission"].fillna(0).sum()) if len(hydra) else 0.0,
        breaks=[*fill_breaks, *foreign, *position_breaks], explained=explained,
        positions=table, history_of=lambda: position_over_time(journal_all, expiry_all),
    )


# ------------------------------------------------------- the same check, over columns
# reconcile() over the journal's columns (hydra.execution.fill_codec.FillColumns) and the broker's
# executions as Arrow columns: the same BrokerReconciliation, break for break and in the same
# order, without a DataFrame per fill (fill_report's fast path; reconcile() above is the
# reference that tests/reconcile/test_fast_report.py and benchmarks/reconcile.py compare it with).
def _days_in(days: pa.Array, since: date | None, until: date | None) -> np.ndarray:
    keep = pa.array(np.ones(len(days), dtype=bool))
    if since is not None:
        keep = pc.and_(keep, pc.greater_equal(days, since.isoformat()))
    if until is not None:
        keep = pc.and_(keep, pc.less_equal(days, until.isoformat()))
    return np.asarray(pc.fill_null(keep, False).to_numpy(zero_copy_only=False), dtype=bool)


def _flags(x: Any) -> np.ndarray:
    """An Arrow boolean as numpy (null: False)."""
    return np.asarray(pc.fill_null(x, False).to_numpy(zero_copy_only=False), dtype=bool)


def prepare_executions(ex: ExecutionColumns) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """Each execution's origin (Hydra, the simulator's expiry) and its orderRef's trade date,
    computed once per columns and kept on them (columns never change): the thread that reads
    the broker (fill_report.prefetch_broker) calls it, so that this work (the regex over a
    million refs) runs while the journal is read."""
    found = ex.derived.get("origin_days")
    if found is None:
        is_hydra = _flags(pc.starts_with(ex.order_ref, HYDRA_PREFIX))
        is_expiry = ~is_hydra & _flags(pc.equal(ex.order_ref, EXPIRY_REF))
        found = ex.derived["origin_days"] = (is_hydra, is_expiry, _ref_days(ex.order_ref))
    return found


def reconcile_columns(cols: Any, mine: np.ndarray,
                      executions: Iterable[Execution] | ExecutionColumns,
                      positions: Iterable[Position], cfg: ReconcileConfig, *,
                      since: date | None, until: date | None, timezone: str, broker: str,
                      account_id: str, broker_time: str | None, status: str = "compared",
                      message: str = "", history_start: datetime | None = None,
                      symbol: str | None = None) -> BrokerReconciliation:
    """reconcile() with the journal as FillColumns and `mine` its rows of this account (in the
    report's order), the executions as objects or as columns (cut to `symbol` already, as a
    broker's column read does): the same outcome."""
    if isinstance(executions, ExecutionColumns):
        ex = executions
        if symbol is not None and ex.market != symbol:
            raise ValueError(f"executions of {ex.market or 'every market'} given for a report "
                             f"of {symbol}")
    else:
        ex = ExecutionColumns.of(list(executions), symbol)
    if symbol is not None:
        positions = [p for p in positions if p.symbol == symbol]
    is_hydra, is_expiry, days = prepare_executions(ex)
    is_foreign = ~is_hydra & ~is_expiry
    bad = np.flatnonzero(~_flags(pc.is_valid(days)))
    if len(bad):  # not a Hydra ref: the exchange-local calendar day (as trade_dates)
        local = pd.to_datetime(pd.Series([e.time for e in ex.items(bad)], dtype=object),
                               utc=True).dt.tz_convert(ZoneInfo(timezone))
        text = np.asarray(days.to_numpy(zero_copy_only=False), dtype=object)
        text[bad] = local.dt.strftime("%Y-%m-%d").to_numpy()
        days = pa.array(text, pa.string())
    scope = _days_in(days, since, until)

    in_dates = cols.where("as_of", lambda a: _days_in(pa.array(a.astype(str), pa.string()),
                                                       since, until))
    journal = mine[in_dates[mine]]  # the report's order
    not_compared = 0
    if history_start is not None and len(journal):
        old = (_fill_times(cols, journal) < history_start).to_numpy()
        not_compared = int(old.sum())
        journal = journal[~old]

    hydra = np.flatnonzero(is_hydra & scope)
    if history_start is not None and len(hydra):  # both sides cut at the same instant
        times = pd.to_datetime(pd.Series([e.time for e in ex.items(hydra)], dtype=object),
                               utc=True)
        hydra = hydra[(times >= history_start).to_numpy()]
    in_key_order = np.zeros(len(cols), dtype=bool)
    in_key_order[journal] = True  # the same rows in key order, without sorting them
    fill_breaks, matched = _compare_fill_columns(cols, np.flatnonzero(in_key_order), ex, hydra,
                                                 cfg)

    explained = [_break("expiry_close", e.local_symbol, e.exec_id, e.order_ref, "-",
                        _fmt(e.side, e.quantity, e.price, e.commission), explained=True)
                 for e in ex.items(np.flatnonzero(is_expiry & scope))]
    foreign = [_break("foreign_execution", e.local_symbol, e.exec_id, e.order_ref, "-",
                      _fmt(e.side, e.quantity, e.price, e.commission))
               for e in ex.items(np.flatnonzero(is_foreign & scope))]
    expiry_frame = executions_frame(ex.items(np.flatnonzero(is_expiry)))
    table, position_breaks = compare_positions(
        _net_of_columns(cols, mine), net_by_contract(expiry_frame), positions,
        net_by_contract(executions_frame(ex.items(np.flatnonzero(is_foreign)))))
    commission, broker_commission = cols.commission[journal], ex.commission[hydra]
    return BrokerReconciliation(
        broker=broker, account_id=account_id, broker_time=broker_time, status=status,
        message=message, journal_fills=len(journal), broker_executions=len(hydra),
        matched=matched, not_compared=not_compared,
        journal_commission=float(np.where(np.isnan(commission), 0.0, commission).sum())
        if len(journal) else 0.0,
        broker_commission=float(np.where(np.isnan(broker_commission), 0.0,
                                         broker_commission).sum()) if len(hydra) else 0.0,
        breaks=[*fill_breaks, *foreign, *position_breaks], explained=explained,
        positions=table,
        history_of=lambda: position_over_time(history_frame(cols, mine), expiry_frame),
    )


def _fill_times(cols: Any, rows: np.ndarray) -> pd.Series:
    """UTC fill times of some rows (text times parsed as reconcile() parses the journal's)."""
    us = cols.fill_time_us[rows]
    out = pd.Series(pd.to_datetime(np.where(us < 0, 0, us), unit="us", utc=True))
    text = np.flatnonzero(us < 0)
    if len(text):
        stems = cols.exec_stem.take(pa.array(rows[text])).to_pylist()
        parsed = pd.to_datetime(pd.Series([cols.text_times[s] for s in stems]), utc=True,
                                format="ISO8601", errors="coerce")
        out.iloc[text] = parsed.dt.as_unit(out.dt.unit).to_numpy()
    return out


def history_frame(cols: Any, rows: np.ndarray) -> pd.DataFrame:
    """What position_over_time reads of the journal (FillColumns), for some rows in order."""
    ctx = pa.array(cols.ctx[rows])
    text = {name: pa.array(cols.contexts[name].astype(str), pa.string()).take(ctx)
            for name in ("symbol", "local_symbol", "side")}
    return pd.DataFrame({"fill_time": _fill_times(cols, rows),
                         **{k: pd.Series(pd.arrays.ArrowStringArray(v)) for k, v in text.items()},
                         "quantity": cols.quantity[rows]})


def _net_of_columns(cols: Any, rows: np.ndarray) -> dict[str, int]:
    """net_by_contract of some fills."""
    names, codes = cols.codes("local_symbol")
    buy = cols.where("side", lambda s: s == "BUY")[rows]
    change = np.where(buy, 1, -1) * cols.quantity[rows]
    net = np.zeros(len(names), dtype="int64")
    np.add.at(net, codes[rows], change)
    return {str(names[i]): int(v) for i, v in enumerate(net) if v != 0}


def _same_ids(j_ids: pa.Array, b_ids: pa.Array) -> np.ndarray | None:
    """The usual case, found without splitting or sorting a million strings: every journal
    fill's execId is exactly one broker execution's (no correction, nothing missing). Returns
    each journal row's broker position (journal order), or None (then match by stem)."""
    if len(j_ids) != len(b_ids):
        return None
    if not len(j_ids) or pc.all(pc.equal(j_ids, b_ids)).as_py():
        return np.arange(len(j_ids))  # the same order, too (the broker's is the key's)
    at = pc.index_in(b_ids, value_set=j_ids)  # a hash join on the whole execId
    if at.null_count:
        return None
    where = np.asarray(at.to_numpy(zero_copy_only=False), dtype="int64")
    if (np.bincount(where, minlength=len(j_ids)) != 1).any():
        return None  # an execId twice at the broker: the stem rules decide
    out = np.empty(len(where), dtype="int64")
    out[where] = np.arange(len(where))
    return out


def _side_differs(cols: Any, rows: np.ndarray, ex: ExecutionColumns, b: np.ndarray) -> np.ndarray:
    """side_j != side_b per pair, over a table of (context side, broker side) pairs: no
    string per fill is compared or built."""
    coded = pc.dictionary_encode(ex.side.take(pa.array(b, pa.int64())))
    broker_sides = coded.dictionary.to_pylist()
    journal_sides = cols.contexts["side"].astype(str).tolist()
    table = np.array([[j != x for x in broker_sides] for j in journal_sides], dtype=bool
                     ).reshape(len(journal_sides), len(broker_sides))
    idx = coded.indices
    if idx.null_count:  # a broker side of None: differs from every journal side
        table = np.column_stack([table, np.ones(len(journal_sides), dtype=bool)])
        idx = pc.fill_null(idx, len(broker_sides))
    return table[cols.ctx[rows], np.asarray(idx.to_numpy(zero_copy_only=False), "int64")]


def _compare_fill_columns(cols: Any, journal: np.ndarray, ex: ExecutionColumns, hydra: np.ndarray,
                          cfg: ReconcileConfig) -> tuple[list[Break], int]:
    """compare_fills: journal rows (in key order) vs the broker's Hydra executions `hydra`
    (positions in `ex`), matched by execId stem; breaks in compare_fills' order (by stem)."""
    ids = ex.exec_id if len(hydra) == len(ex) else ex.exec_id.take(
        pa.array(hydra, pa.int64()))  # `hydra` ascends: as long as the whole, it is the whole
    all_ids = cols.exec_ids()
    exec_ids = all_ids if len(journal) == len(cols) and (
        journal == np.arange(len(cols))).all() else all_ids.take(pa.array(journal, pa.int64()))
    same = _same_ids(exec_ids, ids)
    if same is not None:
        pairs_j, pairs_b = np.arange(len(journal)), same
        left, right = np.arange(0), np.arange(0)
    else:
        stems = pc.list_element(pc.split_pattern(ids, ".", max_splits=1, reverse=True), 0)
        order = np.asarray(pc.sort_indices(stems).to_numpy(), dtype="int64")
        sorted_stems = stems.take(pa.array(order, pa.int64()))
        if len(sorted_stems) > 1 and pc.any(pc.equal(sorted_stems[1:], sorted_stems[:-1])
                                            ).as_py():
            # corrections at the broker: the latest per stem only, as latest_per_stem keeps
            kept = latest_per_stem(pd.DataFrame({"exec_id": ids.to_pylist(), "at": hydra}))
            return _compare_fill_columns(cols, journal, ex, np.sort(kept["at"].to_numpy()), cfg)
        js = cols.exec_stem.take(pa.array(journal, pa.int64()))
        at = pc.index_in(js, value_set=stems)
        found = _flags(pc.is_valid(at))
        pairs_j = np.flatnonzero(found)
        pairs_b = np.asarray(pc.drop_null(at).to_numpy(zero_copy_only=False), dtype="int64")
        left = np.flatnonzero(~found)
        hit = np.zeros(len(hydra), dtype=bool)
        hit[pairs_b] = True
        right = order[~hit[order]]  # in key order
    sides = cols.contexts["side"].astype(str).tolist()
    locals_ = cols.contexts["local_symbol"].astype(str).to_numpy()

    def fmt_j(k: int) -> str:
        return _fmt(sides[int(cols.ctx[k])], cols.quantity[k], cols.price[k], cols.commission[k])

    def fmt_b(e: Execution) -> str:
        return _fmt(e.side, e.quantity, e.price, e.commission)

    breaks: list[Break] = []
    refs = cols.order_refs(journal[left])  # read for these rows only
    for k in journal[left]:
        breaks.append(_break("missing_at_broker", locals_[cols.ctx[k]], all_ids[k].as_py(),
                             refs[k], fmt_j(k), "-"))
    for e in ex.items(hydra[right]):
        breaks.append(_break("missing_in_journal", e.local_symbol, e.exec_id, e.order_ref, "-",
                             fmt_b(e)))
    if len(pairs_j):
        rows, b = journal[pairs_j], hydra[pairs_b]
        tick = cols.per_fill("tick")[rows]
        tol = np.maximum(cfg.price_tolerance_ticks * np.where(np.isnan(tick), 0.0, tick), 1e-9)
        jc, bc = cols.commission[rows], ex.commission[b]
        corrected = np.zeros(len(rows), dtype=bool) if same is not None else _flags(
            pc.not_equal(exec_ids.take(pa.array(pairs_j, pa.int64())),
                         ex.exec_id.take(pa.array(b, pa.int64()))))
        checks = {
            "correction_not_applied": corrected,  # the usual case: every execId the same
            "side_mismatch": _side_differs(cols, rows, ex, b),
            "quantity_mismatch": cols.quantity[rows] != ex.quantity[b],
            "price_mismatch": np.abs(cols.price[rows] - ex.price[b]) > tol,
            "commission_mismatch": ~np.isnan(bc) & (np.isnan(jc) | (
                np.abs(jc - bc) > cfg.commission_tolerance_usd)),
        }
        for kind, bad in checks.items():
            at = np.flatnonzero(bad)
            for k, e in zip(rows[at], ex.items(b[at]), strict=True):
                breaks.append(_break(kind, e.local_symbol, e.exec_id, e.order_ref,
                                     f"{all_ids[k].as_py()}: " + fmt_j(k),
                                     f"{e.exec_id}: " + fmt_b(e)))
    return breaks, len(pairs_j)

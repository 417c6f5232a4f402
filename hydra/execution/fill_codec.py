"""How a fill is stored in journal schema 3: compact, and decoded back to exactly what was written.

Schema 2 spent about 455 bytes a fill: the execId three times (the row, its UNIQUE index, the stem
key), every repeated string (cycle, date, symbols, route, broker, account) in every row, ISO
times as text, seven slippage columns a formula gives back, and three more indexes. Schema 3
keeps one row per execId stem in a WITHOUT ROWID table (`fill_rows`, the stem is the primary
key, so an execId is journaled at most once), the repeated strings once in `fill_contexts`,
and:

- money and prices (price, mids, commission) as integer 1/10,000ths *when that decodes to the
  same double bit for bit*, else the REAL as given;
- times as integer microseconds since 1970 when the text is Python's canonical UTC ISO form
  (``2026-11-24T16:00:00.123456+00:00``), else the text as given;
- the parent ref as a length when it is a prefix of the order ref;
- each slippage column derived by its formula (``hydra.execution.slippage.in_units``) as a bit in
  ``derived`` when the formula gives the stored double back bit for bit, else the value.

Every rule is checked at write time, value by value; anything that does not round-trip is kept
as given. The view ``fills`` decodes in SQL (same columns, same values as schema 2, for any
``sqlite3`` query); ``decode_frame`` does the same with numpy for the report's fast read.
"""

from __future__ import annotations

import itertools
import math
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

SCALE = 10_000  # money and prices in 1/10,000ths
_SCALE_SQL = "10000.0"
MONEY = ("price", "decision_mid", "arrival_mid", "commission")
TIMES = ("fill_time", "journaled_at")
CONTEXT = ("cycle_id", "as_of", "symbol", "local_symbol", "side", "route", "broker",
           "account_id", "tick", "point_value")
# the derived columns, in the order of their bit in `derived`
FULL = 127  # every derived column is its formula's value (or NULL where the formula is)
DERIVED = ("actual_price", "predicted_ticks", "predicted_bps", "predicted_usd", "actual_ticks",
           "actual_bps", "actual_usd")
BIT = {name: 1 << i for i, name in enumerate(DERIVED)}
# the fills view's columns: schema 2's table, in its order
VIEW_COLUMNS = (
    "exec_id", "exec_stem", "order_ref", "parent_ref", "cycle_id", "as_of", "symbol",
    "local_symbol", "side", "quantity", "price", "fill_time", "route", "slice", "decision_mid",
    "arrival_mid", "tick", "point_value", "predicted_price", "predicted_ticks", "predicted_bps",
    "predicted_usd", "actual_price", "actual_ticks", "actual_bps", "actual_usd", "commission",
    "latency_ms", "broker", "account_id", "journaled_at")
ROW_COLUMNS = ("exec_stem", "exec_tail", "order_ref", "parent_ref", "context", "quantity", "price",
               "fill_time", "slice", "decision_mid", "arrival_mid", "predicted_price",
               *DERIVED, "commission", "latency_ms", "derived", "journaled_at")

SCHEMA = """
CREATE TABLE IF NOT EXISTS fill_contexts (
    id INTEGER PRIMARY KEY,
    cycle_id TEXT NOT NULL, as_of TEXT NOT NULL, symbol TEXT NOT NULL,
    local_symbol TEXT NOT NULL, side TEXT NOT NULL, route TEXT NOT NULL, broker TEXT NOT NULL,
    account_id TEXT NOT NULL, tick REAL, point_value REAL,
    UNIQUE (cycle_id, as_of, symbol, local_symbol, side, route, broker, account_id, tick,
            point_value)
);
CREATE TABLE IF NOT EXISTS fill_rows (
    exec_stem TEXT PRIMARY KEY,  -- the execId before its last dot, one fill per stem
    exec_tail TEXT,  -- after the last dot, NULL when the execId has no dot
    order_ref TEXT NOT NULL,
    parent_ref,  -- INTEGER: the first n characters of order_ref, else TEXT or NULL as given
    context INTEGER NOT NULL REFERENCES fill_contexts(id),
    quantity INTEGER NOT NULL,
    price NOT NULL,  -- INTEGER: 1/10,000ths, REAL: as given (also the mids and commission)
    fill_time NOT NULL,  -- INTEGER: microseconds since 1970 UTC, TEXT: as given
    slice INTEGER NOT NULL DEFAULT 0,
    decision_mid, arrival_mid,
    predicted_price REAL,
    actual_price REAL, predicted_ticks REAL, predicted_bps REAL, predicted_usd REAL,
    actual_ticks REAL, actual_bps REAL, actual_usd REAL,  -- NULL where `derived` has the bit
    commission,
    latency_ms REAL,
    derived INTEGER NOT NULL DEFAULT 0,  -- bit i set: DERIVED[i] is its formula's value
    journaled_at NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS fill_rows_context ON fill_rows(context);
CREATE INDEX IF NOT EXISTS fill_rows_kept ON fill_rows(exec_stem) WHERE derived != 127;
CREATE INDEX IF NOT EXISTS fill_rows_time_text ON fill_rows(exec_stem)
    WHERE typeof(fill_time) = 'text';
"""


# ----------------------------------------------------------------------------- exact checks
def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def same(a: Any, b: Any) -> bool:
    """Equal as stored: both None, or the same double bit for bit (0.0 is not -0.0)."""
    if a is None or b is None:
        return a is None and b is None
    return _bits(float(a)) == _bits(float(b))


def encode_money(value: float | None) -> float | int | None:
    if value is None:
        return None
    value = float(value)
    if not math.isfinite(value):
        return value
    k = round(value * SCALE)
    if abs(k) < 2**53 and same(k / SCALE, value):
        return k
    return value


_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def encode_time(text: str) -> int | str:
    if not isinstance(text, str) or not _ISO.match(text):
        return text
    when = datetime.fromisoformat(text)
    if when < EPOCH or when.isoformat() != text:
        return text
    return (when - EPOCH) // timedelta(microseconds=1)


def decode_time(us: int) -> str:
    return (EPOCH + timedelta(microseconds=us)).isoformat()


def split_exec_id(exec_id: str) -> tuple[str, str | None]:
    """(stem, tail): the rule of hydra.domain.fills.exec_stem; tail None when there is no dot."""
    if "." not in exec_id:
        return exec_id, None
    stem, tail = exec_id.rsplit(".", 1)
    return stem, tail


def _formula(name: str, r: Mapping[str, Any], actual_price: Any) -> float | None:
    """The value hydra.execution.slippage gives for a derived column: None where SQL's formula gives
    NULL (a missing input, a zero divisor), nan where it overflows (then never derived)."""
    try:
        if name == "actual_price":
            sign = 1.0 if r["side"] == "BUY" else -1.0
            out = sign * (float(r["price"]) - float(r["arrival_mid"]))
        else:
            side, unit = name.split("_")
            p = float(r["predicted_price"] if side == "predicted" else actual_price)
            if unit == "ticks":
                out = p / float(r["tick"])
            elif unit == "bps":
                out = p / float(r["arrival_mid"]) * 1e4
            else:
                out = p * float(r["point_value"]) * int(r["quantity"])
    except (TypeError, ZeroDivisionError):
        return None  # SQL's NULL arithmetic and x / 0 give NULL too
    return out if math.isfinite(out) else math.nan  # never derived: nan equals nothing


def encode_row(r: Mapping[str, Any], context: int) -> dict[str, Any]:
    """A fill (the view's columns, exec_stem/journaled_at included) as a fill_rows row."""
    stem, tail = split_exec_id(r["exec_id"])
    if stem != r.get("exec_stem", stem):
        raise ValueError(f"fill {r['exec_id']!r} has exec_stem {r['exec_stem']!r}, not {stem!r}")
    parent = r["parent_ref"]
    order_ref = r["order_ref"]
    if isinstance(parent, str) and parent and order_ref.startswith(parent):
        parent = len(parent)
    row: dict[str, Any] = {
        "exec_stem": stem, "exec_tail": tail, "order_ref": order_ref, "parent_ref": parent,
        "context": context, "quantity": r["quantity"], "slice": r["slice"],
        "predicted_price": r["predicted_price"], "latency_ms": r["latency_ms"]}
    for name in MONEY:
        row[name] = encode_money(r[name])
    for name in TIMES:
        row[name] = encode_time(r[name])
    derived = 0
    for name in DERIVED:
        value = r[name]
        formula = _formula(name, r, r["actual_price"])
        if not (isinstance(formula, float) and math.isnan(formula)) and same(formula, value):
            derived |= BIT[name]
            value = None
        row[name] = value
    row["derived"] = derived
    return row


# ------------------------------------------------------------------------ decoding, in SQL
def _money_sql(col: str) -> str:
    return f"CASE typeof({col}) WHEN 'integer' THEN {col} / {_SCALE_SQL} ELSE {col} END"


def _time_sql(col: str) -> str:
    return (f"CASE typeof({col}) WHEN 'integer' THEN strftime('%Y-%m-%dT%H:%M:%S', "
            f"{col} / 1000000, 'unixepoch') || CASE WHEN {col} % 1000000 THEN "
            f"printf('.%06d', {col} % 1000000) ELSE '' END || '+00:00' ELSE {col} END")


def view_sql() -> str:
    """The fills view: schema 2's columns decoded from fill_rows and fill_contexts."""
    price, arrival = _money_sql("f.price"), _money_sql("f.arrival_mid")
    actual = (f"CASE WHEN f.derived & {BIT['actual_price']} THEN (CASE WHEN c.side = 'BUY' "
              f"THEN 1.0 ELSE -1.0 END) * (({price}) - ({arrival})) ELSE f.actual_price END")
    cols = {
        "exec_id": "f.exec_stem || coalesce('.' || f.exec_tail, '')",
        "exec_stem": "f.exec_stem", "order_ref": "f.order_ref",
        "parent_ref": "CASE typeof(f.parent_ref) WHEN 'integer' THEN substr(f.order_ref, 1, "
                      "f.parent_ref) ELSE f.parent_ref END",
        "quantity": "f.quantity", "slice": "f.slice", "predicted_price": "f.predicted_price",
        "latency_ms": "f.latency_ms", "actual_price": actual,
    }
    cols |= {name: f"c.{name}" for name in CONTEXT}
    cols |= {name: _money_sql(f"f.{name}") for name in MONEY}
    cols |= {name: _time_sql(f"f.{name}") for name in TIMES}
    for side, p in (("predicted", "f.predicted_price"), ("actual", f"({actual})")):
        formulas = {"ticks": f"{p} / c.tick", "bps": f"{p} / ({arrival}) * 10000.0",
                    "usd": f"{p} * c.point_value * f.quantity"}
        for unit, formula in formulas.items():
            name = f"{side}_{unit}"
            cols[name] = f"CASE WHEN f.derived & {BIT[name]} THEN {formula} ELSE f.{name} END"
    select = ",\n    ".join(f"{cols[name]} AS {name}" for name in VIEW_COLUMNS)
    return (f"CREATE VIEW IF NOT EXISTS fills AS SELECT\n    {select}\n"
            "FROM fill_rows AS f JOIN fill_contexts AS c ON c.id = f.context")


def _context_id_sql(src: str) -> str:
    match = " AND ".join(f"{c} IS {src}.{c}" for c in CONTEXT)
    return f"(SELECT id FROM fill_contexts WHERE {match} ORDER BY id LIMIT 1)"


def _raw_values_sql(src: str) -> dict[str, str]:
    """fill_rows values from a fills-view row, stored as given (no compaction): what the
    view's triggers write for a plain `sqlite3` INSERT or UPDATE."""
    tail = (f"CASE WHEN {src}.exec_id = {src}.exec_stem THEN NULL "
            f"WHEN substr({src}.exec_id, 1, length({src}.exec_stem) + 1) = {src}.exec_stem || '.' "
            f"AND instr(substr({src}.exec_id, length({src}.exec_stem) + 2), '.') = 0 "
            f"THEN substr({src}.exec_id, length({src}.exec_stem) + 2) "
            "ELSE RAISE(ABORT, 'exec_stem must be exec_id before its last dot') END")
    out = {"exec_stem": f"{src}.exec_stem", "exec_tail": tail, "context": _context_id_sql(src),
           "derived": "0"}
    for name in ("order_ref", "parent_ref", "quantity", "slice", "predicted_price", *DERIVED,
                 "latency_ms"):
        out[name] = f"{src}.{name}"
    for name in MONEY:
        out[name] = f"CAST({src}.{name} AS REAL)"
    for name in TIMES:
        out[name] = f"CAST({src}.{name} AS TEXT)"
    return out


def triggers_sql() -> list[str]:
    """INSERT, UPDATE and DELETE on the fills view reach fill_rows (operators' SQL still works)."""
    ctx_cols = ", ".join(CONTEXT)
    add_ctx = (f"INSERT INTO fill_contexts ({ctx_cols}) SELECT "
               + ", ".join(f"NEW.{c}" for c in CONTEXT)
               + f" WHERE {_context_id_sql('NEW')} IS NULL;")
    raw = _raw_values_sql("NEW")
    cols = ", ".join(ROW_COLUMNS)
    values = ", ".join(raw[c] for c in ROW_COLUMNS)
    sets = ", ".join(f"{c} = {raw[c]}" for c in ROW_COLUMNS)
    return [
        "CREATE TRIGGER IF NOT EXISTS fills_insert INSTEAD OF INSERT ON fills BEGIN "
        f"{add_ctx} INSERT INTO fill_rows ({cols}) VALUES ({values}); END",
        "CREATE TRIGGER IF NOT EXISTS fills_update INSTEAD OF UPDATE ON fills BEGIN "
        f"{add_ctx} UPDATE fill_rows SET {sets} WHERE exec_stem = OLD.exec_stem; END",
        "CREATE TRIGGER IF NOT EXISTS fills_delete INSTEAD OF DELETE ON fills BEGIN "
        "DELETE FROM fill_rows WHERE exec_stem = OLD.exec_stem; END",
    ]


# ---------------------------------------------------------------------- decoding, in numpy
def _text(values: pd.Series) -> pd.Series:
    return values.astype("str") if len(values) else values.astype(object)


REPORT_COLUMNS = ("exec_id", "exec_stem", "order_ref", "cycle_id", "as_of", "symbol",
                  "local_symbol", "side", "quantity", "price", "fill_time", "route", "arrival_mid",
                  "tick", "point_value", "predicted_price", "predicted_ticks", "predicted_bps",
                  "predicted_usd", "actual_price", "actual_ticks", "actual_bps", "actual_usd",
                  "commission", "broker", "account_id")
EXTRA = ("parent_ref", "slice", "decision_mid", "latency_ms", "journaled_at")


def read_sql(where: str = "", full: bool = True, order_ref: bool = True) -> str:
    """The raw read decode_frame takes: one Arrow type per column (mixed stored forms are
    split or decoded in SQL: SQLite's k / 10000.0 is numpy's), as few columns as the report
    needs (each costs ~0.1 s a million). Derived columns that are not their formula's value,
    and time text, are read apart (see KEPT_SQL), through partial indexes. `order_ref=False`
    (the report's columns, fill_columns): without the order refs (FillColumns looks up the few
    a break lists, 0.25 s a million), the execId whole (the view's expression: joining a
    million in Arrow costs more than SQLite's concatenation) instead of its tail, and the
    fill times as stored (all integers: the microseconds; else read again with the CASE).
    Commissions keep the CASE: one not on the 1/10,000 grid (2.35 x 3) is common, and a
    double column would then be read twice."""
    raw = not full and not order_ref
    cols = ["exec_stem", *(["exec_id"] if raw else ["exec_tail"]),
            *(["order_ref"] if order_ref else []), "context",
            "quantity", "predicted_price",
            "derived", *RAW_MONEY,  # as stored: see decode_raw
            f"{_money_sql('commission')} AS commission",
            "fill_time AS fill_time_us" if raw else _FILL_TIME_US]
    cols = [_EXEC_ID if c == "exec_id" else c for c in cols]
    if full:
        cols += ["CASE typeof(parent_ref) WHEN 'integer' THEN parent_ref END AS parent_cut",
                 "CASE typeof(parent_ref) WHEN 'text' THEN parent_ref END AS parent_text",
                 "slice", "latency_ms", f"{_money_sql('decision_mid')} AS decision_mid",
                 "CASE typeof(journaled_at) WHEN 'integer' THEN journaled_at ELSE -1 END "
                 "AS journaled_at_us"]
    return f"SELECT {', '.join(cols)} FROM fill_rows {where} ORDER BY exec_stem"


_EXEC_ID = "exec_stem || coalesce('.' || exec_tail, '') AS exec_id"  # view_sql's exec_id
_FILL_TIME_US = ("CASE typeof(fill_time) WHEN 'integer' THEN fill_time ELSE -1 END "
                 "AS fill_time_us")
# Prices and mids on a tick grid are all stored as 1/10,000ths: read as stored (the CASE
# costs ~0.1 s a million a column) and divided here; a column that is not all integers
# (an off-grid price kept as REAL arrives as double) is read again with the CASE.
RAW_MONEY = ("price", "arrival_mid")


def money_column_sql(name: str, where: str = "") -> str:
    """One money column decoded in SQL, in the main read's order (read_sql's fallback)."""
    if name == "fill_time_us":
        return f"SELECT {_FILL_TIME_US} FROM fill_rows {where} ORDER BY exec_stem"
    return f"SELECT {_money_sql(name)} AS {name} FROM fill_rows {where} ORDER BY exec_stem"


def decode_raw_money(rows: pa.Table, reread: Callable[[str], pa.Array]) -> pa.Table:
    """read_sql's RAW_MONEY columns as the values `_money_sql` gives: an integer column is
    k / 10000.0 (numpy's division is SQLite's: the same doubles); any other is re-read; a
    fill time column read as stored (the report's columns) is re-read unless all integers."""
    raw_time = "exec_id" in rows.schema.names  # read_sql's read for the report's columns
    for name in RAW_MONEY:
        col = rows[name]
        if pa.types.is_integer(col.type):
            values = np.asarray(col.to_numpy(), dtype=float) / float(SCALE)  # nulls: nan
            decoded = pa.array(values, pa.float64(), from_pandas=True)  # nan back to null
        elif pa.types.is_null(col.type):
            decoded = col.cast(pa.float64())
        else:
            decoded = reread(name)
        rows = rows.set_column(rows.schema.get_field_index(name), name, decoded)
    if raw_time and not pa.types.is_integer(rows["fill_time_us"].type):
        at = rows.schema.get_field_index("fill_time_us")
        rows = rows.set_column(at, "fill_time_us", reread("fill_time_us"))
    return rows


def kept_sql(where: str = "") -> str:
    """The rows keeping a derived column's value, in the main read's order (the key's)."""
    also = where.replace("WHERE", "AND", 1)
    return (f"SELECT exec_stem, {', '.join(DERIVED)} FROM fill_rows WHERE derived != {FULL} "
            f"{also} ORDER BY exec_stem")
TEXT_TIME_SQL = ("SELECT exec_stem, fill_time, NULL AS journaled_at FROM fill_rows "
                 "WHERE typeof(fill_time) = 'text'")
TEXT_JOURNALED_SQL = ("SELECT exec_stem, journaled_at FROM fill_rows "
                      "WHERE typeof(journaled_at) = 'text'")


def _times(us: np.ndarray, stems: np.ndarray, texts: dict[str, str]) -> pd.Series:
    out = pd.Series(pd.to_datetime(np.where(us < 0, 0, us), unit="us", utc=True))
    if texts:
        where = np.flatnonzero(us < 0)
        parsed = pd.to_datetime(pd.Series([texts[stems[i]] for i in where]), utc=True,
                                format="ISO8601", errors="coerce")  # not a time: NaT
        out.iloc[where] = parsed.dt.as_unit(out.dt.unit).to_numpy()
    return out


def decode_slippage(derived: np.ndarray, stems: np.ndarray | pa.Array, kept: pd.DataFrame, *,
                    buy: np.ndarray, tick: np.ndarray, point_value: np.ndarray,
                    price: np.ndarray, arrival: np.ndarray, predicted: np.ndarray,
                    quantity: np.ndarray) -> dict[str, np.ndarray]:
    """The seven derived slippage columns, each its formula's value where `derived` has the
    bit, else the kept value: numpy's arithmetic is SQLite's (the same doubles)."""
    at = np.flatnonzero(derived != FULL)
    if len(kept):
        # both reads are in key order and cut alike: the n-th kept row is the n-th row whose
        # `derived` lacks a bit (checked, not assumed)
        mine = (stems.take(pa.array(at)).to_numpy(zero_copy_only=False)
                if isinstance(stems, pa.Array) else stems[at]) if len(at) == len(kept) else None
        if mine is None or not (mine == kept["exec_stem"].to_numpy()).all():
            raise ValueError("kept slippage values do not line up with their fills (a bug)")
    elif len(at):
        raise ValueError("fills keep slippage values that were not read (a bug)")
    sign = np.where(buy, 1.0, -1.0)

    def column(name: str, formula: np.ndarray) -> np.ndarray:
        """The formula's value, the kept value where the row's `derived` lacks the bit."""
        lacking = (derived[at] & BIT[name]) == 0
        if lacking.any():
            formula = np.array(formula, dtype=float)
            formula[at[lacking]] = kept[name].to_numpy(dtype=float, na_value=np.nan)[lacking]
        return formula

    out = {"predicted_price": predicted}
    with np.errstate(all="ignore"):  # x / 0 is NULL in SQL: nan here
        out["actual_price"] = column("actual_price", sign * (price - arrival))
        for side in ("predicted", "actual"):
            p = out[f"{side}_price"]
            out[f"{side}_ticks"] = column(f"{side}_ticks", np.where(tick == 0, np.nan, p / tick))
            out[f"{side}_bps"] = column(f"{side}_bps",
                                        np.where(arrival == 0, np.nan, p / arrival * 1e4))
            out[f"{side}_usd"] = column(f"{side}_usd", p * point_value * quantity)
    return out


def decode_frame(rows: pd.DataFrame, contexts: pd.DataFrame, kept: pd.DataFrame,
                 texts: dict[str, dict[str, str]], full: bool = True) -> pd.DataFrame:
    """The fills view's rows, decoded with numpy from read_sql's read (Journal.fill_frame):
    the values `SELECT * FROM fills` gives, fill_time and journaled_at as UTC timestamps (the
    report compares and plots them; a million texts cost a second). `full=False`: only
    REPORT_COLUMNS."""
    ctx = contexts.set_index("id")
    where = ctx.index.get_indexer(rows["context"])
    if (where < 0).any():
        missing = sorted(set(rows["context"][where < 0]))[:5]
        raise ValueError(f"fill rows refer to unknown contexts {missing}")
    out: dict[str, Any] = {}
    stem = rows["exec_stem"]
    tail = rows["exec_tail"]
    has_tail = tail.notna().to_numpy()
    exec_id = stem.copy()
    if has_tail.any():
        exec_id = exec_id.where(~has_tail, stem + "." + tail.fillna(""))
    out["exec_id"], out["exec_stem"], out["order_ref"] = exec_id, stem, rows["order_ref"]
    for name in CONTEXT:  # a take on the Arrow-backed column: no million Python strings
        out[name] = pd.Series(ctx[name].array.take(where))
    out["quantity"] = rows["quantity"].to_numpy(dtype="int64")
    for name in ("price", "arrival_mid", "commission", "predicted_price"):
        out[name] = rows[name].to_numpy(dtype=float, na_value=np.nan)
    stems = stem.to_numpy()
    out["fill_time"] = _times(rows["fill_time_us"].to_numpy(dtype="int64"), stems,
                              texts.get("fill_time", {}))
    out |= decode_slippage(
        rows["derived"].to_numpy(dtype="int64"), stems, kept, buy=(out["side"] == "BUY").to_numpy(),
        tick=out["tick"].to_numpy(dtype=float, na_value=np.nan),
        point_value=out["point_value"].to_numpy(dtype=float, na_value=np.nan),
        price=out["price"], arrival=out["arrival_mid"], predicted=out["predicted_price"],
        quantity=out["quantity"])
    if not full:
        return pd.DataFrame({name: out[name] for name in REPORT_COLUMNS})
    cut = rows["parent_cut"]
    parent = rows["parent_text"].astype(object)
    if cut.notna().any():
        idx = np.flatnonzero(cut.notna().to_numpy())
        refs, ns = rows["order_ref"].to_numpy()[idx], cut.to_numpy()[idx].astype(int)
        parent.iloc[idx] = [r[:n] for r, n in zip(refs, ns, strict=True)]
    out["parent_ref"] = parent.astype("str") if len(parent) else parent
    out["slice"] = rows["slice"].to_numpy(dtype="int64")
    out["decision_mid"] = rows["decision_mid"].to_numpy(dtype=float, na_value=np.nan)
    out["latency_ms"] = rows["latency_ms"].to_numpy(dtype=float, na_value=np.nan)
    out["journaled_at"] = _times(rows["journaled_at_us"].to_numpy(dtype="int64"), stems,
                                 texts.get("journaled_at", {}))
    return pd.DataFrame({name: out[name] for name in VIEW_COLUMNS})


# ------------------------------------------------------------------ the report's columns
@dataclass
class FillColumns:
    """A journal's fills for the report's metrics (Journal.fill_columns): numpy numbers and
    Arrow strings, no Python object per fill and no DataFrame. Rows are in the journal's key
    order (exec_stem: the order the broker comparison lists breaks in); `order` gives the
    report's order (fill time, then execId: Journal.fills'), the order sums are taken in."""

    contexts: pd.DataFrame  # fill_contexts, one row per context
    ctx: np.ndarray  # each fill's row in `contexts`
    exec_stem: pa.Array
    exec_id: pa.Array  # the whole execId (stem, dot, tail; the stem where there is no tail)
    order_ref_of: Callable[[list[str]], dict[str, str]]  # stems -> their order refs (a lookup)
    quantity: np.ndarray
    price: np.ndarray
    arrival_mid: np.ndarray
    commission: np.ndarray
    fill_time_us: np.ndarray  # -1: the time is text (`text_times`, by stem)
    text_times: dict[str, str]
    slippage: dict[str, np.ndarray]  # predicted_price, actual_price, {predicted,actual}_{unit}
    order: np.ndarray

    def __len__(self) -> int:
        return len(self.quantity)

    def per_fill(self, name: str) -> np.ndarray:
        """A context column for every fill (numbers as float, text as object)."""
        values = self.contexts[name]
        if name in ("tick", "point_value"):
            return values.to_numpy(dtype=float, na_value=np.nan)[self.ctx]
        return values.to_numpy(dtype=object)[self.ctx]

    def codes(self, name: str) -> tuple[list[Any], np.ndarray]:
        """A text context column as (its sorted distinct values, each fill's position there)."""
        values = self.contexts[name].tolist()
        names = sorted(set(values))
        at = {v: i for i, v in enumerate(names)}
        return names, np.array([at[v] for v in values], dtype="int64")[self.ctx]

    def where(self, name: str, test: Any) -> np.ndarray:
        """A boolean per fill from a test on a context column (one test per context)."""
        return np.asarray(test(self.contexts[name]), dtype=bool)[self.ctx]

    def order_refs(self, rows: np.ndarray) -> dict[int, str]:
        """The order refs of some rows (the breaks' few: the bulk read leaves them out)."""
        if not len(rows):
            return {}
        stems = self.exec_stem.take(pa.array(rows, pa.int64())).to_pylist()
        found = self.order_ref_of(stems)
        missing = [s for s in stems if s not in found]
        if missing:
            raise ValueError(f"fills {missing[:5]} left the journal while the report read it; "
                             "run the report again")
        return {int(k): found[s] for k, s in zip(rows, stems, strict=True)}

    def exec_ids(self) -> pa.Array:
        return self.exec_id


def fill_columns(rows: pa.Table, contexts: pd.DataFrame, kept: pd.DataFrame,
                 text_times: dict[str, str],
                 order_ref_of: Callable[[list[str]], dict[str, str]]) -> FillColumns:
    """read_sql(full=False, order_ref=False)'s Arrow read as FillColumns (decode_frame's
    values, as arrays); `order_ref_of` looks up order refs by stem."""
    ctx = contexts.set_index("id").index.get_indexer(
        rows["context"].to_numpy(zero_copy_only=False))
    if (ctx < 0).any():
        raise ValueError("fill rows refer to unknown contexts")

    def num(name: str, dtype: str = "float64") -> np.ndarray:
        col = rows[name]  # nulls become nan (ints with nulls become floats)
        return np.asarray(col.to_numpy(), dtype=dtype)

    def text(name: str) -> pa.Array:
        col = rows[name]
        if col.num_chunks == 1 and col.type == pa.string():
            return col.chunk(0)
        return col.combine_chunks().cast(pa.string()) if len(col) else pa.array([], pa.string())

    stems = text("exec_stem")
    quantity = num("quantity", "int64")
    price, arrival = num("price"), num("arrival_mid")
    tick = contexts["tick"].to_numpy(dtype=float, na_value=np.nan)[ctx]
    pv = contexts["point_value"].to_numpy(dtype=float, na_value=np.nan)[ctx]
    buy = (contexts["side"] == "BUY").to_numpy()[ctx]
    slip = decode_slippage(
        num("derived", "int64"), stems, kept, buy=buy, tick=tick, point_value=pv, price=price,
        arrival=arrival, predicted=num("predicted_price"), quantity=quantity)
    us = num("fill_time_us", "int64")
    out = FillColumns(contexts.reset_index(drop=True), ctx, stems, text("exec_id"), order_ref_of,
                      quantity, price, arrival, num("commission"), us, text_times, slip,
                      np.arange(len(quantity)))
    out.order = report_order(us, stems, out.exec_ids, text_times)
    return out


def report_order(us: np.ndarray, stems: pa.Array, exec_ids: Callable[[], pa.Array],
                 text_times: dict[str, str]) -> np.ndarray:
    """The permutation to ORDER BY fill_time, exec_id (Journal.fills' order, so sums add up
    in the same order) without sorting a million strings: a stable sort on the time, then runs
    of equal times by execId. Canonical UTC times order as their text does; a journal holding
    other time text (`text_times`, rare) is sorted by the text itself, as SQL would."""
    if not len(us):
        return np.arange(0)

    def ids() -> np.ndarray:  # only for ties: a million Python strings cost a tenth of a second
        return np.asarray(exec_ids().to_numpy(zero_copy_only=False)).astype(str)

    if text_times:
        stem_list = stems.to_pylist()
        text = [text_times.get(stem) or decode_time(int(u)) for stem, u in
                zip(stem_list, us, strict=True)]
        keys = pd.DataFrame({"t": text, "e": ids()})
        return keys.sort_values(["t", "e"], kind="stable").index.to_numpy()
    order = np.argsort(us, kind="stable")
    ordered = us[order]
    if (ordered[1:] == ordered[:-1]).any():
        texts = ids()
        bounds = np.concatenate([[0], np.flatnonzero(np.diff(ordered)) + 1, [len(ordered)]])
        for a, b in itertools.pairwise(bounds):
            if b - a > 1:  # numpy orders text by code point, as SQLite's BINARY does UTF-8
                seg = order[a:b]
                order[a:b] = seg[np.argsort(texts[seg], kind="stable")]
    return order

"""A schema-2 journal (what Hydra wrote until schema 3) migrates in place on open, losing
nothing: every order, child, fill, correction and risk record is still there, and every query
returns what it returned before."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, replace

import pandas as pd
import pytest

from hydra.execution import journal as journal_mod
from hydra.execution.journal import Journal, JournalError

from .test_journal import FILL

V2_FILLS = """
CREATE TABLE fills (
    exec_id TEXT NOT NULL UNIQUE, exec_stem TEXT PRIMARY KEY, order_ref TEXT NOT NULL,
    parent_ref TEXT, cycle_id TEXT NOT NULL, as_of TEXT NOT NULL, symbol TEXT NOT NULL,
    local_symbol TEXT NOT NULL, side TEXT NOT NULL, quantity INTEGER NOT NULL,
    price REAL NOT NULL, fill_time TEXT NOT NULL, route TEXT NOT NULL,
    slice INTEGER NOT NULL DEFAULT 0, decision_mid REAL, arrival_mid REAL, tick REAL,
    point_value REAL, predicted_price REAL, predicted_ticks REAL, predicted_bps REAL,
    predicted_usd REAL, actual_price REAL, actual_ticks REAL, actual_bps REAL, actual_usd REAL,
    commission REAL, latency_ms REAL, broker TEXT NOT NULL, account_id TEXT NOT NULL,
    journaled_at TEXT NOT NULL
);
CREATE INDEX fills_time ON fills(fill_time);
CREATE INDEX fills_asof ON fills(as_of, symbol);
CREATE INDEX fills_cycle ON fills(cycle_id);
"""
TABLES = ("orders", "child_orders", "fill_corrections", "risk_decisions", "risk_state",
          "cycle_targets")


def _odd_fills() -> list[dict]:
    """Fills as Hydra wrote them, and the odd ones a compact encoding must not bend."""
    def row(fill, **extra):
        return asdict(fill) | {"exec_stem": fill.exec_id.rsplit(".", 1)[0],
                               "journaled_at": "2026-11-24T16:00:01.250000+00:00"} | extra
    return [
        row(FILL),
        row(replace(FILL, exec_id="0000e0d5.6564c2a1.02.01", side="SELL", price=320.0,
                    actual_price=-0.125, actual_ticks=-0.5, actual_bps=-3.9, actual_usd=-6.25,
                    commission=2.35, fill_time="2026-11-24T16:00:00.500000+00:00")),
        row(replace(FILL, exec_id="NODOT", parent_ref=None, arrival_mid=None,
                    predicted_price=None, predicted_ticks=None, predicted_bps=None,
                    predicted_usd=None, actual_price=None, actual_ticks=None, actual_bps=None,
                    actual_usd=None, fill_time="2026-11-24T10:00:00-06:00",
                    price=85.025, tick=0.025, point_value=400.0, symbol="HE",
                    local_symbol="HEG7", commission=7.050000000000001),
            journaled_at="yesterday, by hand"),
        row(replace(FILL, exec_id="dup.time.01", parent_ref="ELSEWHERE", latency_ms=None,
                    decision_mid=None, commission=0.0)),
    ]


def _write_v2(path) -> None:
    db = sqlite3.connect(path)
    schema = journal_mod._SCHEMA
    db.executescript(schema + V2_FILLS)
    db.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    for r in _odd_fills():
        db.execute(f"INSERT INTO fills ({', '.join(r)}) VALUES ({', '.join('?' * len(r))})",
                   list(r.values()))
    db.execute("INSERT INTO orders (order_ref, cycle_id, as_of, symbol, local_symbol, con_id, "
               "purpose, side, quantity, route, broker, status, sent_at, updated_at) VALUES "
               "('HYD-ZO-20261124-1', 'ZO-20261124', '2026-11-24', 'ZO', 'ZOH7', 1, 'open', "
               "'BUY', 2, 'limit-patience', 'ib', 'filled', 't0', 't1')")
    db.execute("INSERT INTO child_orders (child_ref, parent_ref, cycle_id, slice, attempt, side, "
               "quantity, limit_price, status, sent_at, updated_at) VALUES ('HYD-ZO-20261124-1-"
               "s1-a1', 'HYD-ZO-20261124-1', 'ZO-20261124', 1, 1, 'BUY', 1, 320.25, 'filled', "
               "'t0', 't1')")
    db.execute("INSERT INTO fill_corrections VALUES ('0000e0d5.6564c2a1.01', "
               "'0000e0d5.6564c2a1.01.00', '0000e0d5.6564c2a1.01.01', 1, 320.0, 1, 320.25, 't')")
    db.execute("INSERT INTO risk_decisions (time, cycle_id, order_ref, parent_ref, allowed, "
               "sent, checks, reasons) VALUES ('t', 'ZO-20261124', 'r', 'p', 1, 1, '{}', '')")
    db.execute("INSERT INTO cycle_targets VALUES ('ZO-20261124', 2, 'ZOH7', 'LONG', 'run', 't')")
    db.commit()
    db.close()


def _snapshot(path) -> tuple[dict, pd.DataFrame]:
    db = sqlite3.connect(path)
    tables = {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}
    fills = pd.read_sql_query("SELECT * FROM fills ORDER BY fill_time, exec_id", db)
    db.close()
    return tables, fills


def test_a_schema_2_journal_migrates_in_place_and_loses_nothing(tmp_path):
    path = tmp_path / "journal.sqlite"
    _write_v2(path)
    tables, fills = _snapshot(path)
    with Journal(path) as j:
        assert j._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] \
            == "3"
        got = j.fills()
        frame = j.fill_frame()
        by_symbol = j.fill_frame(symbol="HE")
        assert j.has_fill("NODOT") and j.has_fill(FILL.exec_id)
        assert not j.has_fill("0000e0d5.6564c2a1.01.02")
        assert j.record_fill(FILL) is False  # still journaled exactly once
    after, raw = _snapshot(path)
    assert after == tables  # orders, children, corrections, risk: untouched
    pd.testing.assert_frame_equal(raw, fills, check_exact=True)  # plain SQL on `fills` too
    pd.testing.assert_frame_equal(got, fills, check_exact=True)
    expected = fills.assign(**{c: pd.to_datetime(fills[c], utc=True, format="ISO8601",
                                                 errors="coerce")
                               for c in ("fill_time", "journaled_at")})
    pd.testing.assert_frame_equal(frame, expected, check_dtype=False, check_exact=True)
    assert list(by_symbol["exec_id"]) == ["NODOT"]
    with Journal(path) as j:  # opening again migrates nothing
        pd.testing.assert_frame_equal(j.fills(), fills, check_exact=True)


def test_a_schema_3_journal_is_compact_and_refuses_a_second_row_for_an_exec_id(tmp_path):
    path = tmp_path / "journal.sqlite"
    with Journal(path) as j:
        j.record_fill(FILL)
        with pytest.raises(sqlite3.IntegrityError):
            j._db.execute("INSERT INTO fill_rows SELECT * FROM fill_rows")
        with pytest.raises(sqlite3.IntegrityError):  # through the view, as an operator would
            j._db.execute("INSERT INTO fills SELECT * FROM fills")
        j._db.execute("UPDATE fills SET price = price + 0.25, commission = NULL "
                      "WHERE exec_id = ?", (FILL.exec_id,))
        row = j.fills().iloc[0]
        assert row["price"] == FILL.price + 0.25 and pd.isna(row["commission"])
        assert row["actual_ticks"] == FILL.actual_ticks  # the rest as it was
        j._db.execute("DELETE FROM fills WHERE exec_id = ?", (FILL.exec_id,))
        assert j.fills().empty


def test_a_migration_that_would_change_a_fill_is_refused_and_leaves_schema_2(tmp_path,
                                                                             monkeypatch):
    """Every copied row is compared with the old table before it is dropped: a copy that lost
    or altered a value rolls the whole migration back."""
    from hydra.execution import fill_codec

    path = tmp_path / "journal.sqlite"
    _write_v2(path)
    tables, fills = _snapshot(path)
    real = fill_codec.encode_row
    monkeypatch.setattr(fill_codec, "encode_row",
                        lambda row, ctx: real({**row, "quantity": row["quantity"] + 1}, ctx))
    with pytest.raises(JournalError, match="would not keep every fill"):
        Journal(path)
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "2"
    db.close()
    after, raw = _snapshot(path)
    assert after == tables
    pd.testing.assert_frame_equal(raw, fills, check_exact=True)

"""What a run's cycle left behind, read only: its orders at the broker and in the journal
(so a failed run says whether anything was sent), and the summary scrap it glued."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from hydra.ops.notebook_runs.index import RunRecord
from hydra.ops.notebook_runs.jobs import RunError, get_job
from hydra.paths import DataPaths


@dataclass(frozen=True)
class CycleOrders:
    """The orders of one daily cycle (<market>-<YYYYMMDD>) on record at a moment: journaled
    child orders (what was sent to the broker) and, for the simulator, the broker's own."""

    cycle_id: str
    journal: dict[str, str]  # child_ref -> "BUY 1 ZOH7 limit 350.25"
    broker: frozenset[int] | None  # the simulator's order ids; None: not the simulator
    error: str = ""


def _cycle_of(record: RunRecord) -> str | None:
    """The daily cycle a run trades, or None for a job that sends no orders."""
    try:
        job = get_job(record.job)
    except RunError:
        return None
    if job.source.name != "daily_cycle.ipynb":
        return None
    from hydra.reference.markets import DEFAULT_MARKET, get_market

    try:  # the cycle's own spelling ("-p market zo" trades ZO-...)
        market = get_market(record.parameters.get("market") or job.market or DEFAULT_MARKET)
        day = date.fromisoformat(record.as_of)
    except ValueError:  # an unknown market or a bad date: such a run sent nothing
        return None
    return f"{market.symbol}-{day:%Y%m%d}"


def _read_only(db: Path) -> sqlite3.Connection:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    con.row_factory = sqlite3.Row
    return con


def cycle_orders(data_dir: Path, record: RunRecord) -> CycleOrders | None:
    """This run's cycle's orders as the journal and the simulator hold them now (read-only:
    the banner never writes to the books it describes). None for a job that sends none."""
    cycle_id = _cycle_of(record)
    if cycle_id is None:
        return None
    paths = DataPaths(data_dir)
    journal: dict[str, str] = {}
    broker: frozenset[int] | None = None
    try:
        if paths.journal_db.exists():
            with closing(_read_only(paths.journal_db)) as con:
                has = con.execute("SELECT 1 FROM sqlite_master WHERE name='child_orders'")
                rows = con.execute(
                    "SELECT c.child_ref, c.side, c.quantity, c.limit_price, o.local_symbol "
                    "FROM child_orders c JOIN orders o ON o.order_ref = c.parent_ref "
                    "WHERE c.cycle_id = ? ORDER BY c.sent_at, c.child_ref",
                    (cycle_id,)).fetchall() if has.fetchone() else []
            journal = {r["child_ref"]: f"{r['side']} {r['quantity']} {r['local_symbol']} "
                                       f"limit {r['limit_price']:g}" for r in rows}
    except sqlite3.Error as exc:
        return CycleOrders(cycle_id, {}, None, f"the fill journal {paths.journal_db} could not "
                                               f"be read ({exc})")
    try:
        if paths.sim_db.exists():
            with closing(_read_only(paths.sim_db)) as con:
                broker = frozenset(r[0] for r in con.execute(
                    "SELECT order_id FROM orders WHERE order_ref LIKE ?", (f"HYD-{cycle_id}-%",)))
    except sqlite3.Error:
        broker = None
    return CycleOrders(cycle_id, journal, broker)


def orders_sent(data_dir: Path, record: RunRecord, before: CycleOrders | None) -> str:
    """Whether this run sent any order, in one sentence: "no order was sent ..." or "N orders
    were sent ...", from what its cycle's books hold now against what they held at its start."""
    after = cycle_orders(data_dir, record)
    if after is None:
        return "none (this job sends no orders)"
    if after.error or (before is not None and before.error):
        return (f"UNKNOWN whether any order was sent: {after.error or before.error}; check the "
                f"broker's orders for {after.cycle_id} (`hydra fill-report`) before rerunning")
    if before is None:
        before = CycleOrders(after.cycle_id, {}, frozenset() if after.broker is not None else None)
    new = [f"{ref} {text}" for ref, text in after.journal.items() if ref not in before.journal]
    if not new:
        text = f"no order was sent for {after.cycle_id} by this run"
    else:
        listed = "; ".join(new[:10]) + (f"; and {len(new) - 10} more" if len(new) > 10 else "")
        text = (f"{len(new)} order{'s were' if len(new) > 1 else ' was'} sent for "
                f"{after.cycle_id} by this run: {listed}")
    if after.broker is not None and before.broker is not None:
        at_broker = len(after.broker - before.broker)
        if at_broker != len(new):
            text += (f"; BUT the simulated broker received {at_broker}: the journal and the "
                     "broker disagree, reconcile (`hydra fill-report`) before rerunning")
    earlier = len(before.journal)
    if earlier:
        text += f" ({earlier} sent earlier for this cycle by other runs)"
    return text


def read_summary(output: Path) -> dict[str, Any] | None:
    import scrapbook as sb

    try:
        scraps = sb.read_notebook(str(output)).scraps
    except Exception:
        return None
    if "summary" in scraps:
        return scraps["summary"].data
    if "reconciliation" in scraps:  # the reconciliation job's report: its headline and verdict
        rec = scraps["reconciliation"].data
        breaks = scraps["breaks"].data if "breaks" in scraps else None
        return {"status": rec.get("status"), "headline": rec.get("headline"), "breaks": breaks}
    return None

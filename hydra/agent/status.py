"""One-call health summary of the champion(s), for `hydra status` and dashboards.

Reads the registry, the agent journal and the bar store only: no broker connection, no writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from hydra.agent.journal import AgentJournal, agent_db_path
from hydra.model.registry import Registry
from hydra.paths import DataPaths


def _markets(root: Path) -> list[str]:
    models = DataPaths(root).models_dir
    if not models.is_dir():
        return []
    return sorted(p.name for p in models.iterdir() if (p / "champion.json").is_file())


def health_summary(data_dir: str | Path, market: str | None = None,
                   also: Iterable[str] = ()) -> dict[str, Any]:
    """{market: {...}} for every market with a champion (or just `market`).

    Per market: champion id, its training window and recipe, the previous champion (rollback
    target), the last observe step's health metrics and drift, and the last loop decision.
    An empty dict means no cycle has run in this data dir yet.
    """
    root = Path(data_dir)
    out: dict[str, Any] = {}
    extra = set(also)  # markets to list even without a model (those a job trades)
    markets = [market] if market else sorted(set(_markets(root)) | extra)
    db = agent_db_path(root)
    journal = AgentJournal(db) if db.exists() else None
    try:
        for sym in markets:
            reg = Registry(DataPaths(root).models_dir, sym)
            champ = reg.champion()
            if champ is None:
                if sym in extra:
                    out[sym] = {"champion": None}
                continue
            entry: dict[str, Any] = {
                "champion": champ.model_id,
                "trained_from": champ.train_start,
                "trained_to": champ.train_end,
                "recipe": champ.meta.get("recipe"),
                "playbook": champ.meta.get("playbook"),
                "previous": reg.previous_id(),
                "last_change": reg.last_change(),
                "health": None,
                "drift": None,
                "last_decision": None,
            }
            if journal is not None:
                # the current champion's own health: after a rollback or promotion the last
                # observe step may describe the model that was retired
                obs = journal.events(market=sym, step="observe", model_id=champ.model_id,
                                     limit=1, newest_first=True)
                if obs:
                    entry["health"] = {"as_of": obs[0].as_of, "outcome": obs[0].outcome,
                                       **obs[0].data.get("health", {})}
                    drift = obs[0].data.get("drift", {})
                    entry["drift"] = {"drifted": drift.get("drifted", []),
                                      "is_drifted": drift.get("is_drifted", False)}
                dec = journal.last_decision(sym)
                if dec is not None:
                    entry["last_decision"] = {"as_of": dec.as_of, "outcome": dec.outcome,
                                              "detail": dec.detail}
            out[sym] = entry
    finally:
        if journal is not None:
            journal.close()
    return out


def status_line(entry: dict[str, Any]) -> str:
    """One line per market, e.g. for `hydra status`."""
    if entry.get("champion") is None:
        return "no model yet (the first daily cycle for this market trains one)"
    h = entry.get("health") or {}
    m = h.get("metrics") or {}

    def fmt(value: Any, spec: str) -> str:
        return "n/a" if value is None else format(value, spec)

    dec = entry.get("last_decision") or {}
    drift = entry.get("drift") or {}
    outcome = h.get("outcome")
    decision = dec.get("outcome", "n/a")
    if outcome == "not_judged" and decision == "healthy":
        decision = "kept (not judged yet)"  # "healthy" would contradict the health above
    health = (f"health {outcome.replace('_', ' ')}: hit {fmt(m.get('hit_rate'), '.3f')}, "
              f"sharpe {fmt(m.get('sharpe'), '+.2f')}, "
              f"model dd/contract {fmt(m.get('max_drawdown'), '.1%')} "
              f"over {m.get('days', 0)} live days" if outcome else
              "health not observed yet for this champion")
    return (f"champion {entry['champion']} (trained {entry['trained_from']}..{entry['trained_to']})"
            f"  {health}"
            f"  drift: {', '.join(drift.get('drifted', [])) or 'none'}"
            f"  last decision {dec.get('as_of', 'n/a')}: {decision}")


def next_trade_date_after(root: Path, market: str) -> date | None:
    """The trade date after the store's last bar (what the next cycle would trade)."""
    from hydra.model.store import BarStore, bar_store_path
    from hydra.reference.markets import get_market
    from hydra.reference.sessions import next_trading_day

    path = bar_store_path(root)
    if not path.exists():
        return None
    with BarStore(path) as store:
        last = store.last_date(market)
    return next_trading_day(get_market(market), last) if last else None


def model_line(data_dir: str | Path, markets: Iterable[str] = ()) -> str | None:
    """Every market's status line joined (models, plus `markets` a job trades), or None."""
    summary = health_summary(data_dir, also=markets)
    if not summary:
        return None
    return "\n".join(f"{sym}: {status_line(entry)}" for sym, entry in summary.items())

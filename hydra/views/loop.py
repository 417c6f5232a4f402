"""The loop's outcome as text and tables for the notebook (views.cycle.show_model shows them)."""

from __future__ import annotations

from typing import Any

import pandas as pd


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def outcome_lines(out: Any) -> list[str]:
    """Markdown lines: the decision, the champion, health and drift in words."""
    h, d = out.health, out.drift
    lines = [
        f"**Loop decision:** {out.action.replace('_', ' ')} — {out.detail}",
        f"**Champion** `{out.champion_id}` trained on {out.champion_train[0]} .. "
        f"{out.champion_train[1]}; rollback target `{out.previous_id or 'none'}`; loop took "
        f"{out.elapsed_seconds:.2f}s",
    ]
    m = h.metrics
    if m is None:
        lines.append("**Health:** no live days after the training window yet")
    else:
        lines.append(
            f"**Health** over {m.days} live days: hit rate {_fmt(m.hit_rate, '.3f')}, Sharpe "
            f"{_fmt(m.sharpe, '+.2f')}, model drawdown per contract {m.max_drawdown:.1%} "
            f"(the 1-contract signal's return, not the account's), net return "
            f"{m.total_return:+.2%}, Brier skill {_fmt(m.brier_skill, '+.3f')}"
            + ("" if h.judged else f" (not judged yet: {h.live_days} live days)")
            + (f" — flags: {'; '.join(h.flags)}" if h.flags else ""))
    lines.append(f"**Drift** (last {d.n_current} days vs {d.n_reference} training days): "
                 + (", ".join(d.drifted) or "none") + (" — drifted" if d.is_drifted else ""))
    if out.watch:
        w = out.watch
        lines.append(f"**Rollback watch** vs `{w.get('previous')}`: paired t "
                     f"{_fmt(w.get('t'), '+.2f')} over watch window {w.get('windows')} "
                     f"({w.get('days')} live days), degraded windows in a row "
                     f"{w.get('streak')}")
    return lines


def drift_frame(out: Any) -> pd.DataFrame:
    return out.drift.frame().round({"psi": 3, "ks_stat": 3, "ks_pvalue": 4})


def candidates_frame(out: Any) -> pd.DataFrame:
    rows = [{"candidate": c.candidate_id, "playbook": c.playbook,
             "wins": c.comparison["wins"], "losses": c.comparison["losses"],
             "ties": c.comparison["ties"], "candidate_net": c.comparison["candidate_total"],
             "champion_net": c.comparison["champion_total"], "promoted": c.won}
            for c in out.candidates]
    return pd.DataFrame(rows, columns=["candidate", "playbook", "wins", "losses", "ties",
                                       "candidate_net", "champion_net", "promoted"])

"""What the self-healing loop buys: a year of the loop over several seeds, loop on vs loop off,
on the regime market and on the null market (a pure random walk: no model has an edge).

Model level, not account level: each day the loop runs on the bars before the day (exactly
`hydra.agent.loop.run_loop`, the same code the cycle calls), the champion's signal sets a
1-contract position, and the day is scored by the one return definition the loop itself uses
(hydra/model/returns.py: from the cycle's 10:00 entry to the next cycle's, net of the slippage
model and commission). Bars are built from the simulator's daily closes and 10:00 mids (high =
low = close, constant volume: whole intraday bars would cost minutes); the default recipe uses
close-based features only. Nothing is asserted.

Run: .venv/bin/python benchmarks/loop_value.py [--seeds 7 4 11] [--days 252]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from datetime import time as dtime
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd

from hydra.agent.journal import AgentJournal
from hydra.agent.loop import run_loop
from hydra.broker.sim.market import sim_market
from hydra.config import load_config
from hydra.model.evaluate import hits
from hydra.model.registry import Registry
from hydra.model.returns import CostModel, cycle_returns, entry_time, position_returns
from hydra.model.signal import ModelData, cost_model, model_data, predict
from hydra.reference.markets import get_market

START = date(2025, 6, 2)


def _bars(seed: int, null: bool) -> pd.DataFrame:
    sm = sim_market("ZO", seed, null)
    c = pd.Series(dict(sm.closes(date(2022, 1, 1), date(2027, 6, 1))), dtype=float)
    entry = [sm.quote_at(entry_time(d, dtime(10, 0), "America/Chicago")).mid for d in c.index]
    return pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": 1000,
                         "entry": entry})


def _data(bars: pd.DataFrame, day: date, limit: int, cost: CostModel) -> ModelData:
    return model_data(bars[bars.index < day].tail(limit), day, cost)


def run(seed: int, null: bool, loop_on: bool, days: int) -> dict[str, float]:
    cfg = load_config(None)
    if not loop_on:
        cfg = replace(cfg, agent=replace(cfg.agent, experiments_per_week=0))
    mkt = get_market("ZO")
    cost = cost_model(mkt, cfg)
    bars = _bars(seed, null)
    trade_days = [d for d in bars.index if d >= START][: days + 1]
    root = Path(tempfile.mkdtemp(prefix="hydra-loopvalue-"))
    t0 = time.perf_counter()
    cr = cycle_returns(bars, cost)  # row p: the position the cycle after p takes
    pos: list[int] = []
    fwd: list[float] = []
    frac: list[float] = []
    label: list[float] = []
    px: list[float] = []
    judged = alarms = promotions = rollbacks = 0
    with AgentJournal(root / "agent.sqlite") as journal:
        for prev, d in pairwise([bars.index[bars.index < START][-1], *trade_days[:-1]]):
            data = _data(bars, d, cfg.model.backfill_days, cost)
            out = run_loop(mkt, d, cfg, root, data, journal,
                           at=datetime.combine(d, datetime.min.time(), UTC),
                           cycle_id=f"bench-{d}")
            judged += out.health.judged
            alarms += bool(out.health.flags) or out.drift.is_drifted
            promotions += out.action == "promoted"
            rollbacks += out.action == "rolled_back"
            champ = Registry(root / "models", "ZO").champion()
            assert champ is not None
            p = predict(champ.model, data, cfg.model.prob_band)
            pos.append(p.direction)
            px.append(float(bars.loc[d, "entry"]))
            fwd.append(float(cr.ret.loc[prev]))  # entry(d) -> entry(next trading day)
            frac.append(float(cr.cost.loc[prev]))
            label.append(float(cr.label.loc[prev]))
    # the signal uses bars before d (prev's close is the last); it is scored from d's 10:00
    # entry to the next cycle's, as the cycle trades it (no look-ahead)
    p_arr, f_arr, c_arr = np.array(pos), np.array(fwd), np.array(px)
    rets = position_returns(p_arr, f_arr, np.array(frac))
    dollars = rets * c_arr * mkt.point_value
    right, judged_days = hits(p_arr, np.array(label))
    hit = right / judged_days if judged_days else 0.0
    return {"pnl": float(dollars.sum()), "hit": hit, "promotions": promotions,
            "rollbacks": rollbacks, "alarm_days": alarms, "judged_days": judged,
            "days": len(pos), "seconds": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 4, 11])
    ap.add_argument("--days", type=int, default=252)
    args = ap.parse_args()
    print(f"{'market':7} {'loop':4} {'seed':>4} {'P&L $':>9} {'hit':>5} {'promo':>5} "
          f"{'rollb':>5} {'alarm d':>7} {'judged d':>8} {'secs':>5}")
    totals: dict[tuple[str, str], list[float]] = {}
    for null in (False, True):
        for loop_on in (True, False):
            for seed in args.seeds:
                r = run(seed, null, loop_on, args.days)
                key = ("null" if null else "regime", "on" if loop_on else "off")
                totals.setdefault(key, []).append(r["pnl"])
                print(f"{key[0]:7} {key[1]:4} {seed:>4} {r['pnl']:>9,.0f} {r['hit']:>5.3f} "
                      f"{r['promotions']:>5} {r['rollbacks']:>5} {r['alarm_days']:>7} "
                      f"{r['judged_days']:>8} {r['seconds']:>5.1f}", flush=True)
    for (m, lp), v in totals.items():
        print(f"total {m} loop {lp}: {sum(v):+,.0f} $ over {len(v)} seeds "
              f"(won {sum(x > 0 for x in v)})")
    print("On the null market every promotion is a false promotion and every alarm day a false "
          "alarm (no model has an edge there).")


if __name__ == "__main__":
    main()

"""What the self-healing loop buys: a year of the loop over several seeds, loop on vs loop off,
on the regime market and on the null market (a pure random walk: no model has an edge).

Model level, not account level: each day the loop runs on the bars before the day (exactly
`hydra.agent.loop.run_loop`, the same code the cycle calls), the champion's signal sets a
1-contract position, and the day is scored by the loop's own return definition (close to next
close, net of cost_ticks and commission: hydra/model/evaluate.py). Bars are built from the
simulator's daily closes only (high = low = close, constant volume: the intraday paths would
cost minutes); the default recipe uses close-based features only. Nothing is asserted.

Run: .venv/bin/python benchmarks/loop_value.py [--seeds 7 4 11] [--days 252]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd

from hydra.agent.journal import AgentJournal
from hydra.agent.loop import run_loop
from hydra.broker.market_sim import sim_market
from hydra.config import load_config
from hydra.markets import get_market
from hydra.model.evaluate import net_returns
from hydra.model.features import VOL_DAYS, labelled, make_features
from hydra.model.registry import Registry
from hydra.model.signal import ModelData, cost_model, predict

START = date(2025, 6, 2)


def _bars(seed: int, null: bool) -> pd.DataFrame:
    c = pd.Series(dict(sim_market("ZO", seed, null).closes(date(2022, 1, 1), date(2027, 6, 1))),
                  dtype=float)
    return pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": 1000})


def _data(bars: pd.DataFrame, day: date, limit: int) -> ModelData:
    b = bars[bars.index < day].tail(limit)
    X, up, fwd = labelled(b)
    feats = make_features(b.tail(VOL_DAYS + 5))
    return ModelData(day, b, X, up, fwd, feats.tail(1))


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
    pos: list[int] = []
    fwd: list[float] = []
    px: list[float] = []
    judged = alarms = promotions = rollbacks = 0
    with AgentJournal(root / "agent.sqlite") as journal:
        for d, nxt in pairwise(trade_days):
            data = _data(bars, d, cfg.model.backfill_days)
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
            px.append(float(bars.loc[d, "close"]))
            fwd.append(float(bars.loc[nxt, "close"]) / px[-1] - 1.0)
    # the signal uses bars before d (d-1's close is the last); it is scored from d's close to
    # the next close: a day later than the cycle could act, never earlier (no look-ahead)
    p_arr, f_arr, c_arr = np.array(pos), np.array(fwd), np.array(px)
    rets = net_returns(p_arr, f_arr, c_arr, cost)
    dollars = rets * c_arr * mkt.point_value
    active = p_arr != 0
    hit = float(np.mean((p_arr[active] > 0) == (f_arr[active] > 0))) if active.any() else 0.0
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

"""The self-healing loop, run once per cycle before the signal: it acts on the model that trades.

observe   the champion's live health (its days after its training window only: hit rate,
          Sharpe and drawdown of its net signal returns, Brier skill) and feature drift
          (PSI, KS) of recent features against its training window;
watch     a freshly promoted champion against the one it replaced, on the same live days cut
          into non-overlapping windows (each judged once): degraded windows with hysteresis,
          then a rollback (and a cooldown);
diagnose  which causes hold (performance flags, drift);
retrain   if degraded and the weekly experiment budget allows: candidates from a small playbook
          (refresh on recent data, shorter / longer window, more regularisation, returns only);
evaluate  candidate and champion on the same walk-forward windows (see hydra.model.evaluate);
promote   only a candidate that wins a majority of windows and more money overall.

Every step is written to the agent journal; the decision is written last, and a rerun of the
same cycle finds it and does nothing twice. When healthy the loop only reads and scores
(milliseconds); training is bounded by `agent.experiments_per_week` and
`agent.candidates_per_cycle`, and each fit is one small logistic regression.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binom
from scipy.stats import t as student_t

from hydra.agent.drift import DriftReport, drift_of_arrays, not_judged
from hydra.agent.journal import AgentJournal, Event, agent_db_path
from hydra.broker.base import Broker
from hydra.config import AgentConfig, Config
from hydra.domain.market import Market
from hydra.model.classifier import MIN_TRAIN_ROWS, FittedModel, Recipe, fit
from hydra.model.evaluate import (
    Comparison,
    Metrics,
    as_deployed,
    compare,
    fixed_before,
    hits,
    make_folds,
    refit_for_fold,
    score,
)
from hydra.model.features import FEATURES
from hydra.model.registry import ModelRecord, Registry
from hydra.model.signal import ModelData, cost_model, load_data, sync_store
from hydra.model.store import BarStore, bar_store_path

DRIFT_ALWAYS = ("vol_20",)  # watched for drift whatever the model uses: the volatility regime
RAW_RETURN = "logret_1"  # also watched: the raw daily log return (volatility shifts, undiluted)


def base_recipe(config: Config) -> Recipe:
    unknown = [f for f in config.model.features if f not in FEATURES]
    if unknown or not config.model.features:
        raise ValueError(f"model.features must be a non-empty list drawn from "
                         f"{', '.join(FEATURES)}; unknown: {', '.join(unknown) or 'none'}")
    return Recipe(features=tuple(config.model.features), C=config.model.l2_c,
                  train_days=config.model.train_days, note="baseline")


def models_dir(root: Path) -> Path:
    return Path(root) / "models"  # == DataPaths(root).models_dir


# ------------------------------------------------------------------------------- observe
@dataclass(frozen=True)
class Health:
    live_days: int  # labelled days after the champion's training window
    judged: bool  # enough live days to judge performance
    metrics: Metrics | None  # over the last observe_days live days
    flags: list[str]

    @property
    def degraded(self) -> bool:
        return bool(self.flags)

    def as_dict(self) -> dict[str, Any]:
        return {"live_days": self.live_days, "judged": self.judged, "flags": self.flags,
                "metrics": self.metrics.as_dict() if self.metrics else None}


def _live_mask(model: FittedModel, data: ModelData) -> np.ndarray:
    end = date.fromisoformat(model.train_end)
    return np.array([d > end for d in data.X.index], dtype=bool)


def performance_flags(m: Metrics, rets: np.ndarray, pos: np.ndarray, up: np.ndarray,
                      cfg: AgentConfig) -> list[str]:
    """Flags that are evidence, not noise: each fires on a coin-like model at most
    health_alpha / 2 of the time (one-sided binomial test of the hit rate, one-sided t-test of
    the mean net return); the threshold keys must be crossed too. Drawdown and Brier skill
    flag on their thresholds (set wide in defaults.toml: they have no test)."""
    flags: list[str] = []
    half = cfg.health_alpha / 2
    right, n_act = hits(pos, up)
    if m.hit_rate is not None and n_act and m.hit_rate < cfg.hit_rate_min:
        p = float(binom.cdf(right, n_act, 0.5))
        if p < half:
            flags.append(f"hit_rate {right}/{n_act} = {_below(m.hit_rate, cfg.hit_rate_min)} "
                         f"and below a coin (binomial p {_below(p, half)})")
    n = len(rets)
    sd = float(np.std(rets, ddof=1)) if n > 1 else 0.0
    if m.sharpe is not None and m.sharpe < cfg.sharpe_min and sd > 0:
        t = float(np.mean(rets) / (sd / math.sqrt(n)))
        p = float(student_t.cdf(t, n - 1))
        if p < half:
            flags.append(f"sharpe {_below(m.sharpe, cfg.sharpe_min, '+')} and mean net return "
                         f"below 0 (t {t:+.2f}, p {_below(p, half)})")
    if m.max_drawdown < -cfg.drawdown_max:
        flags.append(f"model drawdown per contract (1-contract signal return, not the "
                     f"account's) {m.max_drawdown:.2%} beyond -{cfg.drawdown_max:.2%}")
    if m.brier_skill is not None and m.brier_skill < cfg.brier_skill_min:
        flags.append(f"brier_skill {_below(m.brier_skill, cfg.brier_skill_min, '+')}")
    return flags


def _below(value: float, limit: float, sign: str = "") -> str:
    """'value < limit' printed with enough digits that the printed numbers differ too (the
    comparison is on the unrounded values; 0.4699 is never shown as '0.47 < 0.47')."""
    for digits in range(3, 10):
        a, b = f"{value:{sign}.{digits}f}", f"{limit:{sign}.{digits}f}"
        if a != b:
            return f"{a} < {b}"
    return f"{value!r} < {limit!r}"


def observe_health(model: FittedModel, data: ModelData, band: float,
                   cfg: AgentConfig) -> Health:
    """Health over the champion's live days; "not judged" (no flags) before min_live_days."""
    live = _live_mask(model, data)
    n_live = int(live.sum())
    X = data.X[live].tail(cfg.observe_days)
    if not len(X):
        return Health(0, False, None, [])
    up = data.up.loc[X.index]
    s = score(model, X, up, data.fwd, data.cost, band)
    judged = n_live >= cfg.min_live_days
    flags = performance_flags(s.metrics, s.rets, s.pos, up.to_numpy(), cfg) if judged else []
    return Health(n_live, judged, s.metrics, flags)


def drift_columns(model: FittedModel) -> list[str]:
    """The watched columns: the model's inputs, vol_20 and the raw daily log return (nearly
    independent day to day, so the test has its full sample size for volatility shifts)."""
    return [f for f in FEATURES if f in model.recipe.features or f in DRIFT_ALWAYS] + [RAW_RETURN]


def drift_frame(model: FittedModel, data: ModelData) -> pd.DataFrame:
    """The watched columns (drift_columns) on every feature row, the latest one included."""
    cols = drift_columns(model)[:-1]
    feats = data.all_features[cols].copy()
    logret = np.log(data.close).diff()
    feats[RAW_RETURN] = logret.reindex(feats.index)
    return feats


def observe_drift(model: FittedModel, data: ModelData, cfg: AgentConfig) -> DriftReport:
    """Recent rows strictly after the training window against the training rows (never
    overlapping); not judged until drift_min_rows fresh rows exist.

    The rows and values of drift_frame, taken column by column as arrays (the same numbers:
    tests/agent/test_loop.py compares it with drift_report on drift_frame)."""
    start, end = date.fromisoformat(model.train_start), date.fromisoformat(model.train_end)
    cols = drift_columns(model)
    parts = [data.X, data.latest] if len(data.latest) else [data.X]
    days = [d for p in parts for d in p.index]
    in_ref = np.array([start <= d <= end for d in days], dtype=bool)
    after = np.flatnonzero([d > end for d in days])[-cfg.drift_days:] if cfg.drift_days else []
    n_ref, n_cur = int(in_ref.sum()), len(after)
    if n_cur < cfg.drift_min_rows or n_ref < cfg.drift_min_rows:
        return not_judged(n_ref, n_cur, cfg.drift_min_features, cfg.drift_alpha, cols)
    columns = {c: np.concatenate([p[c].to_numpy(dtype=float) for p in parts]) for c in cols[:-1]}
    log_close = np.log(data.bars["close"].to_numpy(dtype=float))  # as np.log(close).diff()
    logret = np.empty_like(log_close)
    logret[:1] = np.nan
    np.subtract(log_close[1:], log_close[:-1], out=logret[1:])
    where = data.bars.index.get_indexer(days)
    columns[RAW_RETURN] = np.where(where >= 0, logret[where], np.nan)
    refs = {c: _finite(v[in_ref]) for c, v in columns.items()}
    curs = {c: _finite(v[after]) for c, v in columns.items()}
    return drift_of_arrays(refs, curs, n_ref, n_cur, alpha=cfg.drift_alpha,
                           min_features=cfg.drift_min_features)


def _finite(values: np.ndarray) -> np.ndarray:
    return values[~np.isnan(values)]


# --------------------------------------------------------------------- rollback watch
@dataclass(frozen=True)
class WatchState:
    """Hysteresis of one promoted champion: degraded until it recovers above the exit level."""

    champion: str | None = None
    degraded: bool = False
    streak: int = 0  # consecutive degraded periods
    windows: int = 0  # watch windows already judged (each live day is judged once)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def step_watch(state: WatchState, t: float | None, *, enter: float, exit: float,
               periods: int) -> tuple[WatchState, bool]:
    """One period of the rollback watch; returns the new state and whether to roll back.

    Enter the degraded state when t < enter; stay in it (counting periods) until t > exit;
    roll back after `periods` consecutive degraded periods. No evidence (t None) changes nothing.
    """
    if t is None:
        return state, False
    if state.degraded:
        new = replace(state, degraded=t <= exit, streak=0 if t > exit else state.streak + 1)
    elif t < enter:
        new = replace(state, degraded=True, streak=1)
    else:
        new = state
    return new, new.degraded and new.streak >= periods


def watch_window_days(cfg: AgentConfig) -> int:
    """Live days per watch period: the probation cut into `rollback_periods` equal windows, so
    a rollback rests on that many independent t-statistics, never one counted again."""
    return max(2, cfg.probation_days // max(1, cfg.rollback_periods))


def due_windows(n_live: int, window: int, judged: int, max_windows: int) -> list[slice]:
    """The complete, not yet judged, non-overlapping windows of live rows (positions among
    the live rows): window k is rows [k*window, (k+1)*window)."""
    last = min(n_live // window, max_windows)
    return [slice(k * window, (k + 1) * window) for k in range(judged, last)]


def paired_t(champion: FittedModel, previous: FittedModel, data: ModelData, band: float,
             rows: slice) -> tuple[float | None, int]:
    """t-statistic of the daily (champion - previous) net returns over one window of the
    champion's live rows."""
    X = data.X[_live_mask(champion, data)].iloc[rows]
    if len(X) < 2:
        return None, len(X)
    up = data.up.loc[X.index]
    a = score(champion, X, up, data.fwd, data.cost, band).rets
    b = score(previous, X, up, data.fwd, data.cost, band).rets
    d = a - b
    sd = float(np.std(d, ddof=1))
    if sd == 0:
        return 0.0, len(X)
    return float(np.mean(d) / (sd / math.sqrt(len(d)))), len(X)


# ------------------------------------------------------------------------------ playbook
def playbook(champion: Recipe, causes: list[str], base: Recipe,
             tried: dict[str, int] | None = None) -> list[tuple[str, Recipe]]:
    """Candidate recipes for the causes found, least tried (for this champion) first."""
    window = champion.train_days or 250
    entries: dict[str, Recipe] = {
        "refresh": champion.variant(note="refresh: same recipe, retrained on data to date"),
        "short_window": champion.variant(train_days=max(30, window * 2 // 3),
                                         note="shorter training window"),
        "long_window": champion.variant(train_days=min(500, window * 3 // 2),
                                        note="longer training window"),
        "regularize": champion.variant(C=champion.C / 4, note="stronger L2 regularisation"),
        "returns_only": champion.variant(
            features=tuple(f for f in FEATURES if f.startswith("ret_")),
            note="return features only"),
        "all_features": champion.variant(features=FEATURES, note="every feature"),
        "baseline": base.variant(note="configured baseline recipe"),
    }
    drift_only = all(c.startswith("drift") for c in causes)
    order = (["refresh", "short_window", "regularize"] if drift_only else
             ["refresh", "short_window", "long_window", "regularize", "returns_only",
              "all_features", "baseline"])
    out: list[tuple[str, Recipe]] = []
    for name in order:
        r = entries[name]
        same = (r.features, r.C, r.train_days) == (champion.features, champion.C,
                                                   champion.train_days)
        if name != "refresh" and same:
            continue
        out.append((name, r))
    counts = tried or {}
    return sorted(out, key=lambda e: counts.get(e[0], 0))  # stable: ties keep the order


# ------------------------------------------------------------------------------ outcome
@dataclass(frozen=True)
class CandidateResult:
    candidate_id: str
    playbook: str
    recipe: dict[str, Any]
    comparison: dict[str, Any]
    won: bool


@dataclass
class LoopOutcome:
    market: str
    as_of: date
    cycle_id: str
    action: str  # initial | none | promoted | retrained_rejected | rolled_back | skipped |
    #              already_done
    detail: str
    champion_id: str
    champion_train: tuple[str, str]
    previous_id: str | None
    health: Health
    drift: DriftReport
    causes: list[str] = field(default_factory=list)
    candidates: list[CandidateResult] = field(default_factory=list)
    watch: dict[str, Any] = field(default_factory=dict)
    elapsed_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "market": self.market, "as_of": self.as_of.isoformat(), "cycle_id": self.cycle_id,
            "action": self.action, "detail": self.detail, "champion_id": self.champion_id,
            "champion_train": list(self.champion_train), "previous_id": self.previous_id,
            "health": self.health.as_dict(), "drift": self.drift.as_dict(),
            "causes": self.causes, "candidates": [asdict(c) for c in self.candidates],
            "watch": self.watch, "elapsed_seconds": self.elapsed_seconds,
        }


# ------------------------------------------------------------------------------ the loop
def ensure_champion(root: Path, market: Market, as_of: date, config: Config, data: ModelData,
                    journal: AgentJournal, *, at: datetime, cycle_id: str) -> ModelRecord:
    """The champion; on a fresh data dir, train the first one from the stored history."""
    reg = Registry(models_dir(root), market.symbol)
    current = reg.champion()
    if current is not None:
        return current
    recipe = base_recipe(config)
    model = fit(recipe, data.X, data.up)
    a = config.agent
    folds = make_folds(len(data.X), a.wf_folds, a.wf_fold_days, a.wf_embargo_days,
                       MIN_TRAIN_ROWS)
    wf = compare(refit_for_fold(recipe, data.X, data.up), refit_for_fold(recipe, data.X, data.up),
                 folds, data.X, data.up, data.fwd, data.cost, config.model.prob_band,
                 a.promote_min_wins)
    model_id = reg.save(model, {"created_as_of": as_of.isoformat(), "created_at": at.isoformat(),
                                "reason": "initial champion, trained on the stored history",
                                "playbook": "initial", "parent": None,
                                "walk_forward": [asdict(f) for f in wf.folds],
                                "walk_forward_total": wf.champion_total})
    reg.promote(model_id, at=as_of.isoformat(), reason="initial champion")
    journal.record(at=at, as_of=as_of, market=market.symbol, cycle_id=cycle_id, step="initial",
                   outcome="promoted", model_id=model_id,
                   detail=f"no champion yet: trained {model_id} on {model.n_train} days "
                          f"{model.train_start}..{model.train_end} and made it the champion",
                   data={"recipe": recipe.to_dict(), "walk_forward_total": wf.champion_total})
    return reg.load(model_id)


def _budget_used(journal: AgentJournal, market: str, as_of: date) -> int:
    return len(journal.experiments_between(market, as_of - timedelta(days=6), as_of))


def _first_fresh_row(data: ModelData, evaluated_until: str | None) -> int:
    """Index of the first labelled row after the last evaluated day (0 if none)."""
    if not evaluated_until:
        return 0
    last = date.fromisoformat(evaluated_until)
    return int(sum(1 for d in data.X.index if d <= last))


def _cycles_since(data: ModelData, day: date) -> int:
    """Completed trading days from `day` up to the trade date (how many cycles have passed)."""
    return int(sum(1 for d in data.bars.index if d >= day))


def maintain(broker: Broker, market: Market, as_of: date, config: Config, root: Path,
             cycle_id: str) -> LoopOutcome:
    """Run the loop for one cycle (see the module docstring)."""
    t0 = time.perf_counter()
    root = Path(root)
    contract = broker.contract_details(market.symbol, as_of)
    with BarStore(bar_store_path(root)) as store, AgentJournal(agent_db_path(root)) as journal:
        sync_store(broker, contract, store, as_of, config.model.backfill_days,
                   config.sim.cycle_local_time, market.timezone)
        data = load_data(store, market.symbol, as_of, config.model.backfill_days,
                         cost_model(market, config))
        out = run_loop(market, as_of, config, root, data, journal, at=broker.now(),
                       cycle_id=cycle_id)
    out.elapsed_seconds = round(time.perf_counter() - t0, 4)
    return out


def run_loop(market: Market, as_of: date, config: Config, root: Path, data: ModelData,
             journal: AgentJournal, *, at: datetime, cycle_id: str,
             act: bool = True) -> LoopOutcome:
    """The loop on prepared data; `act=False` observes and diagnoses only (nothing written)."""
    sym, a, band = market.symbol, config.agent, config.model.prob_band
    reg = Registry(models_dir(root), sym)
    fresh = reg.champion() is None
    if fresh and not act:
        raise LookupError(f"no champion model for {sym} yet: the first cycle trains one")
    champ = ensure_champion(root, market, as_of, config, data, journal, at=at, cycle_id=cycle_id)

    def rec(step: str, outcome: str, detail: str, **kw: Any) -> None:
        if act:
            journal.record(at=at, as_of=as_of, market=sym, cycle_id=cycle_id, step=step,
                           outcome=outcome, detail=detail, **kw)

    health = observe_health(champ.model, data, band, a)
    drift = observe_drift(champ.model, data, a)
    out = LoopOutcome(sym, as_of, cycle_id, "none", "", champ.model_id,
                      (champ.train_start, champ.train_end), reg.previous_id(), health, drift)
    if fresh:
        out.action = "initial"
        out.detail = (f"first cycle: trained the initial champion {champ.model_id} on "
                      f"{champ.model.n_train} days {champ.train_start}..{champ.train_end}")
        rec("decision", "initial", out.detail, model_id=champ.model_id)
        return out
    prior = journal.decision(cycle_id) if act else None
    if prior is not None:
        out.action = "already_done"
        out.detail = (f"the loop already ran for {cycle_id}: {prior.outcome} ({prior.detail}); "
                      "nothing is done twice")
        return out

    obs_outcome = ("not_judged" if not health.judged else
                   "degraded" if health.degraded else "healthy")
    rec("observe", obs_outcome,
        f"{health.live_days} live days; " + (", ".join(health.flags) or "no flags")
        + f"; drifted features: {', '.join(drift.drifted) or 'none'}",
        model_id=champ.model_id, data={"health": health.as_dict(), "drift": drift.as_dict()})

    # ---- rollback watch over a freshly promoted champion
    state = journal.get_state(sym) if act else {}
    watch = WatchState(**state.get("watch", {}))
    if watch.champion != champ.model_id:
        watch = WatchState(champ.model_id)
    last = reg.last_change()
    prev_id = reg.previous_id()
    window = watch_window_days(a)
    if (last and last["action"] == "promote" and last["model_id"] == champ.model_id
            and prev_id):
        prev = reg.load(prev_id)
        fire = False
        live_days = data.X.index[_live_mask(champ.model, data)]
        for rows in due_windows(health.live_days, window, watch.windows, a.rollback_periods):
            t, n = paired_t(champ.model, prev.model, data, band, rows)
            span = live_days[rows]
            watch, fire = step_watch(replace(watch, windows=watch.windows + 1), t,
                                     enter=a.rollback_enter_t, exit=a.rollback_exit_t,
                                     periods=a.rollback_periods)
            out.watch = {"t": t, "days": n, "previous": prev_id, "window_days": window,
                         "from": str(span[0]), "to": str(span[-1]), **watch.as_dict()}
            rec("watch", "degraded" if watch.degraded else "watching",
                f"{champ.model_id} vs previous {prev_id}, watch window {watch.windows}/"
                f"{a.rollback_periods} ({n} live days {span[0]}..{span[-1]}, none judged "
                "before): paired t "
                + ("n/a" if t is None else f"{t:+.2f}")
                + f"; degraded windows in a row {watch.streak}/{a.rollback_periods}",
                model_id=champ.model_id, candidate_id=prev_id, data=out.watch)
            if fire:
                break
        if fire and act:
            restored, retired = reg.rollback(at=as_of.isoformat(),
                                             reason=f"degraded {watch.streak} watch windows "
                                                    "in a row")
            reg.update_meta(retired, status="rolled_back", rolled_back_as_of=as_of.isoformat())
            state = {**state, "watch": WatchState(restored).as_dict(),
                     "cooldown_since": as_of.isoformat()}
            journal.put_state(sym, state)
            out.action = "rolled_back"
            out.champion_id, out.previous_id = restored, reg.previous_id()
            out.detail = (f"rolled back: {retired} trailed {restored} in {watch.streak} "
                          f"non-overlapping {window}-day windows in a row (last paired t "
                          f"{out.watch['t']:+.2f}); {restored} trades from now; "
                          f"no promotion for {a.cooldown_days} cycles")
            rec("rollback", "rolled_back", out.detail, model_id=restored, candidate_id=retired)
            rec("decision", "rolled_back", out.detail, model_id=restored)
            return out
    if act:
        state["watch"] = watch.as_dict()
        journal.put_state(sym, state)

    # ---- diagnose
    causes = [f"performance: {f}" for f in health.flags]
    if drift.is_drifted:
        causes.append(f"drift: {', '.join(drift.drifted)}")
    out.causes = causes
    rec("diagnose", "degraded" if health.flags else "drifted" if causes else "healthy",
        "; ".join(causes) or "healthy: no performance flag, inputs not drifted",
        model_id=champ.model_id, data={"causes": causes})
    if not causes:
        out.detail = (f"healthy: {champ.model_id} keeps trading"
                      + ("" if health.judged else f" ({health.live_days} live days, "
                         f"performance judged from {a.min_live_days})"))
        rec("decision", "healthy", out.detail, model_id=champ.model_id)
        return out
    if not act:
        out.action = "would_retrain"
        out.detail = "degraded: the next cycle would try candidates (budget permitting)"
        return out

    # ---- cooldown and budget
    since = state.get("cooldown_since")
    if since and _cycles_since(data, date.fromisoformat(since)) < a.cooldown_days:
        out.action = "skipped"
        out.detail = (f"degraded ({'; '.join(causes)}) but in cooldown after the rollback on "
                      f"{since}: no experiment for {a.cooldown_days} cycles")
        rec("decision", "skipped", out.detail, model_id=champ.model_id)
        return out
    room = min(a.candidates_per_cycle, a.experiments_per_week - _budget_used(journal, sym, as_of))
    if room <= 0:
        out.action = "skipped"
        out.detail = (f"degraded ({'; '.join(causes)}) but the experiment budget "
                      f"({a.experiments_per_week} per week) is spent")
        rec("decision", "skipped", out.detail, model_id=champ.model_id)
        return out

    # ---- retrain and evaluate on the same walk-forward windows
    tried: dict[str, int] = {}
    for e in journal.events(market=sym, step="train", model_id=champ.model_id):
        tried[e.data.get("playbook", "")] = tried.get(e.data.get("playbook", ""), 0) + 1
    entries = playbook(champ.model.recipe, causes, base_recipe(config), tried)
    # Evidence: windows no earlier attempt has tested (so repeated attempts cannot re-mine the
    # same days), champion and candidate each one fit held fixed over the windows, and a
    # paired test at promote_alpha split over the candidates tried (Bonferroni).
    first_row = _first_fresh_row(data, state.get("evaluated_until"))
    folds = make_folds(len(data.X), a.wf_folds, a.wf_fold_days, a.wf_embargo_days,
                       MIN_TRAIN_ROWS, first_row)
    if len(folds) < a.promote_min_wins:
        out.action = "skipped"
        out.detail = (f"degraded ({'; '.join(causes)}) but only {len(folds)} untested "
                      f"{a.wf_fold_days}-day windows since the last evaluation (up to "
                      f"{state.get('evaluated_until')}); {a.promote_min_wins} are needed")
        rec("decision", "skipped", out.detail, model_id=champ.model_id)
        return out
    champion_fn = as_deployed(champ.model, data.X, data.up, folds)
    n_try = len(entries[:room])
    alpha = a.promote_alpha / max(1, n_try)
    state["evaluated_until"] = str(data.X.index[folds[-1].end - 1])
    journal.put_state(sym, state)
    best: tuple[CandidateResult, Comparison] | None = None
    for name, recipe in entries[:room]:
        model = fit(recipe, data.X, data.up)
        cmp = compare(champion_fn, fixed_before(recipe, data.X, data.up, folds), folds, data.X,
                      data.up, data.fwd, data.cost, band, a.promote_min_wins, alpha)
        cid = reg.save(model, {"created_as_of": as_of.isoformat(), "created_at": at.isoformat(),
                               "reason": "; ".join(causes), "playbook": name,
                               "parent": champ.model_id, "walk_forward": cmp.as_dict(),
                               "status": "candidate"})
        rec("train", "trained",
            f"{name}: {recipe.note}; {model.n_train} days {model.train_start}..{model.train_end}",
            model_id=champ.model_id, candidate_id=cid,
            data={"playbook": name, "recipe": recipe.to_dict()})
        won = cmp.candidate_wins
        rec("evaluate", "won" if won else "lost",
            f"{cid} vs {champ.model_id}: won {cmp.wins}, lost {cmp.losses}, tied {cmp.ties} of "
            f"{len(cmp.folds)} windows (needs {a.promote_min_wins}); net return "
            f"{cmp.candidate_total:+.2%} vs {cmp.champion_total:+.2%}; paired t "
            + ("n/a" if cmp.t_stat is None else f"{cmp.t_stat:+.2f}")
            + f", p {cmp.p_value:.4f} (needs < {cmp.alpha:.4f})",
            model_id=champ.model_id, candidate_id=cid, data=cmp.as_dict())
        result = CandidateResult(cid, name, recipe.to_dict(), cmp.as_dict(), won)
        out.candidates.append(result)
        if won and (best is None or cmp.candidate_total > best[1].candidate_total):
            best = (result, cmp)
    if best is None:
        for c in out.candidates:
            reg.update_meta(c.candidate_id, status="rejected")
        out.action = "retrained_rejected"
        out.detail = (f"degraded ({'; '.join(causes)}); {len(out.candidates)} candidate(s) "
                      f"lost on the walk-forward windows: {champ.model_id} keeps trading")
        rec("decision", "rejected", out.detail, model_id=champ.model_id)
        return out
    winner, cmp = best
    reg.promote(winner.candidate_id, at=as_of.isoformat(),
                reason=f"{winner.playbook} won {cmp.wins}/{len(cmp.folds)} windows")
    reg.update_meta(winner.candidate_id, status="champion", promoted_as_of=as_of.isoformat())
    for c in out.candidates:
        if c.candidate_id != winner.candidate_id:
            reg.update_meta(c.candidate_id, status="rejected")
    journal.put_state(sym, {**state, "watch": WatchState(winner.candidate_id).as_dict()})
    out.action = "promoted"
    out.previous_id = champ.model_id
    out.champion_id = winner.candidate_id
    new = reg.load(winner.candidate_id)
    out.champion_train = (new.train_start, new.train_end)
    out.detail = (f"degraded ({'; '.join(causes)}); promoted {winner.candidate_id} "
                  f"({winner.playbook}: won {cmp.wins}/{len(cmp.folds)} windows, "
                  f"{cmp.candidate_total:+.2%} vs {cmp.champion_total:+.2%}); it trades from "
                  f"this cycle, {champ.model_id} is the rollback target")
    rec("promote", "promoted", out.detail, model_id=winner.candidate_id,
        candidate_id=champ.model_id, data=cmp.as_dict())
    rec("decision", "promoted", out.detail, model_id=winner.candidate_id)
    return out


def observe_only(root: Path, market: Market, as_of: date, config: Config) -> LoopOutcome:
    """Observe and diagnose from the bar store, without a broker and without acting."""
    root = Path(root)
    with BarStore(bar_store_path(root)) as store, AgentJournal(agent_db_path(root)) as journal:
        data = load_data(store, market.symbol, as_of, config.model.backfill_days,
                         cost_model(market, config))
        t0 = time.perf_counter()
        out = run_loop(market, as_of, config, root, data, journal,
                       at=datetime.combine(as_of, datetime.min.time()), cycle_id="diagnose",
                       act=False)
    out.elapsed_seconds = round(time.perf_counter() - t0, 4)
    return out


def journal_events(root: Path, **filters: Any) -> list[Event]:
    with AgentJournal(agent_db_path(root)) as journal:
        return journal.events(**filters)

"""Scoring a model by what its signal would have earned, after trading costs.

The loop judges models on the one return definition (hydra/model/returns.py): the position the
signal of row d sets (+1, 0 or -1 contract) times the return from the next cycle's entry to the
one after, minus one side's cost (the project's slippage model plus commission) per contract
whenever the position changes. It never looks at execution slippage, which says how well orders
were worked, not whether the model was right.

Walk-forward: the last `n_folds * fold_days` labelled rows are cut into consecutive test folds;
each fold's model is trained only on rows ending `embargo_days` before the fold starts
(an expanding window, optionally capped by the recipe's `train_days`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from hydra.model.classifier import FittedModel, Recipe, fit
from hydra.model.returns import position_returns

TRADING_DAYS = 252


def directions(proba: np.ndarray, band: float) -> np.ndarray:
    """+1 above 0.5 + band, -1 below 0.5 - band, else 0 (flat)."""
    return np.where(proba > 0.5 + band, 1, np.where(proba < 0.5 - band, -1, 0))


@dataclass(frozen=True)
class Metrics:
    days: int
    active_days: int
    hit_rate: float | None  # share of non-flat labelled days whose direction was right
    sharpe: float | None  # annualised, net of costs
    total_return: float
    max_drawdown: float  # <= 0, of the cumulative net return
    brier: float | None
    brier_skill: float | None  # 1 - brier / 0.25 (a coin's Brier score); < 0 is worse

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def hits(pos: np.ndarray, up: np.ndarray) -> tuple[int, int]:
    """(right, judged): non-flat days with a label (up or down, not neither) and how many of
    them the direction got right."""
    up = np.asarray(up, dtype=float)
    judged = (pos != 0) & ~np.isnan(up)
    return int(np.sum((pos[judged] > 0) == (up[judged] == 1))), int(judged.sum())


def metrics(proba: np.ndarray, up: np.ndarray, rets: np.ndarray, pos: np.ndarray) -> Metrics:
    n = len(rets)
    active = pos != 0
    right, judged = hits(pos, up)
    hit = right / judged if judged else None
    up = np.asarray(up, dtype=float)
    labelled = ~np.isnan(up)
    sd = float(np.std(rets, ddof=1)) if n > 1 else 0.0
    sharpe = float(np.mean(rets) / sd * math.sqrt(TRADING_DAYS)) if sd > 0 else None
    cum = np.cumsum(rets) if n else np.zeros(1)
    dd = float(np.min(cum - np.maximum.accumulate(np.maximum(cum, 0.0)))) if n else 0.0
    brier = float(np.mean((proba[labelled] - up[labelled]) ** 2)) if labelled.any() else None
    return Metrics(
        days=n,
        active_days=int(active.sum()),
        hit_rate=hit,
        sharpe=sharpe,
        total_return=float(np.sum(rets)) if n else 0.0,
        max_drawdown=min(0.0, dd),
        brier=brier,
        brier_skill=None if brier is None else 1.0 - brier / 0.25,
    )


@dataclass(frozen=True)
class Scored:
    """A model's signal over some rows: positions, net returns, and their metrics."""

    proba: np.ndarray
    pos: np.ndarray
    rets: np.ndarray
    metrics: Metrics


def score(model: FittedModel, X: pd.DataFrame, up: pd.Series, fwd: pd.Series,
          cost: pd.Series, band: float) -> Scored:
    """The model's 1-contract signal over X's rows: `fwd` and `cost` are the rows' returns and
    one side's cost (hydra.model.returns.cycle_returns)."""
    proba = model.proba_up(X) if len(X) else np.zeros(0)
    pos = directions(proba, band)
    rets = position_returns(pos, fwd.reindex(X.index).to_numpy(),
                            cost.reindex(X.index).to_numpy())
    return Scored(proba, pos, rets, metrics(proba, up.to_numpy(), rets, pos))


@dataclass(frozen=True)
class Fold:
    start: int  # row index of the first test row
    end: int  # one past the last test row
    train_end: int  # one past the last training row (start - embargo)


def make_folds(n_rows: int, n_folds: int, fold_days: int, embargo_days: int,
               min_train_rows: int, first_row: int = 0) -> list[Fold]:
    """The last n_folds * fold_days rows as consecutive test folds (fewer if history is short,
    or if a fold would start before `first_row`: rows an earlier attempt already tested)."""
    out: list[Fold] = []
    for k in range(n_folds):
        start = n_rows - (n_folds - k) * fold_days
        train_end = start - embargo_days
        if train_end < min_train_rows or start < first_row:
            continue
        out.append(Fold(start, start + fold_days, train_end))
    return out


@dataclass(frozen=True)
class FoldScore:
    start: str
    end: str
    champion: float  # net return over the fold
    candidate: float
    winner: str  # "candidate" | "champion" | "tie"


def paired_test(diff: np.ndarray) -> tuple[float | None, float]:
    """(t, one-sided p) that the mean daily (candidate - champion) net return is > 0."""
    d = np.asarray(diff, dtype=float)
    if len(d) < 2:
        return None, 1.0
    sd = float(np.std(d, ddof=1))
    if sd == 0.0:
        return (0.0, 1.0) if float(np.mean(d)) <= 0 else (math.inf, 0.0)
    t = float(np.mean(d) / (sd / math.sqrt(len(d))))
    return t, float(student_t.sf(t, len(d) - 1))


@dataclass(frozen=True)
class Comparison:
    folds: list[FoldScore]
    wins: int
    losses: int
    ties: int
    min_wins: int
    champion_total: float
    candidate_total: float
    t_stat: float | None = None  # paired t of daily (candidate - champion) over all test days
    p_value: float = 1.0  # one-sided
    alpha: float = 1.0  # the p-value must be below this (1.0: no test, the old rule)

    @property
    def candidate_wins(self) -> bool:
        """A majority of windows (at least min_wins), more money overall, and a paired test
        on the daily differences significant at `alpha` (the false-promotion rate)."""
        return (self.wins >= self.min_wins and self.wins > self.losses
                and self.candidate_total > self.champion_total
                and (self.alpha >= 1.0 or self.p_value < self.alpha))

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["candidate_wins"] = self.candidate_wins
        return d


ModelForFold = Callable[[Fold], FittedModel]


def refit_for_fold(recipe: Recipe, X: pd.DataFrame, up: pd.Series) -> ModelForFold:
    """The recipe trained on every row before the fold's embargo (its own window cap applies)."""
    return lambda f: fit(recipe, X.iloc[: f.train_end], up.iloc[: f.train_end])


def deployed_for_fold(model: FittedModel, X: pd.DataFrame, up: pd.Series) -> ModelForFold:
    """What the deployed model would have traded in a fold: itself once its training ended
    before the fold, else its recipe retrained as of the fold (never scored in-sample)."""
    refit = refit_for_fold(model.recipe, X, up)

    def pick(f: Fold) -> FittedModel:
        if model.train_end < str(X.index[f.start]):
            return model
        return refit(f)

    return pick


def fixed_before(recipe: Recipe, X: pd.DataFrame, up: pd.Series,
                 folds: list[Fold]) -> ModelForFold:
    """The recipe fitted once, on rows ending at the first fold's embargo, then held fixed over
    every fold: how a candidate would have traded had it been deployed before the windows."""
    model = fit(recipe, X.iloc[: folds[0].train_end], up.iloc[: folds[0].train_end])
    return lambda f: model


def as_deployed(model: FittedModel, X: pd.DataFrame, up: pd.Series,
                folds: list[Fold]) -> ModelForFold:
    """The champion held fixed over every fold, exactly as it trades; if its training reaches
    into the windows, its recipe fitted once before them instead (never scored in-sample).
    With `fixed_before` for the candidate both are one fit scored unchanged on the same days."""
    if model.train_end < str(X.index[folds[0].start]):
        return lambda f: model
    return fixed_before(model.recipe, X, up, folds)


def compare(champion: ModelForFold, candidate: ModelForFold, folds: list[Fold],
            X: pd.DataFrame, up: pd.Series, fwd: pd.Series, cost: pd.Series,
            band: float, min_wins: int, alpha: float = 1.0) -> Comparison:
    """Both models on the same test folds, each given the same way (a model per fold, trained
    before its embargo); the candidate wins a fold by earning more."""
    rows: list[FoldScore] = []
    diffs: list[np.ndarray] = []
    for f in folds:
        sl = slice(f.start, f.end)
        a = score(champion(f), X.iloc[sl], up.iloc[sl], fwd.iloc[sl], cost, band)
        b = score(candidate(f), X.iloc[sl], up.iloc[sl], fwd.iloc[sl], cost, band)
        diffs.append(b.rets - a.rets)
        ca, cb = a.metrics.total_return, b.metrics.total_return
        winner = "tie" if abs(cb - ca) < 1e-12 else ("candidate" if cb > ca else "champion")
        rows.append(FoldScore(str(X.index[f.start]), str(X.index[f.end - 1]), ca, cb, winner))
    t, p = paired_test(np.concatenate(diffs) if diffs else np.zeros(0))
    return Comparison(
        folds=rows,
        wins=sum(r.winner == "candidate" for r in rows),
        losses=sum(r.winner == "champion" for r in rows),
        ties=sum(r.winner == "tie" for r in rows),
        min_wins=min_wins,
        champion_total=float(sum(r.champion for r in rows)),
        candidate_total=float(sum(r.candidate for r in rows)),
        t_stat=t, p_value=p, alpha=alpha,
    )

"""The baseline classifier: standardised features into an L2 logistic regression (scikit-learn).

A `Recipe` is how a model is made (features, regularisation, training-window length); a
`FittedModel` is the result, reduced to plain numbers (scaler means and scales, coefficients,
intercept) so the registry stores it as readable JSON rather than a pickle tied to library
versions, and its hash says exactly what traded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from hydra.model.features import FEATURES

MIN_TRAIN_ROWS = 30


def feature_matrix(X: pd.DataFrame, names: tuple[str, ...] | list[str]) -> np.ndarray:
    """X[list(names)].to_numpy(dtype=float): the same values in the same (column-major) memory
    order, so the same sums to the last bit, without pandas' label lookup on a string column
    index (milliseconds per call, and the loop scores every day)."""
    locs = [X.columns.get_loc(n) for n in names]
    if all(isinstance(i, int) for i in locs):  # else duplicated labels: pandas' own path
        try:
            return np.asfortranarray(X.to_numpy(dtype=float)[:, locs])
        except (TypeError, ValueError):  # a column elsewhere in X that is not numeric
            pass
    return X[list(names)].to_numpy(dtype=float)


@dataclass(frozen=True)
class Recipe:
    """How to build a model; the loop's playbook changes these fields."""

    features: tuple[str, ...] = FEATURES
    C: float = 1.0  # inverse L2 strength (smaller = more regularised)
    train_days: int = 120  # most recent labelled rows to train on; 0 = all (expanding)
    note: str = "baseline"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["features"] = list(self.features)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Recipe:
        return cls(features=tuple(d["features"]), C=float(d["C"]),
                   train_days=int(d["train_days"]), note=str(d.get("note", "")))

    def variant(self, **changes: Any) -> Recipe:
        return replace(self, **changes)


@dataclass(frozen=True)
class FittedModel:
    recipe: Recipe
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    n_train: int
    train_start: str  # ISO dates of the first and last training rows
    train_end: str
    extra: dict[str, Any] = field(default_factory=dict)

    def proba_up(self, X: pd.DataFrame) -> np.ndarray:
        """P(up) for each row of X: the next cycle's long pays its cost (hydra.model.returns)."""
        x = feature_matrix(X, self.recipe.features)
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        logit = z @ np.asarray(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-logit))

    def params(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe.to_dict(),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "n_train": self.n_train,
            "train_start": self.train_start,
            "train_end": self.train_end,
        }

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> FittedModel:
        return cls(
            recipe=Recipe.from_dict(p["recipe"]),
            mean=tuple(p["mean"]),
            scale=tuple(p["scale"]),
            coef=tuple(p["coef"]),
            intercept=float(p["intercept"]),
            n_train=int(p["n_train"]),
            train_start=str(p["train_start"]),
            train_end=str(p["train_end"]),
        )

    def content_hash(self) -> str:
        text = json.dumps(self.params(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def fit(recipe: Recipe, X: pd.DataFrame, y: pd.Series) -> FittedModel:
    """Fit on the recipe's window: the last `train_days` labelled rows of X (all if 0); rows
    labelled neither up nor down (NaN: the move did not cover the cost) are left out."""
    known = y.notna().to_numpy()
    X, y = X[known], y[known].astype(int)
    if recipe.train_days:
        X, y = X.iloc[-recipe.train_days:], y.iloc[-recipe.train_days:]
    if len(X) < MIN_TRAIN_ROWS:
        raise ValueError(f"need at least {MIN_TRAIN_ROWS} labelled rows to train, got {len(X)}")
    x = feature_matrix(X, recipe.features)
    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    z = (x - scaler.mean_) / scale
    if len(np.unique(y)) < 2:  # one class only: predict its frequency, no slope
        coef = np.zeros(x.shape[1])
        p = float(np.clip(y.mean(), 0.01, 0.99))
        intercept = float(np.log(p / (1 - p)))
    else:
        clf = LogisticRegression(C=recipe.C, max_iter=200).fit(z, y.to_numpy())
        coef, intercept = clf.coef_[0], float(clf.intercept_[0])
    return FittedModel(
        recipe=recipe,
        mean=tuple(float(v) for v in scaler.mean_),
        scale=tuple(float(v) for v in scale),
        coef=tuple(float(v) for v in coef),
        intercept=intercept,
        n_train=len(X),
        train_start=str(X.index[0]),
        train_end=str(X.index[-1]),
    )

"""The registry: versioned, hashed models and a champion pointer that promote/rollback move."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hydra.model.classifier import Recipe, fit
from hydra.model.registry import Registry, RegistryError


def _model(seed: int):
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2026-01-01", periods=80).date
    X = pd.DataFrame(rng.normal(size=(80, 2)), index=idx, columns=["ret_1", "ret_2"])
    y = pd.Series((X["ret_1"] + rng.normal(size=80) > 0).astype(int), index=idx)
    return fit(Recipe(features=("ret_1", "ret_2"), train_days=0), X, y), X


def test_save_load_round_trip_with_metadata(tmp_path):
    reg = Registry(tmp_path, "ZO")
    model, X = _model(1)
    mid = reg.save(model, {"reason": "test"})
    rec = reg.load(mid)
    assert mid.startswith("ZO-0001-")
    assert rec.meta["sha256"].startswith(mid.split("-")[-1])
    assert rec.meta["features"] == ["ret_1", "ret_2"]
    assert (rec.meta["train_start"], rec.meta["train_end"]) == ("2026-01-01", "2026-03-21")
    np.testing.assert_allclose(rec.model.proba_up(X), model.proba_up(X))


def test_promote_and_rollback_move_the_champion(tmp_path):
    reg = Registry(tmp_path, "ZO")
    a = reg.save(_model(1)[0], {})
    b = reg.save(_model(2)[0], {})
    with pytest.raises(RegistryError, match="no previous champion"):
        reg.promote(a, at="2026-03-02", reason="first") or reg.rollback(at="x", reason="y")
    reg.promote(b, at="2026-03-03", reason="won")
    assert (reg.champion_id(), reg.previous_id()) == (b, a)
    assert reg.rollback(at="2026-03-04", reason="degraded") == (a, b)
    assert reg.champion_id() == a and reg.previous_id() is None
    assert [h["action"] for h in reg.pointer()["history"]] == ["promote", "promote", "rollback"]


def test_a_tampered_model_file_is_refused(tmp_path):
    reg = Registry(tmp_path, "ZO")
    mid = reg.save(_model(1)[0], {})
    path = tmp_path / "ZO" / mid / "model.json"
    params = json.loads(path.read_text())
    params["intercept"] += 1
    path.write_text(json.dumps(params))
    with pytest.raises(RegistryError, match="altered"):
        reg.load(mid)

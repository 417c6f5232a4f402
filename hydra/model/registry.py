"""The model registry on disk: versioned models, their metadata, and a champion pointer.

Layout under DataPaths.models_dir:

    <MARKET>/<model_id>/model.json   the fitted parameters (plain numbers, no pickle)
    <MARKET>/<model_id>/meta.json    recipe, features, training window, metrics, sha256 of
                                     model.json, why it was made, its parent
    <MARKET>/champion.json           {"champion": id, "previous": [older champions, newest
                                     last], "history": [every promotion and rollback]}

The cycle trades whatever champion.json names when it computes the signal, so a promotion or
rollback (written atomically) changes what the next cycle trades and nothing else. A model file
whose hash no longer matches its metadata is refused rather than traded.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.domain.errors import HydraError
from hydra.model.classifier import FittedModel


class RegistryError(HydraError, RuntimeError):
    pass


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


@dataclass(frozen=True)
class ModelRecord:
    model_id: str
    meta: dict[str, Any]
    model: FittedModel

    @property
    def train_start(self) -> str:
        return self.model.train_start

    @property
    def train_end(self) -> str:
        return self.model.train_end


class Registry:
    """Versioned models of one market."""

    def __init__(self, models_dir: Path, market: str) -> None:
        self.market = market
        self.root = Path(models_dir) / market
        self.pointer_path = self.root / "champion.json"

    # -------------------------------------------------------------------------- models
    def model_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "meta.json").is_file())

    def save(self, model: FittedModel, meta: dict[str, Any]) -> str:
        """Write a new version; returns its id (<MARKET>-<nnnn>-<hash8>)."""
        body = json.dumps(model.params(), indent=2, sort_keys=True) + "\n"
        digest = hashlib.sha256(body.encode()).hexdigest()
        model_id = f"{self.market}-{len(self.model_ids()) + 1:04d}-{digest[:8]}"
        folder = self.root / model_id
        folder.mkdir(parents=True, exist_ok=False)
        (folder / "model.json").write_text(body)
        full = {
            **meta,
            "model_id": model_id,
            "market": self.market,
            "sha256": digest,
            "recipe": model.recipe.to_dict(),
            "features": list(model.recipe.features),
            "train_start": model.train_start,
            "train_end": model.train_end,
            "n_train": model.n_train,
        }
        _write_atomic(folder / "meta.json", full)
        return model_id

    def load(self, model_id: str) -> ModelRecord:
        folder = self.root / model_id
        if not (folder / "meta.json").is_file():
            raise RegistryError(f"no model {model_id!r} in {self.root}")
        meta = json.loads((folder / "meta.json").read_text())
        body = (folder / "model.json").read_bytes()
        if hashlib.sha256(body).hexdigest() != meta["sha256"]:
            raise RegistryError(f"model {model_id} was altered after it was saved (sha256 of "
                                f"{folder / 'model.json'} does not match its meta.json); "
                                "restore it or promote another model")
        return ModelRecord(model_id, meta, FittedModel.from_params(json.loads(body)))

    def update_meta(self, model_id: str, **values: Any) -> None:
        path = self.root / model_id / "meta.json"
        meta = json.loads(path.read_text())
        meta.update(values)
        _write_atomic(path, meta)

    # ------------------------------------------------------------------------ champion
    def pointer(self) -> dict[str, Any]:
        if not self.pointer_path.is_file():
            return {"champion": None, "previous": [], "history": []}
        return json.loads(self.pointer_path.read_text())

    def champion_id(self) -> str | None:
        return self.pointer()["champion"]

    def champion(self) -> ModelRecord | None:
        cid = self.champion_id()
        return self.load(cid) if cid else None

    def previous_id(self) -> str | None:
        prev = self.pointer()["previous"]
        return prev[-1] if prev else None

    def promote(self, model_id: str, *, at: str, reason: str) -> None:
        """Make `model_id` the champion; the current one becomes the rollback target."""
        self.load(model_id)  # exists and is intact
        p = self.pointer()
        if p["champion"] == model_id:
            return
        if p["champion"]:
            p["previous"].append(p["champion"])
        p["history"].append({"at": at, "action": "promote", "model_id": model_id,
                             "replaced": p["champion"], "reason": reason})
        p["champion"] = model_id
        _write_atomic(self.pointer_path, p)

    def rollback(self, *, at: str, reason: str) -> tuple[str, str]:
        """Restore the previous champion; returns (restored, retired)."""
        p = self.pointer()
        if not p["previous"]:
            raise RegistryError(f"{self.market}: there is no previous champion to roll back to "
                                f"(champion {p['champion'] or 'none'} is the first)")
        restored = p["previous"].pop()
        self.load(restored)
        retired = p["champion"]
        p["history"].append({"at": at, "action": "rollback", "model_id": restored,
                             "replaced": retired, "reason": reason})
        p["champion"] = restored
        _write_atomic(self.pointer_path, p)
        return restored, retired

    def last_change(self) -> dict[str, Any] | None:
        hist = self.pointer()["history"]
        return hist[-1] if hist else None

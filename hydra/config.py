"""Settings: shipped defaults (data/defaults.toml) overlaid by the operator's own file.

One file with documented values, so every knob the cycle uses is visible and reviewable; unknown
keys are refused, because a misspelt limit that silently falls back to a default is a risk.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class SimConfig:
    seed: int
    starting_cash: float
    commission_per_contract: float
    account_id: str
    cycle_time: str

    @property
    def cycle_local_time(self) -> time:
        return time.fromisoformat(self.cycle_time)


@dataclass(frozen=True)
class ModelConfig:
    lookback_days: int
    history_days: int
    entry_z: float


@dataclass(frozen=True)
class ExecutionConfig:
    cross_ticks: int
    fill_timeout_seconds: float
    poll_seconds: float


@dataclass(frozen=True)
class SlippageConfig:
    k: float
    vol_lookback_days: int


@dataclass(frozen=True)
class Config:
    sim: SimConfig
    model: ModelConfig
    execution: ExecutionConfig
    slippage: SlippageConfig
    source: str


_SECTIONS: dict[str, type] = {
    "sim": SimConfig,
    "model": ModelConfig,
    "execution": ExecutionConfig,
    "slippage": SlippageConfig,
}


def _defaults() -> dict[str, dict[str, Any]]:
    return tomllib.loads(resources.files("hydra").joinpath("data/defaults.toml").read_text())


def _merge(base: dict[str, dict[str, Any]], over: dict[str, Any], source: str) -> None:
    for section, values in over.items():
        if section not in base or not isinstance(values, dict):
            raise ConfigError(f"{source}: unknown section [{section}]; known: {', '.join(base)}")
        for key, value in values.items():
            if key not in base[section]:
                raise ConfigError(
                    f"{source}: unknown key {section}.{key}; known: {', '.join(base[section])}"
                )
            if type(value) is not type(base[section][key]) and not (
                isinstance(base[section][key], float) and type(value) is int
            ):
                raise ConfigError(
                    f"{source}: {section}.{key} must be {type(base[section][key]).__name__}, "
                    f"got {value!r}"
                )
            base[section][key] = value


def load_config(data_dir: Path | None = None) -> Config:
    """Defaults, then HYDRA_CONFIG or <data_dir>/hydra.toml when present."""
    merged = _defaults()
    source = "defaults"
    path: Path | None = None
    if os.environ.get("HYDRA_CONFIG"):
        path = Path(os.environ["HYDRA_CONFIG"])
        if not path.is_file():
            raise ConfigError(f"HYDRA_CONFIG points at {path}, which is not a file")
    elif data_dir is not None and (Path(data_dir) / "hydra.toml").is_file():
        path = Path(data_dir) / "hydra.toml"
    if path is not None:
        try:
            over = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
        _merge(merged, over, str(path))
        source = str(path)
    built = {name: cls(**merged[name]) for name, cls in _SECTIONS.items()}
    cfg = Config(**built, source=source)
    _check(cfg)
    return cfg


def _check(cfg: Config) -> None:
    try:
        cfg.sim.cycle_local_time  # noqa: B018 - parse check
    except ValueError as exc:
        raise ConfigError(f"sim.cycle_time must be HH:MM, got {cfg.sim.cycle_time!r}") from exc
    positive = {
        "model.lookback_days": cfg.model.lookback_days,
        "model.history_days": cfg.model.history_days,
        "execution.fill_timeout_seconds": cfg.execution.fill_timeout_seconds,
        "execution.poll_seconds": cfg.execution.poll_seconds,
        "slippage.vol_lookback_days": cfg.slippage.vol_lookback_days,
    }
    for name, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{name} must be positive, got {value}")
    if cfg.model.history_days < cfg.model.lookback_days + 2:
        raise ConfigError("model.history_days must exceed model.lookback_days by at least 2")
    if cfg.execution.cross_ticks < 0:
        raise ConfigError("execution.cross_ticks must be >= 0")


def config_fields(section: str) -> list[str]:
    return [f.name for f in fields(_SECTIONS[section])]

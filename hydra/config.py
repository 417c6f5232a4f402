"""Settings: shipped defaults (conf/defaults.toml) overlaid by the operator's own file.

One file with documented values, so every knob the cycle uses is visible and reviewable; unknown
keys are refused, because a misspelt limit that silently falls back to a default is a risk.
"""

from __future__ import annotations

import copy
import math
import os
import tomllib
from dataclasses import dataclass, fields
from datetime import time
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from hydra.domain.errors import HydraError


class ConfigError(HydraError, ValueError):
    pass


@dataclass(frozen=True)
class SimConfig:
    seed: int
    starting_cash: float
    commission_per_contract: float
    account_id: str
    cycle_time: str
    null_market: bool = False  # calibration: prices a pure random walk (hydra/broker/market_sim)

    @property
    def cycle_local_time(self) -> time:
        return time.fromisoformat(self.cycle_time)


@dataclass(frozen=True)
class ModelConfig:
    lookback_days: int
    history_days: int
    entry_z: float
    backfill_days: int
    features: list[str]
    train_days: int
    l2_c: float
    prob_band: float
    sizing: str
    kelly_fraction: float
    cost_ticks: float


@dataclass(frozen=True)
class AgentConfig:
    """The self-healing loop's thresholds (documented in conf/defaults.toml [agent])."""

    observe_days: int
    min_live_days: int
    drift_days: int
    psi_threshold: float
    ks_pvalue: float
    drift_min_features: int
    hit_rate_min: float
    sharpe_min: float
    drawdown_max: float
    brier_skill_min: float
    wf_folds: int
    wf_fold_days: int
    wf_embargo_days: int
    promote_min_wins: int
    experiments_per_week: int
    candidates_per_cycle: int
    probation_days: int
    rollback_enter_t: float
    rollback_exit_t: float
    rollback_periods: int
    cooldown_days: int
    health_alpha: float = 0.05  # per-check false-alarm rate of the performance flags
    drift_alpha: float = 0.05  # per-check false-alarm rate of the drift test (all features)
    drift_min_rows: int = 20  # fewer fresh rows after training than this: drift not judged
    promote_alpha: float = 0.0005  # one-sided p a promotion needs (see defaults.toml)


@dataclass(frozen=True)
class ExecutionConfig:
    twap_participation: float
    start: str
    wait_seconds: float
    reprice_ticks: int
    max_reprices: int
    at_end: str
    cross_wait_seconds: float
    twap_slices: int
    twap_window_seconds: float
    cancel_timeout_seconds: float
    poll_seconds: float
    close_buffer_seconds: float


@dataclass(frozen=True)
class RiskConfig:
    max_order_contracts: int
    max_position_contracts: int
    max_notional_fraction: float
    max_gross_notional_fraction: float
    daily_loss_fraction: float
    max_drawdown_fraction: float
    price_collar_ticks: int
    max_orders_per_cycle: int
    max_orders_per_minute: int


@dataclass(frozen=True)
class SlippageConfig:
    k: float
    vol_lookback_days: int


@dataclass(frozen=True)
class ReconcileConfig:
    """The reconciliation report's gates (documented in conf/defaults.toml [reconcile])."""

    min_fills: int
    bias_green_ticks: float
    bias_yellow_ticks: float
    pessimism_warn: float
    calibrated_max_bias_ticks: float
    calibrated_min_correlation: float
    price_tolerance_ticks: float
    commission_tolerance_usd: float


@dataclass(frozen=True)
class IBConfig:
    """Interactive Brokers connection settings (documented in conf/defaults.toml [ib])."""

    connect_timeout_seconds: float
    connect_attempts: int
    retry_backoff_seconds: float
    request_timeout_seconds: float
    market_data_type: int
    quote_wait_seconds: float
    account: str
    link_wait_seconds: float = 60.0


@dataclass(frozen=True)
class Config:
    sim: SimConfig
    model: ModelConfig
    execution: ExecutionConfig
    risk: RiskConfig
    slippage: SlippageConfig
    agent: AgentConfig
    reconcile: ReconcileConfig
    ib: IBConfig
    source: str


_SECTIONS: dict[str, type] = {
    "sim": SimConfig,
    "model": ModelConfig,
    "execution": ExecutionConfig,
    "risk": RiskConfig,
    "slippage": SlippageConfig,
    "agent": AgentConfig,
    "reconcile": ReconcileConfig,
    "ib": IBConfig,
}


def _defaults() -> dict[str, dict[str, Any]]:
    """The packaged defaults, a fresh copy each call (load_config merges into it)."""
    text = resources.files("hydra").joinpath("conf/defaults.toml").read_text()
    return copy.deepcopy(_parsed(text))


@lru_cache(maxsize=4)
def _parsed(text: str) -> dict[str, dict[str, Any]]:
    """TOML parsed once per distinct text: a replay loads the config every day."""
    return tomllib.loads(text)


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


def _check_finite(cfg: Config) -> None:
    """NaN and infinity are valid TOML floats, and a NaN limit compares false with everything:
    it would switch its check off. Every number must be finite."""
    for name in _SECTIONS:
        section = getattr(cfg, name)
        for f in fields(section):
            value = getattr(section, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{cfg.source}: {name}.{f.name} must be a finite number, got "
                                  f"{value!r}")


def _check_risk(cfg: Config) -> None:
    r = cfg.risk
    ranges = {
        "max_notional_fraction": (r.max_notional_fraction, 0.0, 1000.0),
        "max_gross_notional_fraction": (r.max_gross_notional_fraction, 0.0, 1000.0),
        "daily_loss_fraction": (r.daily_loss_fraction, 0.0, 1.0),
        "max_drawdown_fraction": (r.max_drawdown_fraction, 0.0, 1.0),
    }
    for key, (value, low, high) in ranges.items():
        if not low < value <= high:
            raise ConfigError(f"{cfg.source}: risk.{key} must be in ({low:g}, {high:g}], got "
                              f"{value!r}")


def _check(cfg: Config) -> None:
    _check_finite(cfg)
    _check_risk(cfg)
    try:
        cfg.sim.cycle_local_time  # noqa: B018 - parse check
    except ValueError as exc:
        raise ConfigError(f"sim.cycle_time must be HH:MM, got {cfg.sim.cycle_time!r}") from exc
    positive = {
        "model.lookback_days": cfg.model.lookback_days,
        "model.history_days": cfg.model.history_days,
        "execution.wait_seconds": cfg.execution.wait_seconds,
        "execution.poll_seconds": cfg.execution.poll_seconds,
        "execution.twap_slices": cfg.execution.twap_slices,
        "execution.twap_window_seconds": cfg.execution.twap_window_seconds,
        "execution.cancel_timeout_seconds": cfg.execution.cancel_timeout_seconds,
        "execution.twap_participation": cfg.execution.twap_participation,
        "risk.max_order_contracts": cfg.risk.max_order_contracts,
        "risk.max_position_contracts": cfg.risk.max_position_contracts,
        "risk.max_notional_fraction": cfg.risk.max_notional_fraction,
        "risk.daily_loss_fraction": cfg.risk.daily_loss_fraction,
        "risk.max_drawdown_fraction": cfg.risk.max_drawdown_fraction,
        "risk.price_collar_ticks": cfg.risk.price_collar_ticks,
        "risk.max_orders_per_cycle": cfg.risk.max_orders_per_cycle,
        "risk.max_orders_per_minute": cfg.risk.max_orders_per_minute,
        "slippage.vol_lookback_days": cfg.slippage.vol_lookback_days,
    }
    for name, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{name} must be positive, got {value}")
    if cfg.model.history_days < cfg.model.lookback_days + 2:
        raise ConfigError("model.history_days must exceed model.lookback_days by at least 2")
    _check_model_agent(cfg)
    _check_reconcile(cfg.reconcile)
    ex = cfg.execution
    if ex.start not in ("mid", "near"):
        raise ConfigError(f"execution.start must be 'mid' or 'near', got {ex.start!r}")
    if ex.at_end not in ("cross", "cancel"):
        raise ConfigError(f"execution.at_end must be 'cross' or 'cancel', got {ex.at_end!r}")
    for name in ("reprice_ticks", "max_reprices", "cross_wait_seconds", "close_buffer_seconds"):
        if getattr(ex, name) < 0:
            raise ConfigError(f"execution.{name} must be >= 0")


def _check_model_agent(cfg: Config) -> None:
    m, a = cfg.model, cfg.agent
    if m.sizing not in ("fixed", "kelly"):
        raise ConfigError(f"model.sizing must be 'fixed' or 'kelly', got {m.sizing!r}")
    if not 0 <= m.prob_band < 0.5:
        raise ConfigError(f"model.prob_band must be in [0, 0.5), got {m.prob_band}")
    if m.train_days < 0 or m.l2_c <= 0 or m.cost_ticks < 0 or m.kelly_fraction <= 0:
        raise ConfigError("model.train_days and model.cost_ticks must be >= 0, model.l2_c and "
                          "model.kelly_fraction > 0")
    if m.backfill_days < 100:
        raise ConfigError(f"model.backfill_days must be >= 100, got {m.backfill_days}")
    for name in ("observe_days", "min_live_days", "drift_days", "drift_min_features",
                 "wf_folds", "wf_fold_days", "promote_min_wins", "rollback_periods"):
        if getattr(a, name) <= 0:
            raise ConfigError(f"agent.{name} must be positive, got {getattr(a, name)}")
    for name in ("wf_embargo_days", "experiments_per_week", "candidates_per_cycle",
                 "probation_days", "cooldown_days"):
        if getattr(a, name) < 0:
            raise ConfigError(f"agent.{name} must be >= 0, got {getattr(a, name)}")
    if a.promote_min_wins * 2 <= a.wf_folds or a.promote_min_wins > a.wf_folds:
        raise ConfigError(f"agent.promote_min_wins must be a majority of agent.wf_folds "
                          f"({a.wf_folds}), got {a.promote_min_wins}")
    if a.rollback_exit_t < a.rollback_enter_t:
        raise ConfigError("agent.rollback_exit_t must be >= agent.rollback_enter_t (hysteresis)")


def config_fields(section: str) -> list[str]:
    return [f.name for f in fields(_SECTIONS[section])]


def _check_reconcile(r: ReconcileConfig) -> None:
    if r.min_fills < 2:
        raise ConfigError(f"reconcile.min_fills must be >= 2 (a correlation needs two fills), "
                          f"got {r.min_fills}")
    if not 0 < r.bias_green_ticks <= r.bias_yellow_ticks:
        raise ConfigError("reconcile.bias_green_ticks must be > 0 and <= "
                          "reconcile.bias_yellow_ticks")
    if r.pessimism_warn <= 0 or r.calibrated_max_bias_ticks < 0:
        raise ConfigError("reconcile.pessimism_warn must be > 0 and "
                          "reconcile.calibrated_max_bias_ticks >= 0")
    if not -1 <= r.calibrated_min_correlation <= 1:
        raise ConfigError("reconcile.calibrated_min_correlation must be within [-1, 1], got "
                          f"{r.calibrated_min_correlation}")
    if r.price_tolerance_ticks < 0 or r.commission_tolerance_usd < 0:
        raise ConfigError("reconcile.price_tolerance_ticks and reconcile.commission_tolerance_usd "
                          "must be >= 0")

"""The daily cycle, one module per notebook step; this package is its one public entry point.

    context   step 0  open_cycle: parameters checked, data dir, broker connected, cycle lock
    account   step 1  check_account: the account, fills journaled, an interrupted run resumed
    maintain  step 2  maintain_model: the self-healing loop (hydra.agent)
    signal    step 3  compute_signal: the champion's signal and target position
    plan      step 4  plan_orders: the legs and the gate's pre-trade view, computed from values
    trade     step 5  execute: the step that acts (journals the plan, works the legs)
    fills     step 6  journal_fills: a last sweep, this cycle's fills from the journal
    summary   step 7  summarize, one_line: the run's record
    run               run_in_process: the steps above without a notebook
    replay            a backtest of the same steps against the simulator, day by day

Each step returns a typed result the notebook displays (hydra.views.cycle); nothing here draws
or prints. Every order carries an orderRef derived from the market and trade date, so a rerun of
the same date finds what was already done and sends nothing new.

May import: agent, model, execution, broker, gateway, reference, domain and the leaves
(config, paths, params, faults). Never ops, reconcile, views or cli.
"""

from __future__ import annotations

from hydra.cycle.account import AccountCheck, check_account
from hydra.cycle.context import (
    Cycle,
    CycleBusyError,
    PriorOrder,
    Recovery,
    cycle_start_time,
    market_positions,
    open_cycle,
    risk_gate,
    sync_fills,
)
from hydra.cycle.fills import journal_fills
from hydra.cycle.maintain import ModelStatus, maintain_model
from hydra.cycle.params import BROKERS, CycleParams, ParameterError, validate_params
from hydra.cycle.plan import (
    DRY_RUN,
    OrderPlan,
    PlanInputs,
    PlannedLeg,
    make_plan,
    plan_orders,
    read_plan_inputs,
)
from hydra.cycle.recovery import prior_orders, recover
from hydra.cycle.run import run_in_process
from hydra.cycle.signal import SignalResult, compute_signal, model_signal
from hydra.cycle.summary import one_line, summarize
from hydra.cycle.trade import ExecutionResult, LegResult, _session_end, execute

__all__ = [
    "BROKERS", "DRY_RUN", "AccountCheck", "Cycle", "CycleBusyError", "CycleParams",
    "ExecutionResult", "LegResult", "ModelStatus", "OrderPlan", "ParameterError", "PlanInputs",
    "PlannedLeg", "PriorOrder", "Recovery", "SignalResult", "_session_end", "check_account",
    "compute_signal", "cycle_start_time", "execute", "journal_fills", "maintain_model",
    "make_plan", "market_positions", "model_signal", "one_line", "open_cycle", "plan_orders",
    "prior_orders", "read_plan_inputs", "recover", "risk_gate", "run_in_process", "summarize",
    "sync_fills", "validate_params",
]

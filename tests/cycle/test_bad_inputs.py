"""Bad input on the money path: every case gets a clear error naming what to fix, before any
order is sent, and nothing already recorded is lost.

Parameters, hydra.toml values, corrupt or locked SQLite files and broker replies (quotes), each
run through the real in-process cycle on the simulator with real files.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from hydra import cycle
from hydra.config import ConfigError
from hydra.cycle.params import ParameterError
from hydra.domain.broker import BrokerError
from hydra.domain.outcomes import LegOutcome
from hydra.execution import journal
from hydra.execution.journal import JournalError
from hydra.sqlite_tx import DatabaseLockedError
from tests.kit import broker_orders

DAY = "2026-11-24"


def journal_fills(data_dir: Path) -> list[tuple]:
    with sqlite3.connect(data_dir / "journal" / "journal.sqlite") as con:
        return con.execute("SELECT exec_id, quantity, price FROM fills ORDER BY exec_id").fetchall()


@pytest.fixture(scope="module")
def traded(tmp_path_factory) -> Path:
    """A data directory with one traded day on record (what must never be lost)."""
    d = tmp_path_factory.mktemp("traded") / "data"
    s = cycle.run_in_process(data_dir=str(d), as_of="2026-11-23", contracts=2)
    assert s["fills"] > 0
    return d


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# -------------------------------------------------------------------------- parameters
@pytest.mark.parametrize("params,message", [
    ({"contracts": "two"}, "contracts"),
    ({"contracts": -1}, "contracts"),
    ({"contracts": 1.5}, "contracts"),
    ({"contracts": True}, "contracts"),
    ({"market": "XX"}, "XX"),
    ({"market": ""}, "market"),
    ({"as_of": "2026-13-01"}, "as_of"),
    ({"as_of": "yesterday"}, "as_of"),
    ({"broker": "paper"}, "broker must be one of sim, ib"),
    ({"port": 0}, "port"),
    ({"port": "abc"}, "port"),
    ({"client_id": -3}, "client_id"),
    ({"seed": "x"}, "seed"),
    ({"dry_run": "maybe"}, "dry_run"),
    ({"confirm_live": "sure"}, "confirm_live"),
])
def test_a_bad_parameter_is_named_and_nothing_is_sent(traded, tmp_path, params, message):
    d = _copy(traded, tmp_path / "d")
    before = journal_fills(d), broker_orders(d)
    with pytest.raises(ParameterError) as err:
        cycle.run_in_process(data_dir=str(d), **{"as_of": DAY, **params})
    assert message in str(err.value) and "nothing was sent" in str(err.value)
    assert (journal_fills(d), broker_orders(d)) == before


# ------------------------------------------------------------------------- hydra.toml
@pytest.mark.parametrize("toml,message", [
    ("[risk]\nmax_order_contracts = 0\n", "risk.max_order_contracts must be positive"),
    ("[risk]\nmax_position_contracts = -2\n", "risk.max_position_contracts must be positive"),
    ("[risk]\nprice_collar_ticks = 2.5\n", "risk.price_collar_ticks must be int"),
    ("[risk]\nmax_notional_fraction = nan\n", "risk.max_notional_fraction must be a finite"),
    ("[risk]\nmax_drawdown_fraction = 0\n", "risk.max_drawdown_fraction must be in"),
    ("[risk]\ndaily_loss_fraction = 2.0\n", "risk.daily_loss_fraction must be in"),
    ("[risk]\nmax_order_contract = 5\n", "unknown key risk.max_order_contract"),
    ("[riskk]\nmax_order_contracts = 5\n", "unknown section [riskk]"),
    ("[risk]\nmax_order_contracts = \n", "is not valid TOML"),
    ("[execution]\nstart = \"far\"\n", "execution.start must be 'mid' or 'near'"),
    ("[execution]\nat_end = \"hold\"\n", "execution.at_end must be 'cross' or 'cancel'"),
    ("[execution]\npoll_seconds = -1.0\n", "execution.poll_seconds must be positive"),
    ("[execution]\ntwap_slices = 0\n", "execution.twap_slices must be positive"),
    ("[execution]\ncancel_timeout_seconds = inf\n",
     "execution.cancel_timeout_seconds must be a finite number"),
    ("[slippage]\nk = -inf\n", "slippage.k must be a finite number"),
    ("[sim]\ncycle_time = \"25:00\"\n", "sim.cycle_time must be HH:MM"),
    ("[model]\nsizing = \"martingale\"\n", "model.sizing must be 'fixed' or 'kelly'"),
])
def test_a_bad_setting_is_named_before_any_order_and_the_record_is_kept(traded, tmp_path, toml,
                                                                       message):
    d = _copy(traded, tmp_path / "d")
    before = journal_fills(d), broker_orders(d)
    (d / "hydra.toml").write_text(toml)
    with pytest.raises(ConfigError) as err:
        cycle.run_in_process(data_dir=str(d), as_of=DAY, contracts=2)
    assert message in str(err.value)
    assert (journal_fills(d), broker_orders(d)) == before


# ----------------------------------------------------------------------- damaged files
@pytest.mark.parametrize("target,content,error,message", [
    ("journal/journal.sqlite", b"garbage, not a database", JournalError,
     "is not a SQLite file; it was left untouched"),
    ("journal/journal.sqlite", b"SQLite format 3\x00" + b"\x07" * 200, Exception,
     "journal"),
    ("broker/sim.sqlite", b"garbage, not a database", BrokerError,
     "is not a readable Hydra SQLite database"),
    ("broker/sim.sqlite", b"SQLite format 3\x00" + b"\x07" * 200, BrokerError,
     "sim.sqlite"),
    ("state/trading.json", b"{not json", None, "kill-switch file"),
])
def test_a_damaged_file_stops_the_cycle_with_its_name_and_is_left_untouched(
        traded, tmp_path, target, content, error, message):
    d = _copy(traded, tmp_path / "d")
    path = d / target
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    if error is None:  # an unreadable kill switch: the cycle runs and sends nothing
        s = cycle.run_in_process(data_dir=str(d), as_of=DAY, contracts=3)  # long 2 -> 3
        assert s["legs"], "there was something to send"
        assert s["orders_sent"] == 0 and any(message in b for b in s["blocked"])
    else:
        with pytest.raises(error) as err:
            cycle.run_in_process(data_dir=str(d), as_of=DAY, contracts=2)
        assert message in str(err.value)
    assert path.read_bytes() == content, "the damaged file is left as it was, for forensics"


def test_a_journal_locked_by_another_process_is_said_and_nothing_is_sent(traded, tmp_path,
                                                                         monkeypatch):
    d = _copy(traded, tmp_path / "d")
    monkeypatch.setattr(journal, "BUSY_TIMEOUT_SECONDS", 0.5)
    before = journal_fills(d), broker_orders(d)
    holder = sqlite3.connect(d / "journal" / "journal.sqlite", isolation_level=None,
                             check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatabaseLockedError, match="is locked by another process"):
            cycle.run_in_process(data_dir=str(d), as_of=DAY, contracts=2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert (journal_fills(d), broker_orders(d)) == before
    assert threading.active_count() >= 1


# ----------------------------------------------------------------------- broker replies
@pytest.mark.parametrize("bid,ask,problem", [
    (float("nan"), 515.0, "no bid"),
    (515.0, float("nan"), "no ask"),
    (-1.0, 515.0, "bid -1 is not a price"),
    (515.0, -1.0, "ask -1 is not a price"),
    (0.0, 515.0, "bid 0 is not a price"),
    (float("inf"), 515.0, "no bid"),
    (515.0, float("inf"), "no ask"),
    (None, 515.0, "no bid"),
    (516.0, 515.5, "crossed quote: bid 516 above ask 515.5"),
])
def test_a_quote_that_is_not_a_price_blocks_the_leg_with_its_reason(data_dir, bid, ask,
                                                                    problem):
    cyc = cycle.open_cycle(as_of=DAY, data_dir=str(data_dir))
    try:
        cycle.check_account(cyc)
        sig = replace(cycle.compute_signal(cyc), target_position=2)
        real = cyc.broker.quote
        cyc.broker.quote = lambda c: replace(real(c), bid=bid, ask=ask)  # type: ignore
        plan = cycle.plan_orders(cyc, sig)
        result = cycle.execute(cyc, plan, sig)
    finally:
        cyc.close()
    [leg] = result.legs
    assert leg.outcome is LegOutcome.BLOCKED and problem in leg.reason
    assert broker_orders(data_dir) == []


# ------------------------------------------------------------------------ markets.toml
ZO_SECTION = '[markets.ZO]\nname = "CBOT Oats"\n'


def _edited_registry(tmp_path: Path, old: str, new: str) -> Path:
    """The package's markets.toml with one edit in the ZO table, as an operator's copy."""
    from importlib import resources

    text = resources.files("hydra").joinpath("conf/markets.toml").read_text()
    zo = text.index("[markets.ZO]")
    end = text.index("[markets.", zo + 1)
    section = text[zo:end]
    assert old in section, f"{old!r} is not in the ZO table"
    path = tmp_path / "markets.toml"
    path.write_text(text[:zo] + section.replace(old, new, 1) + text[end:])
    return path


@pytest.mark.parametrize("old,new,message", [
    ("tick = 0.25", "tick = ", "is not valid TOML"),
    ("tick = 0.25\n", "", "market ZO lacks tick"),
    ("tick = 0.25", "tik = 0.25", "market ZO lacks tick"),
    ("tick = 0.25", "tick = 0.25\ntik = 0.5", "unknown key markets.ZO.tik"),
    ("tick = 0.25", "tick = 0", "markets.ZO.tick must be positive, not 0"),
    ("tick = 0.25", "tick = nan", "markets.ZO.tick must be a finite number"),
    ("tick = 0.25", 'tick = "quarter"', "markets.ZO.tick must be a number, not 'quarter'"),
    ("multiplier = 5000", "multiplier = -5000", "markets.ZO.multiplier must be positive"),
    ("multiplier = 5000", "multiplier = inf", "markets.ZO.multiplier must be a finite number"),
    ("price_magnifier = 100", "price_magnifier = 0", "markets.ZO.price_magnifier must be positive"),
    ("price_magnifier = 100", "price_magnifier = 1.5",
     "markets.ZO.price_magnifier must be an integer"),
    ('contract_months = "HKNUZ"', 'contract_months = "HKNUZA"', "markets.ZO.contract_months"),
    ('contract_months = "HKNUZ"', 'contract_months = ""', "markets.ZO.contract_months"),
    ('contract_months = "HKNUZ"', 'contract_months = "ZHKNU"', "in calendar order"),
    ('timezone = "America/Chicago"', 'timezone = "America/Chicgo"',
     "markets.ZO.timezone is not a known time zone"),
    ('currency = "USD"', 'currency = "dollars"', "markets.ZO.currency must be a three-letter"),
    ('sessions = ["Sun-Fri 19:00-07:45", "Mon-Fri 08:30-13:20"]', 'sessions = ["8:30 to 1:20"]',
     "markets.ZO.sessions must be a list like"),
    ('settlement = "physical"', 'settlement = "delivered"', "markets.ZO.settlement must be"),
    ('last_trade_rule = "business_day_before_15th"', 'last_trade_rule = "third_friday"',
     "markets.ZO.last_trade_rule is unknown"),
    ("roll_business_days = 5", "roll_business_days = -1",
     "markets.ZO.roll_business_days must not be negative"),
    ("roll_business_days = 5", 'roll_business_days = "five"',
     "markets.ZO.roll_business_days must be an integer"),
    ("price = 320.0", "price = 0.0", "markets.ZO.price must be positive"),
    ("spread_ticks = 2, ", "", "markets.ZO.sim needs exactly"),
    ("depth = 6", "depth = 6, dpth = 7", "unknown dpth"),
    ('calendar = "CBOT_Agriculture"', 'calendar = "CBOT_Agri"',
     "calendar 'CBOT_Agri' is not a pandas_market_calendars calendar"),
    ("[markets.ZO]", "[markets.ZOO]", "unknown market 'ZO'"),
])
def test_a_bad_markets_file_edit_is_named_before_any_order(traded, tmp_path, monkeypatch, old,
                                                           new, message):
    """An operator's copy of the registry (HYDRA_MARKETS) with one bad edit: the cycle stops
    before any order, naming the file, the market and the key, and nothing recorded changes."""
    from hydra.reference.markets import MarketsFileError, UnknownMarketError

    d = _copy(traded, tmp_path / "d")
    before = journal_fills(d), broker_orders(d)
    edited = _edited_registry(tmp_path, old, new)
    monkeypatch.setenv("HYDRA_MARKETS", str(edited))
    with pytest.raises((MarketsFileError, UnknownMarketError, ParameterError)) as err:
        cycle.run_in_process(data_dir=str(d), as_of=DAY, contracts=2)
    assert message in str(err.value)
    assert str(edited) in str(err.value), "the message names the file to fix"
    assert (journal_fills(d), broker_orders(d)) == before


def test_a_bad_markets_file_stops_hydra_run_before_any_notebook_trades(traded, tmp_path):
    """The same through the operator's command: a clear message and a non-zero exit."""
    from tests.kit import run_hydra

    d = _copy(traded, tmp_path / "d")
    before = journal_fills(d), broker_orders(d)
    edited = _edited_registry(tmp_path, "tick = 0.25", "tick = -0.25")
    done = run_hydra("run", "daily-cycle", "--as-of", DAY, data_dir=d,
                     env={"HYDRA_MARKETS": str(edited)})
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "markets.ZO.tick must be positive" in out and str(edited) in out, out[-2000:]
    assert "Traceback" not in out, out[-2000:]
    assert (journal_fills(d), broker_orders(d)) == before


# -------------------------------------------------------------------- read-only files
def _as_plain_user() -> list[str]:
    """A command prefix under which file permissions bind. Root ignores them (CAP_DAC_OVERRIDE),
    so as root the capabilities that override them are dropped for the child process."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without util-linux setpriv: cannot make a file read-only")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner"]


@pytest.mark.parametrize("target", [
    "journal/journal.sqlite", "broker/sim.sqlite", "journal", "models/ZO/champion.json",
    "agent/agent.sqlite",
])
def test_a_read_only_file_is_named_before_any_order_and_nothing_changes(traded, tmp_path,
                                                                       target):
    d = _copy(traded, tmp_path / "d")
    before = journal_fills(d), broker_orders(d)
    path = d / target
    assert path.exists(), f"the traded data dir has no {target}"
    path.chmod(0o555 if path.is_dir() else 0o444)
    code = (f"from hydra import cycle; cycle.run_in_process(data_dir={str(d)!r}, as_of={DAY!r}, "
            "contracts=3)")
    done = subprocess.run([*_as_plain_user(), sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=120)
    path.chmod(0o755 if path.is_dir() else 0o644)
    assert done.returncode != 0, "the cycle ran on a read-only data directory"
    assert f"{path} is read-only for this user" in done.stderr, done.stderr[-1500:]
    assert "nothing was sent" in done.stderr
    assert (journal_fills(d), broker_orders(d)) == before


def test_hydra_run_refuses_a_read_only_journal_before_any_notebook_runs(traded, tmp_path):
    from tests.kit import HYDRA, REPO

    d = _copy(traded, tmp_path / "d")
    before = journal_fills(d), broker_orders(d), sorted(d.joinpath("runs").rglob("*.ipynb"))
    path = d / "journal" / "journal.sqlite"
    path.chmod(0o444)
    done = subprocess.run([*_as_plain_user(), HYDRA, "run", "daily-cycle", "--as-of", DAY],
                          capture_output=True, text=True, timeout=120, cwd=REPO,
                          env={**os.environ, "HYDRA_DATA_DIR": str(d)})
    path.chmod(0o644)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{path} is read-only for this user" in done.stderr
    after = journal_fills(d), broker_orders(d), sorted(d.joinpath("runs").rglob("*.ipynb"))
    assert after == before, "refused before running: no order, no new record"

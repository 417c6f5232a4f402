"""The loop in real cycles on the simulated broker: promotion changes what trades, rollback too.

No mocks: each step is a full in-process cycle (sim broker, bar store, registry, agent journal,
order execution); the champion is replaced by hand only where a test needs a known-bad model.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hydra import cycle
from hydra.agent.journal import AgentJournal, agent_db_path
from hydra.agent.status import health_summary
from hydra.model.registry import Registry
from tests.kit import run_hydra


def _cycle(data_dir: Path, day: str) -> dict:
    return cycle.run_in_process(as_of=day, market="ZO", contracts=1, data_dir=str(data_dir))


def _events(data_dir: Path, **filters) -> list:
    with AgentJournal(agent_db_path(data_dir)) as j:
        return j.events(market="ZO", **filters)


def _install_wrong_champion(data_dir: Path) -> str:
    """The current champion with its coefficients negated and an older training window."""
    reg = Registry(data_dir / "models", "ZO")
    good = reg.champion()
    assert good is not None
    bad = replace(good.model, coef=tuple(-c for c in good.model.coef),
                  intercept=-good.model.intercept, train_start="2025-09-02",
                  train_end="2025-11-28")
    bad_id = reg.save(bad, {"reason": "test: a deliberately wrong model", "playbook": "test"})
    reg.promote(bad_id, at="2026-03-02", reason="test")
    return bad_id


def test_first_cycle_trains_and_journals_the_initial_champion(data_dir):
    summary = _cycle(data_dir, "2026-03-02")
    reg = Registry(data_dir / "models", "ZO")
    assert summary["model"] == reg.champion_id()
    initial = _events(data_dir, step="initial")
    assert len(initial) == 1 and initial[0].model_id == summary["model"]
    assert (data_dir / "bars" / "bars.sqlite").is_file()
    # a rerun of the same cycle neither retrains nor journals the loop twice
    again = _cycle(data_dir, "2026-03-02")
    assert again["model"] == summary["model"]
    assert len(_events(data_dir, step="decision")) == 1
    status = health_summary(data_dir)["ZO"]
    assert status["champion"] == summary["model"]
    assert status["last_decision"]["outcome"] == "initial"


def test_degraded_champion_is_replaced_and_the_next_cycles_trade_the_winner(data_dir):
    # The wrong champion is degraded at once (min_live_days 1) and the old promotion rule is
    # used (promote_alpha 1: no significance test), so this tests the plumbing of a promotion;
    # tests/model/test_promotion.py tests what evidence a promotion needs.
    (data_dir / "hydra.toml").write_text(
        "[agent]\nmin_live_days = 1\npromote_alpha = 1.0\ndrawdown_max = 0.0\n")
    _cycle(data_dir, "2026-03-02")
    bad_id = _install_wrong_champion(data_dir)

    s1 = _cycle(data_dir, "2026-03-03")
    promoted = _events(data_dir, step="promote")
    assert len(promoted) == 1, [e.detail for e in _events(data_dir, step="decision")]
    new_id = promoted[0].model_id
    assert promoted[0].candidate_id == bad_id
    observe = _events(data_dir, step="observe", since=None)[-1]
    assert observe.outcome == "degraded"  # the wrong model was caught by its live returns
    won = [e for e in _events(data_dir, step="evaluate") if e.outcome == "won"]
    assert new_id in {e.candidate_id for e in won}
    assert all(e.data["candidate_wins"] for e in won)
    # the promotion acts on what trades: this cycle's signal already comes from the winner ...
    assert s1["model"] == new_id
    # ... and so does the next cycle's
    s2 = _cycle(data_dir, "2026-03-04")
    assert s2["model"] == new_id
    with AgentJournal(agent_db_path(data_dir)) as j:
        preds = j.predictions("ZO").set_index("as_of")["model_id"].to_dict()
    assert preds["2026-03-03"] == preds["2026-03-04"] == new_id

    # the operator rolls back: the previous champion trades again on the next cycle
    res = run_hydra("rollback", "--market", "ZO", "--reason", "test", data_dir=data_dir)
    assert res.returncode == 0, res.stderr
    assert bad_id in res.stdout
    s3 = _cycle(data_dir, "2026-03-05")
    assert s3["model"] == bad_id
    decision = _events(data_dir, step="decision")[-1]
    assert decision.as_of == "2026-03-05"
    assert "cooldown" in decision.detail or decision.outcome in ("healthy", "skipped")


def test_a_candidate_is_promoted_only_when_it_wins(data_dir):
    (data_dir / "hydra.toml").write_text(
        "[agent]\nmin_live_days = 1\nbrier_skill_min = 1.0\ncandidates_per_cycle = 2\n")
    first = _cycle(data_dir, "2026-03-02")
    _cycle(data_dir, "2026-03-03")  # forced "degraded": the loop must try candidates
    trained = _events(data_dir, step="train")
    evaluated = _events(data_dir, step="evaluate")
    assert len(trained) == len(evaluated) == 2
    refresh = next(e for e in evaluated
                   if e.candidate_id == next(t.candidate_id for t in trained
                                             if t.data["playbook"] == "refresh"))
    # the same recipe retrained a day later ties every window: a tie is not a win
    assert refresh.outcome == "lost" and refresh.data["ties"] == len(refresh.data["folds"])
    reg = Registry(data_dir / "models", "ZO")
    winners = [e.candidate_id for e in evaluated if e.outcome == "won"]
    if winners:
        assert reg.champion_id() in winners
    else:
        assert reg.champion_id() == first["model"]
    for e in evaluated:
        d = e.data
        assert (e.outcome == "won") == (d["wins"] >= d["min_wins"] and d["wins"] > d["losses"]
                                        and d["candidate_total"] > d["champion_total"]
                                        and d["p_value"] < d["alpha"])
    # the weekly budget (2) is spent: the next degraded cycle tries nothing
    _cycle(data_dir, "2026-03-04")
    assert len(_events(data_dir, step="train")) == 2
    assert _events(data_dir, step="decision")[-1].outcome == "skipped"

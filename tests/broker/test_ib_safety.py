"""The one safety verdict: live ports, declared paper ports, and the paper-account check."""

from __future__ import annotations

from hydra.broker.safety import declared_paper_ports, is_paper_account, safety_verdict


def test_paper_accounts_are_the_du_ones():
    assert is_paper_account("DU1234567") and is_paper_account("du7654321")
    assert is_paper_account("DUSIM0001")  # the simulator's account looks like paper on purpose
    for live in ("U1234567", "F1234567", "DF1234567", "I1234567", ""):
        assert not is_paper_account(live)


def test_a_paper_port_with_a_live_account_is_refused():
    before = safety_verdict("ib", 4002, False, env={})
    assert before.allowed and before.account is None, "before connecting: the port only"
    ok = safety_verdict("ib", 4002, False, env={}, account="DU1234567")
    assert ok.allowed and ok.account == "DU1234567" and "DU1234567" in ok.reason
    bad = safety_verdict("ib", 7497, False, env={}, account="U1234567")
    assert not bad.allowed and bad.mode == "paper" and bad.account == "U1234567"
    assert "not an IB paper account" in bad.reason and "TradingMode=paper" in bad.reason


def test_live_needs_both_confirmations_whatever_the_account():
    env = {"HYDRA_LIVE_CONFIRMED": "true"}
    assert not safety_verdict("ib", 4001, False, env=env, account="U1").allowed
    assert not safety_verdict("ib", 7496, True, env={}, account="U1").allowed
    live = safety_verdict("ib", 4001, True, env=env, account="U1")
    assert live.allowed and live.mode == "live" and live.account == "U1"


def test_extra_paper_ports_are_declared_never_guessed():
    assert not safety_verdict("ib", 4003, False, env={}).allowed
    env = {"HYDRA_PAPER_PORTS": "4003, 4004,junk,4001"}
    assert declared_paper_ports(env) == {4002, 7497, 4003, 4004}, "a live port stays live"
    assert safety_verdict("ib", 4004, False, env=env).mode == "paper"
    assert not safety_verdict("ib", 4001, False, env=env).allowed
    refused = safety_verdict("ib", 5000, False, env={})
    assert "HYDRA_PAPER_PORTS" in refused.reason


def test_the_simulator_is_not_subject_to_port_or_account_checks():
    v = safety_verdict("sim", 4001, False, env={}, account="U1")
    assert v.allowed and v.mode == "simulated"

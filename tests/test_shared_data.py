"""The guards of tests/shared_data.py, the data dirs built once a session: one build however many
workers ask at once, a failed build redone, and a template a test changed refused."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from tests.shared_data import build_once, session_root


def _writer(calls: list[str], tag: str):
    def build(data_dir: Path) -> dict[str, Any]:
        calls.append(tag)
        (data_dir / "journal.sqlite").write_bytes(b"fills")
        return {"by": tag}
    return build


def test_a_finished_build_is_reused_and_its_info_kept(tmp_path):
    calls: list[str] = []
    first = build_once(tmp_path, "x", _writer(calls, "first"))
    again = build_once(tmp_path, "x", _writer(calls, "second"))
    assert calls == ["first"]
    assert again == first and again.info == {"by": "first"}
    assert (again.template / "journal.sqlite").read_bytes() == b"fills"


def test_a_build_that_raised_is_redone_from_scratch(tmp_path):
    def broken(data_dir: Path) -> dict[str, Any]:
        (data_dir / "half-written").write_text("x")
        raise RuntimeError("the run died")

    with pytest.raises(RuntimeError, match="the run died"):
        build_once(tmp_path, "x", broken)
    calls: list[str] = []
    shared = build_once(tmp_path, "x", _writer(calls, "retry"))
    assert calls == ["retry"] and shared.info == {"by": "retry"}
    assert sorted(p.name for p in shared.template.iterdir()) == ["journal.sqlite"]


def test_two_workers_asking_at_once_build_once(tmp_path):
    """Worker A builds; worker B asks meanwhile. Under the lock B waits and reuses A's build;
    without it B would build too (its build sets `b_built`, which A waits up to a second for,
    so that an unguarded B is seen, not raced past)."""
    calls: list[str] = []
    a_building, b_built = threading.Event(), threading.Event()
    results: dict[str, Any] = {}

    def build_a(data_dir: Path) -> dict[str, Any]:
        a_building.set()
        b_built.wait(1.0)
        return _writer(calls, "A")(data_dir)

    def build_b(data_dir: Path) -> dict[str, Any]:
        b_built.set()
        return _writer(calls, "B")(data_dir)

    a = threading.Thread(target=lambda: results.update(a=build_once(tmp_path, "x", build_a)))
    b = threading.Thread(target=lambda: results.update(b=build_once(tmp_path, "x", build_b)))
    a.start()
    assert a_building.wait(30)
    b.start()
    a.join(30)
    b.join(30)
    assert calls == ["A"], calls
    assert results["a"] == results["b"] and results["b"].info == {"by": "A"}


@pytest.mark.parametrize("change", ["edit", "add", "chmod"])
def test_a_template_a_test_changed_is_refused_at_the_next_copy(tmp_path, change):
    shared = build_once(tmp_path, "x", _writer([], "A"))
    first = shared.copy_to(tmp_path / "mine")
    (first / "journal.sqlite").write_bytes(b"edited")  # a test's own copy: allowed
    shared.copy_to(tmp_path / "yours")
    target = shared.template / "journal.sqlite"
    if change == "edit":
        target.write_bytes(b"fills, edited")
    elif change == "add":
        (shared.template / "journal.sqlite-wal").write_bytes(b"")  # a reader left it
    else:
        target.chmod(0o444)
    with pytest.raises(AssertionError, match="changed after it was built"):
        shared.copy_to(tmp_path / "theirs")


def test_every_xdist_worker_shares_the_session_root(tmp_path_factory, monkeypatch):
    base = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    assert session_root(tmp_path_factory) == base.parent  # the run's basetemp, above gw0, gw1
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert session_root(tmp_path_factory) == base

"""The audit trail's failure handling with real papermill runs of small notebooks."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import nbformat
import pytest

from hydra.ops import notebook_runs as runs
from tests.kit import small_notebook

pytestmark = pytest.mark.slow




@pytest.fixture
def job(tmp_path, monkeypatch):
    def make(*sources: str) -> str:
        nb = small_notebook(tmp_path / "job.ipynb", *sources)
        monkeypatch.setitem(runs.JOBS, "test-job", runs.Job("test-job", str(nb), "test_job"))
        return "test-job"
    return make


def test_timeout_is_recorded_and_marked(job, data_dir):
    name = job("print('started')", "import time; time.sleep(30)", "print('never')")
    result = runs.execute(name, data_dir, as_of="2026-11-24", timeout=1)
    assert not result.ok
    assert result.record.status == "failed"
    assert result.record.reason.startswith("timeout")
    nb = nbformat.read(result.output, as_version=4)
    assert "hydra-run-failed" in nb.cells[0].metadata["tags"]
    assert "timeout" in nb.cells[0].source
    assert nb.metadata["hydra"]["status"] == "failed"
    assert result.record.sha256 == runs.sha256_of(result.output)


def test_dead_kernel_is_recorded_and_marked(job, data_dir):
    name = job("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "print('never')")
    result = runs.execute(name, data_dir, as_of="2026-11-24", timeout=60)
    assert result.record.status == "failed"
    assert "dead kernel" in result.record.reason
    nb = nbformat.read(result.output, as_version=4)
    assert "RUN FAILED" in nb.cells[0].source


def test_runs_never_overwrite_and_are_indexed(job, data_dir):
    name = job("x = 1")
    a = runs.execute(name, data_dir, as_of="2026-11-24")
    b = runs.execute(name, data_dir, as_of="2026-11-24")
    assert a.ok and b.ok and a.output != b.output
    assert a.output.exists() and b.output.exists()
    assert a.output.parent == data_dir / "runs" / "test_job" / "2026" / "11" / "24"
    with sqlite3.connect(data_dir / "runs" / "index.sqlite") as con:
        rows = con.execute("SELECT run_id, status, sha256 FROM runs").fetchall()
    assert {r[0] for r in rows} == {a.record.run_id, b.record.run_id}
    assert all(r[1] == "succeeded" and r[2] for r in rows)


def test_parameters_are_typed_by_the_notebook_not_guessed(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell('name: str = "x"\ncount: int = 1\nflag: bool = False')
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, tmp_path / "p.ipynb")
    got = runs.coerce_parameters(tmp_path / "p.ipynb",
                                 [("name", "007"), ("count", "7"), ("flag", "true")])
    assert got == {"name": "007", "count": 7, "flag": True}
    assert runs.coerce_parameters(tmp_path / "p.ipynb", [("count", "two")]) == {"count": "two"}
    with pytest.raises(runs.RunError, match="unknown parameter 'cnt'"):
        runs.coerce_parameters(tmp_path / "p.ipynb", [("cnt", "1")])


def _record(i: int, started: str, job: str = "daily-cycle") -> runs.RunRecord:
    return runs.RunRecord(
        run_id=f"{i:08x}", job=job, notebook="n.ipynb", as_of="2026-11-24", parameters={},
        started_at=started, ended_at=None, status="succeeded", reason="", output_path=None,
        sha256=None, hydra_version="t", git_commit=None, summary={"status": "traded"})


def test_runs_list_newest_first_through_the_started_index_added_to_an_old_index(tmp_path):
    """An index made before runs_started gets it on open (no schema change), and the list
    (ties on the start second broken by insertion order) reads the same through it."""
    path = tmp_path / "index.sqlite"
    index = runs.RunIndex(path)
    for i, started in enumerate(["2026-11-24T16:00:00+00:00", "2026-11-25T16:00:00+00:00",
                                 "2026-11-25T16:00:00+00:00", "2026-11-23T16:00:00+00:00"]):
        index.add(_record(i, started, job="other" if i == 3 else "daily-cycle"))
    index.close()
    db = sqlite3.connect(path)
    db.execute("DROP INDEX runs_started")
    db.commit()
    before = [r[0] for r in db.execute(
        "SELECT run_id FROM runs ORDER BY started_at DESC, rowid DESC")]
    db.close()
    index = runs.RunIndex(path)
    plan = " ".join(r[3] for r in index._db.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 2"))
    assert "runs_started" in plan and "TEMP B-TREE" not in plan
    assert [r.run_id for r in index.list()] == before == ["00000002", "00000001", "00000000",
                                                          "00000003"]
    assert [r.run_id for r in index.list(limit=2)] == ["00000002", "00000001"]
    assert [r.run_id for r in index.list(job="other")] == ["00000003"]
    index.close()


def test_running_jobs_read_through_a_partial_index_added_to_an_old_index(tmp_path):
    """Every reader reaps dead runs first (`hydra runs list`, status): which jobs have a run
    indexed as running is read from a partial index, not a scan of the whole history, and an
    index made before it gets it on open."""
    path = tmp_path / "index.sqlite"
    index = runs.RunIndex(path)
    for i in range(4):
        index.add(_record(i, f"2026-11-2{i}T16:00:00+00:00", job=f"job-{i % 2}"))
    index.add(replace(_record(7, "2026-11-25T16:00:00+00:00", job="job-1"), status="running"))
    index.close()
    db = sqlite3.connect(path)
    db.execute("DROP INDEX IF EXISTS runs_running")
    db.commit()
    db.close()
    index = runs.RunIndex(path)
    assert index.running_jobs() == ["job-1"]
    plan = " ".join(r[3] for r in index._db.execute(
        "EXPLAIN QUERY PLAN " + runs.RunIndex.RUNNING_JOBS))
    assert "runs_running" in plan  # an index of the running rows only
    index.mark_interrupted("job-1", "test")
    assert index.running_jobs() == []
    index.close()

"""`hydra runs verify`: every indexed notebook's sha256 against the index, every notebook on
disk against the index, and runs still marked running whose process is gone."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from hydra.ops.notebook_runs.execution import sha256_of
from hydra.ops.notebook_runs.index import RunIndex
from hydra.ops.notebook_runs.locks import is_running
from hydra.paths import DataPaths


@dataclass(frozen=True)
class VerifyIssue:
    kind: str  # "edited" | "truncated" | "missing" | "extra" | "unfinished" | "unknown"
    path: str  # relative to the data directory
    run_id: str | None
    detail: str


@dataclass
class VerifyReport:
    checked: int = 0
    in_progress: int = 0
    without_notebook: int = 0
    issues: list[VerifyIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues


def verify(data_dir: Path) -> VerifyReport:
    """Every indexed notebook's sha256 against the index, and every notebook against the index.

    Edited (digest differs), missing (indexed, not on disk) and extra (on disk, not indexed)
    notebooks are issues, and so is a run still marked running whose process is gone.
    """
    paths = DataPaths(data_dir)
    report = VerifyReport()
    records = []
    if paths.run_index.exists():
        index = RunIndex(paths.run_index)
        records = index.list()
        index.close()
    referenced: set[str] = set()
    busy: dict[str, bool] = {}
    for rec in records:
        if rec.output_path is None:
            report.without_notebook += 1
            continue
        referenced.add(rec.output_path)
        path = data_dir / rec.output_path
        if rec.status == "running":
            if busy.setdefault(rec.job, is_running(paths, rec.job)):
                report.in_progress += 1
                continue
            report.issues.append(VerifyIssue(
                "unfinished", rec.output_path, rec.run_id,
                f"run {rec.run_id} is indexed as running but no {rec.job} process holds the "
                "job's lock: it died without recording its end (killed or power loss)"))
            continue
        report.checked += 1
        if not path.exists():
            report.issues.append(VerifyIssue("missing", rec.output_path, rec.run_id,
                                             f"run {rec.run_id} ({rec.status}): the executed "
                                             "notebook is gone"))
            continue
        damage = notebook_damage(path)
        if damage:
            report.issues.append(VerifyIssue(
                "truncated", rec.output_path, rec.run_id,
                f"run {rec.run_id} ({rec.status}): not a complete notebook ({damage}). The "
                "record was cut short (a full disk, a crash mid-save, an interrupted copy or "
                "restore?) and no notebook reader can open it. Its outcome is still in the "
                f"index (`hydra runs show {rec.run_id}`); restore it from a backup, and do not "
                "edit or delete it here: the index expects this file"))
            continue
        actual = sha256_of(path) if path.stat().st_size else None
        if actual != rec.sha256:
            report.issues.append(VerifyIssue(
                "edited", rec.output_path, rec.run_id,
                f"run {rec.run_id}: sha256 is {(actual or 'empty')[:16]}, the index recorded "
                f"{(rec.sha256 or 'none')[:16]}: the notebook changed after the run"))
    if paths.runs_dir.exists():
        for nb in sorted(paths.runs_dir.rglob("*.ipynb")):
            rel = str(nb.relative_to(data_dir))
            if rel not in referenced and not _hidden(nb.relative_to(paths.runs_dir)):
                damage = notebook_damage(nb)
                report.issues.append(VerifyIssue(
                    "extra", rel, None, "a notebook in the audit trail that no indexed run "
                    "produced" + (f", and not a complete notebook ({damage}); move it out "
                                  "of runs/" if damage else "")))
        report.issues += _unknown_files(paths)
    return report


def notebook_damage(path: Path) -> str | None:
    """Why a file is not a readable notebook (cut short, not JSON, no cells), or None."""
    size = path.stat().st_size
    if size == 0:
        return "the file is empty"
    try:
        nb = json.loads(path.read_bytes())
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text at byte {exc.start} of {size}"
    except json.JSONDecodeError as exc:
        return (f"invalid JSON: {exc.msg.removesuffix(' at')} at byte {exc.pos} (line "
                f"{exc.lineno}) of a {size}-byte file")
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list) \
            or "nbformat" not in nb:
        return f"JSON, but not a notebook (no cells or no nbformat) in {size} bytes"
    return None


_INDEX_FILES = {"index.sqlite", "index.sqlite-wal", "index.sqlite-shm", "index.sqlite-journal"}


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def _unknown_files(paths: DataPaths) -> list[VerifyIssue]:
    """Whatever under runs/ is neither the index, a job lock nor an executed notebook.

    A front end or an editor leaves such things (.ipynb_checkpoints/, ~ backups); each is a
    write into the audit trail that no run made, so it is reported, empty folders included.
    """
    issues = []
    root = paths.runs_dir

    def issue(path: Path, detail: str) -> None:
        issues.append(VerifyIssue("unknown", str(path.relative_to(paths.root)), None, detail))

    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        for name in sorted(dirs):
            if name.startswith("."):
                issue(here / name, "a hidden folder in the audit trail that no run made "
                                   "(a front end's checkpoints?)")
            elif not any((here / name).iterdir()):
                issue(here / name, "an empty folder in the audit trail")
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            rel = (here / name).relative_to(root)
            known = (name.endswith(".ipynb") or (here == root and name in _INDEX_FILES)
                     or (rel.parts[0] == "locks" and len(rel.parts) == 2
                         and name.endswith(".lock")))
            if not known:
                issue(here / name, "a file in the audit trail that the run index does not know")
    return issues

"""Reading runs back: an executed notebook's scraps, and the history of a job's summaries."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from hydra.ops.notebook_runs.evidence import read_summary
from hydra.ops.notebook_runs.index import RunIndex
from hydra.paths import DataPaths


def read_scraps(output: Path) -> dict[str, Any]:
    """Every scrap glued in an executed notebook, by name (plain values and DataFrames)."""
    import scrapbook as sb

    return {name: scrap.data for name, scrap in sb.read_notebook(str(output)).scraps.items()}


def history(data_dir: Path, *, job: str = "daily-cycle", since: date | None = None,
            source: str = "index") -> list[dict[str, Any]]:
    """One row per finished run with a summary, oldest first: the run's index fields and its
    glued `summary` scrap, read from the index's copy (fast) or from each notebook ("notebooks",
    the slow scrapbook scan the index exists to avoid)."""
    paths = DataPaths(data_dir)
    if not paths.run_index.exists():
        return []
    index = RunIndex(paths.run_index)
    records = index.list(job=job or None, since=since)
    index.close()
    rows: list[dict[str, Any]] = []
    for rec in reversed(records):
        if source == "notebooks":
            if not rec.output_path or not (data_dir / rec.output_path).is_file():
                continue
            summary = read_summary(data_dir / rec.output_path)
        elif source == "index":
            summary = rec.summary
        else:
            raise ValueError(f"source must be 'index' or 'notebooks', got {source!r}")
        if not summary:
            continue
        rows.append({**summary, "run_id": rec.run_id, "job": rec.job, "run_status": rec.status,
                     "started_at": rec.started_at, "as_of": rec.as_of})
    return rows

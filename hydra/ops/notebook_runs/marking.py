"""Failure marking: papermill marks only cell errors; a timeout, a dead kernel or an
interruption is written on the failed notebook's first screen here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.ops.notebook_runs.evidence import CycleOrders, orders_sent, read_summary
from hydra.ops.notebook_runs.index import RunRecord


def _finalise_notebook(output: Path, record: RunRecord, status: str, reason: str,
                       before: CycleOrders | None = None) -> dict[str, Any] | None:
    """Stamp the run's outcome into the notebook; mark failures papermill leaves unmarked.

    A failure's banner also says whether this run sent any order (the journal and the
    simulator's book, compared with what they held when the run began): the operator's first
    question, before deciding whether a rerun is safe.
    """
    import nbformat

    if not output.exists() or output.stat().st_size == 0:
        return None
    try:
        nb = nbformat.read(output, as_version=4)
    except Exception:  # a notebook cut short mid-write: `hydra runs verify` names it
        return None
    nb.metadata["hydra"] = {"run_id": record.run_id, "job": record.job, "status": status,
                            "reason": reason, "hydra_version": record.hydra_version,
                            "git_commit": record.git_commit}
    for cell in nb.cells:  # the reader's first screen is the banner, not parameter code
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
    papermill_marked = any("papermill-error-cell-tag" in c.metadata.get("tags", [])
                           for c in nb.cells)
    if status == "failed":
        sent = orders_sent(Path(record.parameters["data_dir"]), record, before)
        nb.metadata["hydra"]["orders"] = sent
        cell = nbformat.v4.new_markdown_cell(
            f'<span style="color:red; font-size:1.4em">**HYDRA RUN FAILED: {reason}**</span>'
            f"\n\n**Orders: {sent}.**"
            "\n\nThis run did not finish. Cells after the failure did not run, even where the "
            "notebook shows them without an error. The run index records this run as failed.")
        cell.metadata["tags"] = ["hydra-run-failed"]
        nb.cells.insert(1 if papermill_marked else 0, cell)  # first screen either way
    nbformat.write(nb, output)
    return read_summary(output)

"""Notebook parameters: the notebook's declared parameters, and `-p name value` text typed by
them (an int stays an int, a date stays text), before papermill sees it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hydra.ops.notebook_runs.jobs import RunError


def notebook_parameters(notebook: Path) -> dict[str, dict[str, Any]]:
    import papermill

    return papermill.inspect_notebook(str(notebook))


_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")


def coerce_parameters(notebook: Path, raw: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Type each `-p NAME VALUE` by the notebook's declared type, never by guessing.

    A value that does not fit its type is passed through as text: the notebook's own
    validation then fails the run with a message, and the failed run is recorded.
    """
    declared = notebook_parameters(notebook)
    out: dict[str, Any] = {}
    for name, value in raw:
        if name not in declared:
            raise RunError(f"unknown parameter {name!r} for {notebook.name}; parameters are: "
                           f"{', '.join(declared)}")
        kind = declared[name]["inferred_type_name"]
        text = value.strip()
        if kind == "int" and _INT.match(text):
            out[name] = int(text)
        elif kind == "float" and _FLOAT.match(text):
            out[name] = float(text)
        elif kind == "bool" and text.lower() in ("true", "false", "1", "0", "yes", "no"):
            out[name] = text.lower() in ("true", "1", "yes")
        else:
            out[name] = value  # str parameters stay exactly as typed (no "007" -> 7)
    return out

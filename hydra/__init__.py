"""Hydra: one daily futures trading cycle on Interactive Brokers paper, recorded as a notebook."""

from __future__ import annotations

import sys

__version__ = "0.1.0"

# jsonschema imports `rfc3987_syntax` (pulled in by jupyterlab's format extras) at import time,
# which builds a grammar and costs ~0.8 s in every process that loads nbformat: the papermill
# parent, the kernel (through scrapbook) and nbval. Hydra never validates IRI formats, so it
# opts out in its own processes; jsonschema treats the module as absent and skips that format.
# Set HYDRA_KEEP_RFC3987=1 to keep it. See README, "Start-up cost".
if "rfc3987_syntax" not in sys.modules:
    import os as _os

    if _os.environ.get("HYDRA_KEEP_RFC3987") != "1":
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]

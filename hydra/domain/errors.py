"""The one base class of Hydra's own errors: `except HydraError` catches every refusal Hydra
raises on purpose (bad parameters, a refused broker, a busy cycle), never a bug.

Each error also keeps the builtin base it always had (ValueError, RuntimeError, ...), so code
that caught those goes on working.
"""

from __future__ import annotations


class HydraError(Exception):
    """Something Hydra refused or could not do; the message says what to fix."""

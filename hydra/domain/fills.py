"""How fills are counted: one rule, used by every place that adds up executions.

IB corrects an execution by re-sending it with the same execId stem (everything before the last
dot) and a larger suffix after it (``0000e0d5.6564c2a1.01.01`` corrected by ``...01.02``). A
correction replaces the execution it corrects; it never adds to it. So fills are counted per
stem, keeping the latest correction, whatever order the messages arrived in. The order status,
the order manager, the journal and the reconciliation all count through this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

E = TypeVar("E")


def exec_stem(exec_id: str) -> str:
    """The part of an execId a correction keeps."""
    return exec_id.rsplit(".", 1)[0] if "." in exec_id else exec_id


def correction_key(exec_id: str) -> tuple[int, int, str]:
    """Orders the executions of one stem: a larger hex suffix is a later correction.

    A suffix that is not hex sorts before every hex one (and then by text), so the ordering is
    total and the same on every machine.
    """
    tail = exec_id.rsplit(".", 1)[-1] if "." in exec_id else ""
    try:
        return 1, int(tail, 16), tail
    except ValueError:
        return 0, 0, tail


def is_later(new_id: str, old_id: str) -> bool:
    """True if `new_id` corrects (supersedes) `old_id`."""
    return correction_key(new_id) > correction_key(old_id)


def latest_per_stem(items: Iterable[E], exec_id: Callable[[E], str]) -> list[E]:
    """One item per execId stem, the latest correction, in first-seen order of the stems."""
    best: dict[str, E] = {}
    for item in items:
        stem = exec_stem(exec_id(item))
        kept = best.get(stem)
        if kept is None or is_later(exec_id(item), exec_id(kept)):
            best[stem] = item
    return list(best.values())


def filled_quantity(items: Iterable[E], exec_id: Callable[[E], str],
                    quantity: Callable[[E], float]) -> float:
    """Contracts filled by a set of executions and corrections (latest per stem)."""
    return sum(quantity(e) for e in latest_per_stem(items, exec_id))

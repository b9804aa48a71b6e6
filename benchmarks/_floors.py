"""What an issue asks of a benchmark's keys, and whether a run's summary meets it (every script that
declares floors prints the same ``floors`` and ``holds`` maps in its last-line JSON)."""

from __future__ import annotations

from typing import Any

__all__ = ["Floors", "holds", "described"]

Floors = dict[str, tuple[str, float]]
"""key -> (">=" or "<=", bound)."""

_CHECKS = {">=": lambda value, bound: value >= bound, "<=": lambda value, bound: value <= bound}


def holds(summary: dict[str, Any], floors: Floors) -> dict[str, bool]:
    """Whether each floor holds, for the keys the summary has a number for."""
    return {
        key: bool(_CHECKS[op](summary[key], bound))
        for key, (op, bound) in floors.items()
        if isinstance(summary.get(key), (int, float))
    }


def described(floors: Floors) -> dict[str, str]:
    """The floors as text for the JSON line (``"tree_speedup": ">= 15"``)."""
    return {key: f"{op} {bound:g}" for key, (op, bound) in floors.items()}

"""Reading the model's final decision out of its reply: JSON, possibly fenced or wrapped in prose.

Only JSON is read (``json`` module); nothing in a reply is ever evaluated. Spelling variants of
the decision ("Merge", "not_merge", "no merge", "not enough evidence", "unsure") and confidences
given in percent are accepted;
anything else raises ``ReplyParseError`` with what was wrong, so the judge can ask once more.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from engines.curation.data import UnitId
from engines.curation.errors import ReplyParseError
from engines.curation.model import MERGE, NOT_MERGE, UNSURE, Decision

__all__ = ["ParsedDecision", "parse_decision"]

_DECISIONS: dict[str, Decision] = {
    "merge": MERGE,
    "yes": MERGE,
    "not merge": NOT_MERGE,
    "not_merge": NOT_MERGE,
    "no merge": NOT_MERGE,
    "no_merge": NOT_MERGE,
    "do not merge": NOT_MERGE,
    "don't merge": NOT_MERGE,
    "no": NOT_MERGE,
    "notmerge": NOT_MERGE,
    "not enough evidence": UNSURE,
    "not_enough_evidence": UNSURE,
    "insufficient evidence": UNSURE,
    "unsure": UNSURE,
    "uncertain": UNSURE,
}


@dataclass(frozen=True)
class ParsedDecision:
    decision: Decision
    confidence: float
    reasoning: str
    merge_groups: tuple[tuple[UnitId, ...], ...]


def _first_object(text: str) -> dict[str, Any]:
    text = re.sub(r"```(?:json)?", "", text or "")
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text[match.start() :])
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    raise ReplyParseError("no JSON object found in the reply")


def _confidence(value: Any) -> float:
    try:
        number = float(str(value).strip().rstrip("%"))
    except ValueError:
        raise ReplyParseError(f"confidence {value!r} is not a number") from None
    if 1.0 < number <= 100.0:
        number /= 100.0
    if not 0.0 <= number <= 1.0:
        raise ReplyParseError(f"confidence {value!r} is not between 0 and 1")
    return number


def _merge_units(value: Any, group: tuple[UnitId, ...]) -> tuple[UnitId, ...]:
    by_text = {str(u): u for u in group}
    if value in (None, "", []):
        return group
    if not isinstance(value, list):
        raise ReplyParseError(f"merge_units {value!r} is not a list of unit ids")
    chosen = []
    for item in value:
        unit = by_text.get(str(item).strip())
        if unit is None:
            raise ReplyParseError(f"merge_units names unit {item!r}, which is not in the group {list(group)}")
        if unit not in chosen:
            chosen.append(unit)
    if len(chosen) < 2:
        raise ReplyParseError("merge_units must name at least two units of the group")
    return tuple(u for u in group if u in chosen)


def parse_decision(reply: str, group: tuple[UnitId, ...]) -> ParsedDecision:
    """The decision in ``reply`` for a group of units ``group``; raises ``ReplyParseError``."""
    payload = _first_object(reply)
    raw = str(payload.get("decision", payload.get("merge_type", ""))).strip().lower()
    decision = _DECISIONS.get(raw)
    if decision is None:
        raise ReplyParseError(
            f"decision {payload.get('decision')!r} is none of 'merge', 'not merge', 'not enough evidence'"
        )
    if "confidence" not in payload:
        raise ReplyParseError("the reply has no confidence")
    confidence = _confidence(payload["confidence"])
    reasoning = str(payload.get("reasoning") or "").strip()
    if not reasoning:
        raise ReplyParseError("the reply has no reasoning")
    groups = (_merge_units(payload.get("merge_units"), group),) if decision == MERGE else ()
    return ParsedDecision(decision=decision, confidence=confidence, reasoning=reasoning, merge_groups=groups)

"""Parse EDF+ annotations: Time-stamped Annotation Lists (TALs) in the annotation signal of each record.

A TAL is ``+onset[\\x15duration]\\x14text\\x14[text\\x14...]\\x00``; the first TAL of every data
record has no text and gives the record's start time (time-keeping), which is what places
the records of a discontinuous (EDF+D) file in time. Unused bytes are zeros.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Annotation", "parse_record_tals"]

_ONSET = re.compile(rb"^[+-]\d+(\.\d*)?$")


@dataclass(frozen=True)
class Annotation:
    """An event of the recording: ``onset`` seconds from its start, ``duration`` (None: an instant),
    ``text``."""

    onset: float
    duration: float | None
    text: str


def parse_record_tals(data: bytes) -> tuple[float | None, list[Annotation]]:
    """(the record's start time from its time-keeping TAL, its annotations) from one record's annotation
    bytes.

    Raises ``ValueError`` for bytes that are not TALs (the caller names the record).
    """
    start: float | None = None
    annotations: list[Annotation] = []
    first = True
    for tal in data.split(b"\x00"):
        if not tal:
            continue
        head, _, rest = tal.partition(b"\x14")
        onset_raw, _, duration_raw = head.partition(b"\x15")
        if not _ONSET.match(onset_raw):
            raise ValueError(f"'{onset_raw[:20]!r}' is not a TAL onset")
        onset = float(onset_raw)
        duration = float(duration_raw) if duration_raw else None
        texts = [t.decode("utf-8", errors="replace") for t in rest.split(b"\x14") if t]
        if first:  # the record's time-keeping TAL (it may carry annotations as well)
            start, first = onset, False
        annotations.extend(Annotation(onset, duration, text) for text in texts)
    return start, annotations

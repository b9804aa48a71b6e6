"""The icephys tables read as plain rows: which series each recording points to, and its groups.

``IntracellularRecordingsTable`` is an AlignedDynamicTable: one sub-table per category
(``electrodes``, ``stimuli``, ``responses``, and any the lab added), rows aligned by position.
Its ``stimulus`` and ``response`` columns are TimeSeriesReferenceVectorData: records of
``(idx_start, count, timeseries)``, where ``(-1, -1)`` means "no such part". The four tables above
it (simultaneous, sequential, repetitions, conditions) each group rows of the one below with a
ragged DynamicTableRegion. pynwb reads all of this too, but only after building every container
of the file (a request per object for a remote file); here each column is one slice read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engines.nwb.extract._common import as_text, child, read, ref_path
from engines.nwb.extract.tables import read_column, table_columns
from engines.nwb.index import NwbIndex, ObjectInfo
from engines.nwb.nwbfile import NwbFile

__all__ = ["RecordingRows", "LEVELS", "read_recordings", "recordings_table"]

LEVELS: tuple[tuple[str, str, str], ...] = (
    ("simultaneous", "SimultaneousRecordingsTable", "recordings"),
    ("sequential", "SequentialRecordingsTable", "simultaneous_recordings"),
    ("repetition", "RepetitionsTable", "sequential_recordings"),
    ("condition", "ExperimentalConditionsTable", "repetitions"),
)
"""(group name, table type, the column that lists rows of the level below), bottom up."""

_REFERENCE_COLUMNS = {"electrode", "stimulus", "response", "stimulus_template"}


@dataclass
class Part:
    """A stretch of one series: samples ``start`` .. ``start + count`` (count -1: to the end)."""

    path: str
    start: int
    count: int


@dataclass
class RecordingRows:
    """One entry per row of the recordings table, in row order."""

    ids: list[int]
    responses: list[Part | None]
    stimuli: list[Part | None]
    electrodes: list[str]
    groups: dict[str, list[str]] = field(default_factory=dict)
    """Group key (``sequential``, ``sequential.stimulus_type``, ``stimuli.step``, ...) -> a value per row."""


def recordings_table(index: NwbIndex) -> ObjectInfo | None:
    """The file's IntracellularRecordingsTable (the first, should a file hold several)."""
    found = index.find_by_type("IntracellularRecordingsTable")
    return min(found, key=lambda info: info.path) if found else None


def _cell_text(value: object) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return as_text(value.item() if isinstance(value, np.generic) else value)


def _parts(f: NwbFile, info: ObjectInfo | None, rows: int) -> list[Part | None]:
    """A TimeSeriesReferenceVectorData column as parts: one read, then one dereference per row."""
    if info is None:
        return [None] * rows
    parts: list[Part | None] = []
    for record in read(f, info, slice(0, rows)):
        start, count = int(record["idx_start"]), int(record["count"])
        path = ref_path(f, record["timeseries"]) if start >= 0 else None
        parts.append(Part(path, start, count) if path else None)
    return parts


def _electrodes(f: NwbFile, category: str | None, rows: int) -> list[str]:
    column = child(f, category, "electrode") if category else None
    if column is None:
        return [""] * rows
    return [ref_path(f, ref) or "" for ref in read(f, column, slice(0, rows))]


def _extra_columns(f: NwbFile, path: str, prefix: str, rows: int, skip: str = "") -> dict[str, list[str]]:
    """Every column of a table but its references (and ``skip``), as text per row, keyed ``prefix.column``."""
    columns = {}
    for name in table_columns(f, path):
        if name in _REFERENCE_COLUMNS or name == skip:
            continue
        cells = read_column(f, path, name, 0, rows)
        columns[f"{prefix}.{name}"] = [_cell_text(cell) for cell in list(cells)[:rows]]
    return columns


def _ids(f: NwbFile, path: str, rows: int) -> list[int]:
    ids = child(f, path, "id")
    values = [int(v) for v in read(f, ids, slice(0, rows))] if ids is not None else []
    return values if len(values) == rows and len(set(values)) == rows else list(range(rows))


def _members(f: NwbFile, table: str, column: str) -> list[list[int]]:
    """Each row's list of rows of the table below (a ragged DynamicTableRegion: two reads)."""
    data, index = child(f, table, column), child(f, table, f"{column}_index")
    if data is None or index is None:
        return []
    ends = np.asarray(read(f, index), dtype=np.int64)
    values = np.asarray(read(f, data), dtype=np.int64)
    starts = np.concatenate([[0], ends[:-1]])
    return [values[s:e].tolist() for s, e in zip(starts, ends)]


def _row_count(f: NwbFile, path: str) -> int:
    ids = child(f, path, "id")
    return ids.shape[0] if ids is not None and ids.shape else 0


def _levels(f: NwbFile, rows: int) -> dict[str, list[str]]:
    """For each level present, the group of every recording: the level's row id and its own columns."""
    below = list(range(rows))  # the row each recording has in the level below (recordings: itself)
    groups: dict[str, list[str]] = {}
    for name, neurodata_type, column in LEVELS:
        found = f.index.find_by_type(neurodata_type)
        if not found or not any(row >= 0 for row in below):
            break
        table = min(found, key=lambda info: info.path).path
        count = _row_count(f, table)
        owner: dict[int, int] = {}
        for row, members in enumerate(_members(f, table, column)):
            for member in members:
                owner.setdefault(member, row)
        ids = _ids(f, table, count)
        below = [owner.get(row, -1) if row >= 0 else -1 for row in below]
        groups[name] = [str(ids[row]) if 0 <= row < count else "(none)" for row in below]
        for key, cells in _extra_columns(f, table, name, count, column).items():
            groups[key] = [cells[row] if 0 <= row < len(cells) else "(none)" for row in below]
    return groups


def read_recordings(f: NwbFile, table: ObjectInfo) -> RecordingRows:
    """Every recording of ``table`` with its series, electrode and groups: a few reads per table."""
    rows = _row_count(f, table.path)
    categories = {name: child(f, table.path, name) for name in ("electrodes", "stimuli", "responses")}
    paths = {name: info.path if info is not None else None for name, info in categories.items()}
    stimuli = child(f, paths["stimuli"], "stimulus") if paths["stimuli"] else None
    responses = child(f, paths["responses"], "response") if paths["responses"] else None
    recordings = RecordingRows(
        ids=_ids(f, table.path, rows),
        responses=_parts(f, responses, rows),
        stimuli=_parts(f, stimuli, rows),
        electrodes=_electrodes(f, paths["electrodes"], rows),
    )
    for name in table.children:
        info = child(f, table.path, name)
        if info is not None and info.kind == "group" and info.neurodata_type:
            recordings.groups.update(_extra_columns(f, info.path, name, rows))
    recordings.groups.update(_extra_columns(f, table.path, "recordings", rows))
    recordings.groups.update(_levels(f, rows))
    return recordings

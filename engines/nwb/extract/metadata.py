"""The file at a glance (session, subject, devices, electrode groups, contents), from the index only.

Zero reads: every value shown is one the index already holds (small datasets and attributes).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from engines.nwb.extract._common import as_text, attr_text
from engines.nwb.index import ObjectInfo
from engines.nwb.nwbfile import NwbFile

__all__ = ["file_overview"]

_SESSION_FIELDS = (
    ("/identifier", "identifier"),
    ("/session_description", "session_description"),
    ("/session_start_time", "session_start_time"),
    ("/general/experimenter", "experimenter"),
    ("/general/institution", "institution"),
    ("/general/lab", "lab"),
    ("/general/session_id", "session_id"),
    ("/general/experiment_description", "experiment_description"),
    ("/general/keywords", "keywords"),
    ("/general/related_publications", "related_publications"),
    ("/general/protocol", "protocol"),
    ("/general/notes", "notes"),
    ("/general/pharmacology", "pharmacology"),
    ("/general/surgery", "surgery"),
    ("/general/virus", "virus"),
    ("/general/stimulus", "stimulus"),
    ("/general/data_collection", "data_collection"),
    ("/general/source_script", "source_script"),
    ("/timestamps_reference_time", "timestamps_reference_time"),
    ("/file_create_date", "file_create_date"),
)
_SUBJECT_FIELDS = (
    "subject_id",
    "species",
    "sex",
    "age",
    "date_of_birth",
    "genotype",
    "strain",
    "weight",
    "description",
)
_NOT_CONTENTS = {"NWBFile", "VectorData", "VectorIndex", "ElementIdentifiers", "DynamicTableRegion"}
"""Types left out of the contents count: the file itself and table columns (counted as their tables)."""


def _text(info: ObjectInfo) -> str:
    if info.has_value:
        return (
            as_text(info.value)
            if not isinstance(info.value, list)
            else "; ".join(as_text(v) for v in info.value)
        )
    return f"({info.size:,} entries, not loaded)"


def _session(f: NwbFile) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, label in _SESSION_FIELDS:
        if path in f.index and f.index.get(path).kind == "dataset":
            out[label] = _text(f.index.get(path))
    out["nwb_version"] = f.index.nwb_version or attr_text(f.index.get("/"), "nwb_version", "unknown")
    return out


def _subject(f: NwbFile) -> dict[str, Any]:
    if "/general/subject" not in f.index:
        return {}
    fields = {info.name: info for info in f.index.children("/general/subject") if info.kind == "dataset"}
    ordered = [n for n in _SUBJECT_FIELDS if n in fields] + sorted(
        n for n in fields if n not in _SUBJECT_FIELDS
    )
    return {name: _text(fields[name]) for name in ordered}


def _described(info: ObjectInfo, *keys: str) -> str:
    return " — ".join(text for key in keys if (text := attr_text(info, key)))


def file_overview(f: NwbFile) -> dict[str, dict[str, Any]]:
    """Sections "Session", "Subject", "Devices", "Electrode groups" and "Contents" ({type: count}); no
    reads."""
    index = f.index
    devices = {
        info.name: _described(info, "description", "manufacturer")
        for info in (index.children("/general/devices") if "/general/devices" in index else [])
        if info.kind == "group"
    }
    groups = {
        info.path.rsplit("/", 1)[-1]: _described(info, "location", "description")
        for info in index.find_by_type("ElectrodeGroup")
    }
    counts = Counter(
        info.neurodata_type
        for info in index.objects.values()
        if info.neurodata_type
        and info.neurodata_type not in _NOT_CONTENTS
        and not info.path.startswith("/specifications")
    )
    return {
        "Session": _session(f),
        "Subject": _subject(f),
        "Devices": devices,
        "Electrode groups": groups,
        "Contents": dict(sorted(counts.items(), key=lambda item: (-item[1], item[0]))),
    }

"""What in an analyzer folder only unpickling (or running code the folder names) can read.

SpikeInterface opens an analyzer by unpickling ``recording.pickle``, extension ``.pkl`` files,
object ``.npy`` arrays and zarr arrays with the pickle codec, and by calling the class a saved
``recording.json`` names with its arguments. Any of those runs code chosen by whoever wrote
the folder. Unless the operator trusts the folders (``--trust-pickles``), the curation engine
finds these parts first and leaves them out: the sorting must be readable without them, a
recording is attached only when its provenance names SpikeInterface extractors over data
without pickles, and extensions stored as pickles are not loaded (they can be recomputed).
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["TRUST_HINT", "pickled_parts", "safe_recording"]

TRUST_HINT = (
    "only unpickling it can read it, and unpickling runs code written into the folder; if you trust "
    "this folder, the operator can allow it with --trust-pickles (NEURODECK_TRUST_PICKLES=1)"
)

_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
_ZARR_METADATA = (".zarray", ".zmetadata", "zarr.json")
_PICKLE_CODECS = {"pickle", "numcodecs.pickle"}
_MAX_ENTRIES = 200_000
"""A folder holding more entries than this is not scanned (and so not trusted): a recording's
provenance may name any folder, and a scan must stay cheap."""


def pickled_parts(folder: Path) -> list[str]:
    """The files and zarr arrays under ``folder`` (relative names) that only unpickling can read;
    raises ``ValueError`` when the folder is too large to check."""
    parts = []
    for path in _walk(folder):
        relative = path.relative_to(folder).as_posix()
        if path.name in _ZARR_METADATA:
            parts.extend(_pickled_arrays(path, relative))
        elif _needs_unpickling(path):
            parts.append(relative)
    return parts


def _walk(folder: Path) -> Iterator[Path]:
    seen = 0
    for top, dirs, files in os.walk(folder):
        seen += len(dirs) + len(files)
        if seen > _MAX_ENTRIES:
            raise ValueError(f"more than {_MAX_ENTRIES} files to check")
        for name in files:
            yield Path(top) / name


def _needs_unpickling(path: Path) -> bool:
    if path.suffix in _PICKLE_SUFFIXES:
        return True
    return path.suffix == ".npy" and _npy_holds_objects(path)


def _npy_holds_objects(path: Path) -> bool:
    """Object arrays are stored pickled (SpikeInterface loads sorting properties with allow_pickle)."""
    try:
        with path.open("rb") as handle:
            major, _ = np.lib.format.read_magic(handle)
            reader = (
                np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            )
            _, _, dtype = reader(handle)
    except (OSError, ValueError):
        return False  # unreadable as .npy: NumPy refuses it before unpickling anything
    return bool(dtype.hasobject)


def _pickled_arrays(path: Path, relative: str) -> list[str]:
    """The arrays a zarr metadata file declares with the pickle codec, by their own metadata path
    (consolidated metadata, which zarr reads instead of each array's, is checked per array)."""
    try:
        metadata = json.loads(path.read_text())
    except (OSError, ValueError):
        return [relative]  # metadata zarr may read but we cannot check
    consolidated = (
        metadata.get("metadata")
        if path.name == ".zmetadata"
        else (metadata.get("consolidated_metadata") or {}).get("metadata")
    )
    if isinstance(consolidated, dict):
        base = relative.rpartition("/")[0]
        return [
            f"{base}/{key}".lstrip("/") for key, array in consolidated.items() if _names_pickle_codec(array)
        ]
    return [relative] if _names_pickle_codec(metadata) else []


def _names_pickle_codec(metadata: Any) -> bool:
    return any(value in _PICKLE_CODECS for key, value in _leaves(metadata) if key in ("id", "name"))


def _leaves(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _leaves(item, str(name))
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, key)
    else:
        yield key, value


def safe_recording(folder: Path, fmt: str, parts: list[str]) -> tuple[Any | None, str]:
    """The analyzer's recording, rebuilt from its JSON provenance only when that names SpikeInterface
    extractors over data without pickles; else None and why (a sentence for the user). ``parts`` are
    the folder's ``pickled_parts``."""
    if any(part.startswith("recording/") for part in parts):
        return None, f"its recording is saved with the pickle codec, and {TRUST_HINT}"
    provenance = _json_provenance(folder, fmt)
    if provenance is None:
        if "recording.pickle" in parts:
            return None, f"its recording is saved as recording.pickle, and {TRUST_HINT}"
        return None, "it saved no recording"
    unknown = sorted(_foreign_classes(provenance))
    if unknown:
        return None, (
            f"its saved recording names {', '.join(unknown)}, which are not SpikeInterface extractors; "
            "opening it would run that code (the operator can allow it with --trust-pickles)"
        )
    from spikeinterface.core.base import BaseExtractor
    from spikeinterface.core.core_tools import make_paths_absolute

    absolute = make_paths_absolute(provenance, folder) if provenance.get("relative_paths") else provenance
    try:
        for place in _existing_paths(absolute, folder):
            found = (
                [place.name]
                if place.is_file() and _needs_unpickling(place)
                else pickled_parts(place)
                if place.is_dir()
                else []
            )
            if found:
                return None, f"its recording's data ({place.name}) holds pickles, and {TRUST_HINT}"
    except ValueError as exc:
        return None, f"its recording's folders could not be checked for pickles ({exc}); {TRUST_HINT}"
    try:
        return BaseExtractor.from_dict(provenance, base_folder=folder), ""
    except Exception as exc:  # moved or deleted data, another SpikeInterface version: opened without it
        return (
            None,
            f"its recording could not be opened ({type(exc).__name__}); it may have been moved or deleted",
        )


def _json_provenance(folder: Path, fmt: str) -> dict | None:
    if fmt == "zarr":
        import zarr

        field = zarr.open(str(folder), mode="r").get("recording")
        return None if field is None else field[0]  # the folder was checked for the pickle codec first
    path = folder / "recording.json"
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):
        return None


def _foreign_classes(provenance: Any) -> set[str]:
    """Every ``class`` named anywhere in the provenance that is not a SpikeInterface extractor class."""
    from spikeinterface.core.base import BaseExtractor

    foreign = set()
    stack = [provenance]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            name = value.get("class")
            if name is not None and not _is_extractor_class(name, BaseExtractor):
                foreign.add(str(name))
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return foreign


def _is_extractor_class(name: Any, base: type) -> bool:
    if not isinstance(name, str) or not name.startswith("spikeinterface."):
        return False  # never import a module the folder names outside SpikeInterface
    module, _, attribute = name.rpartition(".")
    try:
        candidate = getattr(importlib.import_module(module), attribute)
    except Exception:  # a missing optional dependency, a name that is not there: not an extractor we can use
        return False
    return isinstance(candidate, type) and issubclass(candidate, base)


def _existing_paths(provenance: dict, folder: Path) -> Iterator[Path]:
    """Every string in the provenance that names an existing file or folder (data the extractors will
    read)."""
    from spikeinterface.core.core_tools import extractor_dict_iterator

    for element in extractor_dict_iterator(provenance):
        if isinstance(element.value, str) and element.value:
            place = Path(element.value) if os.path.isabs(element.value) else folder / element.value
            if place.exists():
                yield place

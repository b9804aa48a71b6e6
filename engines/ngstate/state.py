"""A Neuroglancer viewer state kept exactly as Neuroglancer wrote it, with named accessors.

The state is the JSON object itself (a plain ``dict``, whose insertion order is the key order
of the text), so keys this module knows nothing about survive every edit, and dimension order
is never changed (sorting keys would reorder ``dimensions`` and so the meaning of ``position``).
An ``NgState`` is never changed in place: every operation returns a new one, so a state handed
to another thread or kept for undo stays what it was.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engines.ngstate.errors import LayerNotFound, NgStateError, StateParseError

__all__ = ["NgState", "Dimension", "LayerInfo"]


@dataclass(frozen=True)
class Dimension:
    """One named dimension of the global coordinate space: ``scale`` ``unit`` per coordinate unit."""

    name: str
    scale: float
    unit: str

    @property
    def is_channel(self) -> bool:
        """``c^`` (and local ``c'``) dimensions hold channels, not space."""
        return self.name.endswith(("^", "'"))


@dataclass(frozen=True)
class LayerInfo:
    """What a layer is, in a few fields: enough to list layers or pick one."""

    name: str
    type: str
    source: str | None
    visible: bool


def _source_url(source: Any) -> str | None:
    """The first data source URL of a layer, whatever form the source takes (str, dict, list)."""
    if isinstance(source, str):
        return source
    if isinstance(source, Mapping):
        url = source.get("url")
        return url if isinstance(url, str) else None
    if isinstance(source, list) and source:
        return _source_url(source[0])
    return None


class NgState:
    """A Neuroglancer state: the JSON object in its own key order, read through named properties.

    Build one with ``NgState(dict)`` (the dict is copied), ``NgState.from_json(text)`` or
    ``engines.ngstate.parse_url``. Equality compares the JSON text, so key order counts.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        if data is not None and not isinstance(data, Mapping):
            raise StateParseError(
                f"A Neuroglancer state is a JSON object ({{...}}); got {type(data).__name__}."
            )
        self._data: dict[str, Any] = copy.deepcopy(dict(data)) if data else {}

    @classmethod
    def _wrap(cls, data: dict[str, Any]) -> NgState:
        """Take ownership of ``data`` without copying (callers inside this package only)."""
        state = cls.__new__(cls)
        state._data = data
        return state

    @classmethod
    def from_json(cls, text: str | bytes) -> NgState:
        """Parse JSON text; raise ``StateParseError`` with the position of a syntax error."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StateParseError(
                f"The state is not valid JSON ({exc}). Paste a Neuroglancer URL or its JSON."
            ) from exc
        if not isinstance(data, dict):
            raise StateParseError("A Neuroglancer state is a JSON object ({...}); this JSON is not one.")
        return cls._wrap(data)

    # -- whole-state views -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the JSON object, safe to change."""
        return copy.deepcopy(self._data)

    def to_json(self, indent: int | None = None) -> str:
        """The JSON text in the state's own key order (compact, like Neuroglancer's URLs, unless
        ``indent``)."""
        separators = (",", ":") if indent is None else (",", ": ")
        return json.dumps(self._data, separators=separators, indent=indent)

    def clone(self) -> NgState:
        return NgState._wrap(self.to_dict())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NgState):
            return NotImplemented
        return self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __repr__(self) -> str:
        return f"NgState(layers={self.layer_names}, dimensions={self.dimension_names})"

    def get(self, key: str, default: Any = None) -> Any:
        """A copy of one top-level value (``default`` when absent)."""
        return copy.deepcopy(self._data.get(key, default))

    def keys(self) -> list[str]:
        return list(self._data)

    # -- coordinate space ----------------------------------------------------------------------

    @property
    def dimensions(self) -> list[Dimension]:
        """The global dimensions in the state's order (empty when the state has none yet)."""
        dims = self._data.get("dimensions") or {}
        result = []
        for name, value in dims.items():
            scale, unit = (value + [1, ""])[:2] if isinstance(value, list) else (1, "")
            result.append(Dimension(name, float(scale), str(unit)))
        return result

    @property
    def dimension_names(self) -> list[str]:
        return list((self._data.get("dimensions") or {}).keys())

    def dimension_index(self, name: str) -> int:
        """Index of a dimension by name; ``c`` also finds ``c^`` (a person rarely types the suffix)."""
        names = self.dimension_names
        if name in names:
            return names.index(name)
        bare = [n.rstrip("^'") for n in names]
        if name in bare:
            return bare.index(name)
        listed = ", ".join(names) or "(none)"
        raise NgStateError(f"This state has no dimension '{name}'. Its dimensions are: {listed}.")

    @property
    def position(self) -> dict[str, float] | None:
        """The global position by dimension name, or None when the state does not set one."""
        position = self._data.get("position")
        if not isinstance(position, list):
            return None
        return dict(zip(self.dimension_names, (float(v) for v in position)))

    @property
    def display_dimensions(self) -> list[str]:
        """The (up to three) dimensions the panels show: ``displayDimensions`` or the first spatial ones."""
        explicit = self._data.get("displayDimensions")
        if isinstance(explicit, list) and explicit:
            return [str(n) for n in explicit]
        return [d.name for d in self.dimensions if not d.is_channel][:3]

    @property
    def cross_section_scale(self) -> float | None:
        value = self._data.get("crossSectionScale")
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def projection_scale(self) -> float | None:
        value = self._data.get("projectionScale")
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def layout(self) -> Any:
        return copy.deepcopy(self._data.get("layout"))

    # -- layers -------------------------------------------------------------------------------

    def _layer_items(self) -> Iterator[tuple[str, dict[str, Any]]]:
        layers = self._data.get("layers")
        if isinstance(layers, list):
            for layer in layers:
                if isinstance(layer, dict):
                    yield str(layer.get("name", "")), layer
        elif isinstance(layers, dict):  # the older form: {name: layer}
            for name, layer in layers.items():
                if isinstance(layer, dict):
                    yield str(name), layer

    @property
    def layer_names(self) -> list[str]:
        return [name for name, _ in self._layer_items()]

    @property
    def layers(self) -> list[LayerInfo]:
        return [
            LayerInfo(
                name,
                str(layer.get("type", "")),
                _source_url(layer.get("source")),
                layer.get("visible", True) is not False,
            )
            for name, layer in self._layer_items()
        ]

    def layer(self, name: str) -> dict[str, Any]:
        """A copy of one layer's JSON; ``LayerNotFound`` names the layers there are."""
        return copy.deepcopy(self._find_layer(name))

    def layer_key(self, name: str) -> str:
        """The exact name of the layer ``name`` refers to (an exact match, else the one case-insensitive
        match)."""
        names = self.layer_names
        if name in names:
            return name
        matches = [n for n in names if n.lower() == name.lower()]
        if len(matches) == 1:
            return matches[0]
        listed = ", ".join(names) or "(no layers)"
        raise LayerNotFound(f"No layer named '{name}'. The layers are: {listed}.")

    def _find_layer(self, name: str) -> dict[str, Any]:
        key = self.layer_key(name)
        return next(layer for layer_name, layer in self._layer_items() if layer_name == key)

    def layer_source(self, name: str) -> str | None:
        """The first data source URL of a layer (``precomputed://...``), None for local annotations."""
        return _source_url(self._find_layer(name).get("source"))

    def layers_of_type(self, layer_type: str) -> list[str]:
        return [info.name for info in self.layers if info.type == layer_type]

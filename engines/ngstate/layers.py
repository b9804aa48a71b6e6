"""Layer edits: add (idempotent by name), show/hide, select segments, contrast (the ``invlerp`` control).

Layers may be a list (current Neuroglancer) or the older ``{name: layer}`` object; both are
edited in their own form, and keys this module does not know stay as they were.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any, Literal

from engines.ngstate.errors import NgStateError
from engines.ngstate.state import NgState

__all__ = [
    "LAYER_TYPES",
    "DEFAULT_IMAGE_SHADER",
    "add_layer",
    "remove_layer",
    "set_visibility",
    "select_segments",
    "set_lut_range",
    "lut_range",
    "invlerp_controls",
]

LAYER_TYPES = ("image", "segmentation", "annotation")

DEFAULT_IMAGE_SHADER = "#uicontrol invlerp normalized\nvoid main() {\n  emitGrayscale(normalized());\n}\n"
"""Neuroglancer's own default image shader, written out so its contrast control can be set."""

_INVLERP = re.compile(r"^\s*#uicontrol\s+invlerp\s+([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)
_UINT64_MAX = 2**64 - 1


def _edit(state: NgState) -> tuple[NgState, dict[str, Any]]:
    new = state.clone()
    return new, new._data


def invlerp_controls(shader: str | None) -> list[str]:
    """Names of the shader's ``#uicontrol invlerp`` controls (contrast ranges), in order."""
    return _INVLERP.findall(shader if shader is not None else DEFAULT_IMAGE_SHADER)


def add_layer(
    state: NgState,
    name: str,
    layer_type: Literal["image", "segmentation", "annotation"],
    source: str | None = None,
    visible: bool = True,
) -> NgState:
    """Add a layer; adding a name that exists with the same type updates its source (idempotent).

    Annotation layers default to ``local://annotations`` in the state's own coordinate space.
    Raises ``NgStateError`` when the name exists with another type.
    """
    name = (name or "").strip()
    if not name:
        raise NgStateError("A layer needs a name.")
    if layer_type not in LAYER_TYPES:
        raise NgStateError(f"Unknown layer type '{layer_type}'. Use one of: {', '.join(LAYER_TYPES)}.")
    if layer_type != "annotation" and not source:
        raise NgStateError(f"An {layer_type} layer needs a source, like precomputed://https://host/path.")
    if name.lower() in (n.lower() for n in state.layer_names):
        return _update_existing(state, state.layer_key(name), layer_type, source, visible)
    layer: dict[str, Any] = {"type": layer_type, "source": _new_source(state, layer_type, source)}
    if layer_type == "annotation":
        layer["annotations"] = []
    if not visible:
        layer["visible"] = False
    new, data = _edit(state)
    layers = data.get("layers")
    if isinstance(layers, dict):
        layers[name] = layer
    else:
        data["layers"] = (layers if isinstance(layers, list) else []) + [{**layer, "name": name}]
    return new


def _new_source(state: NgState, layer_type: str, source: str | None) -> Any:
    if layer_type != "annotation" or (source and source != "local://annotations"):
        return source
    dims = state.get("dimensions")
    if dims:
        return {"url": "local://annotations", "transform": {"outputDimensions": dims}}
    return "local://annotations"


def _update_existing(
    state: NgState, name: str, layer_type: str, source: str | None, visible: bool
) -> NgState:
    existing = state.layer(name)
    if existing.get("type") != layer_type:
        raise NgStateError(
            f"A layer named '{name}' already exists as a {existing.get('type')} layer. Choose another name."
        )
    new = set_visibility(state, name, visible)
    if source and state.layer_source(name) != source and layer_type != "annotation":
        new, _ = _edit(new)
        new._find_layer(name)["source"] = source
    return new


def remove_layer(state: NgState, name: str) -> NgState:
    """Drop a layer (``LayerNotFound`` if there is none of that name)."""
    exact = state.layer_key(name)
    new, data = _edit(state)
    layers = data["layers"]
    if isinstance(layers, dict):
        del layers[exact]
    else:
        data["layers"] = [layer for layer in layers if layer.get("name") != exact]
    return new


def set_visibility(state: NgState, name: str, visible: bool) -> NgState:
    """Show or hide a layer. Shown layers carry no ``visible`` key, as Neuroglancer writes them."""
    state._find_layer(name)
    new, _ = _edit(state)
    layer = new._find_layer(name)
    if visible:
        layer.pop("visible", None)
    else:
        layer["visible"] = False
    return new


def _segment_id(value: Any) -> str:
    text = str(value).strip()
    if not text.isdigit() or int(text) > _UINT64_MAX:
        raise NgStateError(f"'{value}' is not a segment id (a whole number from 0 to 2^64-1).")
    return str(int(text))


def select_segments(
    state: NgState,
    name: str,
    segment_ids: Iterable[int | str],
    mode: Literal["replace", "add", "remove"] = "replace",
) -> NgState:
    """Choose which segments a segmentation layer shows (ids as strings, as Neuroglancer stores them)."""
    layer = state._find_layer(name)
    if layer.get("type") not in ("segmentation", "segmentation_with_graph"):
        raise NgStateError(
            f"'{name}' is a {layer.get('type')} layer; segments belong to segmentation layers."
        )
    if mode not in ("replace", "add", "remove"):
        raise NgStateError("mode must be 'replace', 'add' or 'remove'.")
    ids = [_segment_id(v) for v in segment_ids]
    current = [str(s) for s in layer.get("segments", [])]
    if mode == "replace":
        chosen = list(dict.fromkeys(ids))
    elif mode == "add":
        chosen = list(dict.fromkeys(current + ids))
    else:
        dropped = set(ids)
        chosen = [s for s in current if s.lstrip("!") not in dropped]
    new, _ = _edit(state)
    new._find_layer(name)["segments"] = chosen
    return new


def set_lut_range(state: NgState, name: str, low: float, high: float, control: str | None = None) -> NgState:
    """Set an image layer's contrast: the ``range`` of its ``invlerp`` shader control.

    A layer without a shader gets Neuroglancer's default one written out (it has the
    ``normalized`` control); a custom shader without any ``invlerp`` control is left alone
    and refused with a message, since rewriting it would lose what it draws.
    """
    layer = state._find_layer(name)
    if layer.get("type") != "image":
        raise NgStateError(
            f"'{name}' is a {layer.get('type')} layer; contrast ranges belong to image layers."
        )
    low, high = float(low), float(high)
    if not (math.isfinite(low) and math.isfinite(high)) or low == high:
        raise NgStateError("A contrast range needs two different finite numbers (low, high).")
    shader = layer.get("shader")
    controls = invlerp_controls(shader)
    if not controls:
        raise NgStateError(
            f"The shader of '{name}' has no '#uicontrol invlerp' control, so it has no contrast range "
            "to set. Add one to the shader, or remove the shader to use the default."
        )
    chosen = control or controls[0]
    if chosen not in controls:
        raise NgStateError(
            f"The shader of '{name}' has no invlerp control '{chosen}'; it has: {', '.join(controls)}."
        )
    new, _ = _edit(state)
    target = new._find_layer(name)
    if shader is None:
        target["shader"] = DEFAULT_IMAGE_SHADER
    controls_json = target.setdefault("shaderControls", {})
    entry = controls_json.get(chosen)
    entry = dict(entry) if isinstance(entry, dict) else {}
    entry["range"] = [_plain_number(low), _plain_number(high)]
    controls_json[chosen] = entry
    return new


def _plain_number(value: float) -> float | int:
    return int(value) if value.is_integer() else value


def lut_range(state: NgState, name: str, control: str | None = None) -> tuple[float, float] | None:
    """The contrast range set on an image layer, or None when it uses the data type's default."""
    layer = state._find_layer(name)
    controls = invlerp_controls(layer.get("shader"))
    chosen = control or (controls[0] if controls else None)
    entry = (layer.get("shaderControls") or {}).get(chosen) if chosen else None
    if isinstance(entry, dict) and isinstance(entry.get("range"), list) and len(entry["range"]) == 2:
        return float(entry["range"][0]), float(entry["range"][1])
    return None

"""A short description of a state for a language model's context (and the same facts as a dict)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engines.ngstate.annotations import list_annotations
from engines.ngstate.layers import lut_range
from engines.ngstate.state import NgState

__all__ = ["StateSummary", "summarize_state"]

_MAX_SEGMENTS_LISTED = 8


@dataclass(frozen=True)
class StateSummary:
    """``text``: a few lines for a prompt; ``data``: the same facts, JSON-able."""

    text: str
    data: dict[str, Any] = field(default_factory=dict)


def _number(value: float) -> str:
    return f"{value:.6g}"


def _layer_facts(state: NgState, name: str) -> dict[str, Any]:
    layer = state.layer(name)
    facts: dict[str, Any] = {
        "name": name,
        "type": layer.get("type", ""),
        "visible": layer.get("visible", True) is not False,
        "source": state.layer_source(name),
    }
    if facts["type"] == "image":
        facts["lut"] = lut_range(state, name)
    if facts["type"] in ("segmentation", "segmentation_with_graph"):
        facts["segments"] = [str(s) for s in layer.get("segments", [])]
    if facts["type"] == "annotation":
        facts["annotations"] = len(list_annotations(state, name))
    return facts


def _layer_line(facts: dict[str, Any]) -> str:
    parts = [facts["type"] or "layer", "visible" if facts["visible"] else "hidden"]
    if facts.get("lut"):
        parts.append(f"contrast {_number(facts['lut'][0])}-{_number(facts['lut'][1])}")
    if "segments" in facts:
        segments = facts["segments"]
        shown = ", ".join(segments[:_MAX_SEGMENTS_LISTED]) + (
            " ..." if len(segments) > _MAX_SEGMENTS_LISTED else ""
        )
        parts.append(f"{len(segments)} selected segments" + (f" ({shown})" if segments else ""))
    if "annotations" in facts:
        parts.append(f"{facts['annotations']} annotations")
    if facts.get("source"):
        parts.append(f"source {facts['source']}")
    return f"- {facts['name']}: " + ", ".join(parts)


def summarize_state(state: NgState) -> StateSummary:
    """Dimensions, position, zoom, layout and one line per layer. Costs nothing beyond the state."""
    dims = state.dimensions
    position = state.position
    data: dict[str, Any] = {
        "dimensions": [{"name": d.name, "scale": d.scale, "unit": d.unit} for d in dims],
        "position": position,
        "cross_section_scale": state.cross_section_scale,
        "projection_scale": state.projection_scale,
        "layout": state.layout,
        "layers": [_layer_facts(state, name) for name in state.layer_names],
    }
    lines = []
    if dims:
        lines.append(
            "Dimensions: "
            + ", ".join(f"{d.name} ({_number(d.scale)} {d.unit})".replace(" )", ")") for d in dims)
        )
    if position:
        lines.append("Position: " + ", ".join(f"{name}={_number(v)}" for name, v in position.items()))
    view = []
    if state.cross_section_scale is not None:
        view.append(f"cross-section scale {_number(state.cross_section_scale)}")
    if state.projection_scale is not None:
        view.append(f"3-D scale {_number(state.projection_scale)}")
    if isinstance(data["layout"], str):
        view.append(f"layout {data['layout']}")
    if view:
        lines.append("View: " + ", ".join(view))
    lines.append(f"Layers ({len(data['layers'])}):" if data["layers"] else "Layers: none")
    lines.extend(_layer_line(facts) for facts in data["layers"])
    return StateSummary("\n".join(lines), data)

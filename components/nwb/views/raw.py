"""Raw HDF5 view for any object: attributes, shape, dtype, chunking, small values. Index only."""

from __future__ import annotations

import json

import pandas as pd
import panel as pn

from components.nwb.views.base import NwbView
from components.safe_text import escape_text
from engines.nwb.index import NwbIndex

__all__ = ["RawHdf5View"]


def _short(value: object, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + " …"


class RawHdf5View(NwbView):
    id = "hdf5"
    title = "HDF5"

    @classmethod
    def applies(cls, index: NwbIndex, path: str) -> bool:
        return path in index

    def __panel__(self) -> pn.viewable.Viewable:
        info = self.nwbfile.node(self.path)
        facts: dict[str, object] = {
            "path": info.path,
            "kind": info.kind,
            "neurodata type": info.neurodata_type or "—",
        }
        if info.link_target:
            facts["link to"] = info.link_target
        if info.kind == "dataset":
            facts.update(
                {
                    "shape": "×".join(map(str, info.shape or [])) or "scalar",
                    "dtype": info.dtype,
                    "chunks": info.chunks or "contiguous",
                    "compression": info.compression or "none",
                    "max shape": info.maxshape,
                }
            )
        if info.kind == "group":
            facts["children"] = len(info.children)
        if info.error:
            facts["problem"] = info.error
        facts_table = pd.DataFrame({"property": list(facts), "value": [_short(v) for v in facts.values()]})
        attrs = pd.DataFrame(
            {"attribute": list(info.attrs), "value": [_short(v) for v in info.attrs.values()]}
        )
        parts: list = [
            pn.pane.Markdown(f"### {escape_text(info.name)}"),
            pn.widgets.Tabulator(facts_table, show_index=False, disabled=True, sizing_mode="stretch_width"),
            pn.pane.Markdown("**Attributes**" if len(attrs) else "*No attributes.*"),
        ]
        if len(attrs):
            parts.append(
                pn.widgets.Tabulator(attrs, show_index=False, disabled=True, sizing_mode="stretch_width")
            )
        if info.has_value:
            parts += [
                pn.pane.Markdown("**Value**"),
                pn.pane.Str(_short(info.value, 4000), sizing_mode="stretch_width"),
            ]
        return pn.Column(*parts, sizing_mode="stretch_width")

"""The file's object tree as an expandable, searchable table (Panel has no tree widget).

Rows are computed from the index alone; clicking a group toggles it, clicking any row
selects it. Search shows every match with its ancestors. A scalar dataset shows its value
beside its name (``rate: 30000.0``), as the index kept it: no read, text from the file escaped.
"""

from __future__ import annotations

import html

import pandas as pd
import panel as pn
import param

from engines.nwb.index import NwbIndex, ObjectInfo, scalar_text

__all__ = ["ObjectTree"]


_VALUE_STYLE = (
    "color:#5a6b7b;display:inline-block;max-width:7em;overflow:hidden;text-overflow:ellipsis;"
    "white-space:nowrap;vertical-align:bottom"
)
"""A scalar's value beside its name stays short, so the type column keeps its room."""


def _label(info: ObjectInfo, depth: int, expanded: bool) -> str:
    arrow = ("▾" if expanded else "▸") if info.children else "&nbsp;"
    kind = "nd-link" if info.kind.endswith("link") else ""
    value = scalar_text(info)
    shown = ""
    if value is not None:
        text = html.escape(value)  # quotes too: the full text is also the value's tooltip
        shown = f"<span class='nd-value' style='{_VALUE_STYLE}' title='{text}'>: {text}</span>"
    return (
        f"<span style='padding-left:{depth * 1.1:.1f}em' class='nd-node {kind}'>"
        f"<span class='nd-arrow'>{arrow}</span> <span class='nd-name'>{html.escape(info.name)}</span>"
        f"{shown}</span>"
    )


def _type_text(info: ObjectInfo) -> str:
    if info.neurodata_type:
        return info.neurodata_type
    if info.kind.endswith("link"):
        return f"→ {info.link_target}"
    return info.kind


def _shape_text(info: ObjectInfo) -> str:
    if info.shape is None:
        return f"{len(info.children)} items" if info.kind == "group" else ""
    return "×".join(str(s) for s in info.shape) or "scalar"


class ObjectTree(pn.viewable.Viewer):
    """Click to select (``selected``) and expand; type in the box to filter by name or type."""

    selected = param.String(default="", doc="Path of the selected object.")
    search = param.String(default="", doc="Filter text (name, path or neurodata type).")

    def __init__(self, index: NwbIndex, **params) -> None:
        super().__init__(**params)
        self._index = index
        self._expanded: set[str] = {"/"}
        self._rows = pd.DataFrame()
        self._search_input = pn.widgets.TextInput(
            placeholder="Search objects or types…",
            sizing_mode="stretch_width",
            css_classes=["nd-tree-search"],
        )
        self._search_input.link(self, value="search")
        self._table = pn.widgets.Tabulator(
            pd.DataFrame(columns=["name", "type", "shape", "path"]),
            show_index=False,
            disabled=True,
            selectable=False,
            hidden_columns=["path"],
            sizing_mode="stretch_both",
            min_height=300,
            formatters={"name": {"type": "html"}},
            header_align="left",
            layout="fit_data_stretch",
            configuration={"columnDefaults": {"headerSort": False}},
        )
        self._table.on_click(self._on_click)
        self._expand_to(self.selected)
        self._refresh()

    def _expand_to(self, path: str) -> None:
        info = self._index.objects.get(path)
        while info is not None and info.parent is not None:
            self._expanded.add(info.parent)
            info = self._index.objects.get(info.parent)

    def _visible(self) -> list[tuple[ObjectInfo, int]]:
        if self.search.strip():
            needle = self.search.strip().lower()
            hits = {
                p
                for p, o in self._index.objects.items()
                if needle in p.lower() or needle in (o.neurodata_type or "").lower()
            }
            keep = set(hits)
            for path in hits:
                info = self._index.objects[path]
                while info.parent is not None:
                    keep.add(info.parent)
                    info = self._index.objects[info.parent]
            return [
                (o, o.path.count("/") - 1) for o in self._index.walk("/") if o.path in keep and o.path != "/"
            ]
        rows: list[tuple[ObjectInfo, int]] = []
        stack = list(reversed(self._index.children("/")))
        while stack:
            info = stack.pop()
            rows.append((info, info.path.count("/") - 1))
            if info.path in self._expanded:
                stack.extend(reversed(self._index.children(info.path)))
        return rows

    @param.depends("search", watch=True)
    def _refresh(self) -> None:
        visible = self._visible()
        searching = bool(self.search.strip())
        self._rows = pd.DataFrame(
            {
                "name": [_label(o, d, searching or o.path in self._expanded) for o, d in visible],
                "type": [_type_text(o) for o, _ in visible],
                "shape": [_shape_text(o) for o, _ in visible],
                "path": [o.path for o, _ in visible],
            }
        )
        self._table.value = self._rows
        self._mark_selected()

    @param.depends("selected", watch=True)
    def _mark_selected(self) -> None:
        paths = list(self._rows["path"]) if len(self._rows) else []
        self._table.selection = [paths.index(self.selected)] if self.selected in paths else []

    def _on_click(self, event) -> None:
        path = self._rows.iloc[event.row]["path"]
        info = self._index.objects[path]
        if info.children and not self.search.strip():
            self._expanded.symmetric_difference_update({path})
            self._refresh()
        self.selected = path

    def reveal(self, path: str) -> None:
        """Expand the ancestors of ``path`` so the selection is visible."""
        self._expand_to(path)
        self._refresh()

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self._search_input, self._table, sizing_mode="stretch_both")

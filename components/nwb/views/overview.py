"""File overview: session, subject, devices and contents, from the index (no data reads)."""

from __future__ import annotations

import html

import panel as pn

from components.nwb.views.base import NwbView
from engines.nwb.extract import file_overview
from engines.nwb.index import NwbIndex

__all__ = ["FileOverviewView"]


def _section(title: str, values: dict) -> str:
    if not values:
        return ""
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in values.items()
    )
    return f"<h3>{html.escape(title)}</h3><table class='nd-kv'>{rows}</table>"


class FileOverviewView(NwbView):
    id = "overview"
    title = "Overview"

    @classmethod
    def applies(cls, index: NwbIndex, path: str) -> bool:
        return index.get(path).path == "/"

    def __panel__(self) -> pn.viewable.Viewable:
        sections = file_overview(self.nwbfile)
        body = "".join(_section(title, values) for title, values in sections.items())
        return pn.pane.HTML(
            body,
            sizing_mode="stretch_width",
            stylesheets=[".nd-kv th{text-align:left;padding-right:1em;color:#345;vertical-align:top}"],
        )

"""A table that reads one page of rows at a time from the file (true server-side paging)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import panel as pn
import param

from components.safe_text import safe_titles

__all__ = ["PagedTable", "Page"]

Page = tuple[pd.DataFrame, int]
"""(rows of the page, total number of rows)."""


class PagedTable(pn.viewable.Viewer):
    """Prev/next paging over ``fetch(offset, limit) -> (frame, total)``; only the shown page is read."""

    offset = param.Integer(default=0, bounds=(0, None))
    page_size = param.Integer(default=50, bounds=(1, 1000))

    def __init__(self, fetch: Callable[[int, int], Page], **params) -> None:
        super().__init__(**params)
        self._fetch = fetch
        self._total = 0
        self._table = pn.widgets.Tabulator(
            pd.DataFrame(), show_index=False, disabled=True, sizing_mode="stretch_width", max_height=600
        )
        self._prev = pn.widgets.Button(label="◀ Previous", width=110)
        self._next = pn.widgets.Button(label="Next ▶", width=110)
        self._status = pn.pane.Markdown("", margin=(5, 10))
        self._prev.on_click(self._previous_page)
        self._next.on_click(self._next_page)
        self._load()

    def _previous_page(self, _event: param.parameterized.Event) -> None:
        self.offset = max(0, self.offset - self.page_size)

    def _next_page(self, _event: param.parameterized.Event) -> None:
        self.offset = self.offset + self.page_size

    @param.depends("offset", "page_size", watch=True)
    def _load(self) -> None:
        self._table.loading = True
        try:
            frame, self._total = self._fetch(self.offset, self.page_size)
        finally:
            self._table.loading = False
        self._table.param.update(value=frame, titles=safe_titles(frame))  # column names come from files
        last = min(self.offset + len(frame), self._total)
        self._status.object = f"Rows {self.offset + 1 if self._total else 0}–{last} of {self._total:,}"
        self._prev.disabled = self.offset == 0
        self._next.disabled = last >= self._total

    @property
    def table(self) -> pn.widgets.Tabulator:
        return self._table

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self._prev, self._next, self._status), self._table, sizing_mode="stretch_width"
        )

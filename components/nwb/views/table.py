"""Any DynamicTable (electrodes, units, trials, ROIs, ...) as a paged table read page by page."""

from __future__ import annotations

import panel as pn

from components.nwb.views.base import NwbView
from components.paged_table import PagedTable
from engines.nwb.extract import read_table_page

__all__ = ["DynamicTableView"]


class DynamicTableView(NwbView):
    id = "table"
    title = "Table"
    neurodata_types = ("DynamicTable",)

    def __panel__(self) -> pn.viewable.Viewable:
        def fetch(offset: int, limit: int):
            page = read_table_page(self.nwbfile, self.path, offset=offset, limit=limit)
            return page.frame, page.total_rows

        return pn.Column(PagedTable(fetch), sizing_mode="stretch_width")  # a Viewable, as __panel__ promises

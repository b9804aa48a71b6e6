"""Browse the DANDI archive from the NWB page: search dandisets, list a version's files with sizes, open one.

Every request goes through the server's address rules with its timeout (``engines.dandi``) and
runs off the session's thread; offline or unreachable, the panel says so and the rest of the
page is untouched. Opening a file hands its ``dandi://`` address to the browser.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import panel as pn

from components.background import BackgroundWork
from components.safe_text import escape_text
from engines.dandi import Asset, DandiArchive, Page
from engines.io.policy import SourcePolicy

__all__ = ["DandiBrowser"]

PAGE_SIZE = 25


def _size(nbytes: int) -> str:
    amount = float(nbytes)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if amount < 1000 or unit == "TB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    return ""


class DandiBrowser(pn.viewable.Viewer):
    """Search, then pick a dandiset, then open one of its NWB (or EDF) files with ``on_open(address)``."""

    def __init__(self, policy: SourcePolicy, on_open: Callable[[str], None], work: BackgroundWork) -> None:
        super().__init__()
        self._archive = DandiArchive(policy)
        self._on_open = on_open
        self._work = work
        self._dandiset = ""
        self._assets: list[Asset] = []
        self._page = 1
        self._query = pn.widgets.TextInput(
            placeholder="Search dandisets (e.g. hippocampus, ecephys)", width=360
        )
        search = pn.widgets.Button(name="Search DANDI", button_type="primary", width=130)
        search.on_click(lambda _e: self.search())
        self._query.param.watch(lambda _e: self.search(), "enter_pressed")
        self._message = pn.pane.Markdown("", css_classes=["nd-muted"], margin=(0, 8))
        self._dandisets = pn.widgets.Tabulator(
            pd.DataFrame(columns=["dandiset", "name", "files", "size", "version"]),
            show_index=False,
            disabled=True,
            height=220,
            sizing_mode="stretch_width",
            selectable=1,
            css_classes=["nd-dandisets"],
        )
        self._dandisets.on_click(self._on_dandiset)
        self._files = pn.widgets.Tabulator(
            pd.DataFrame(columns=["file", "size", "kind"]),
            show_index=False,
            disabled=True,
            height=260,
            sizing_mode="stretch_width",
            selectable=1,
            css_classes=["nd-dandi-files"],
        )
        self._files.on_click(self._on_file)
        self._more = pn.widgets.Button(name="More files", width=110, visible=False)
        self._more.on_click(lambda _e: self._list_files(self._page + 1))
        self._layout = pn.Column(
            pn.Row(self._query, search),
            self._message,
            self._dandisets,
            self._files,
            self._more,
            sizing_mode="stretch_width",
        )

    def _failed(self, exc: BaseException) -> None:
        self._message.object = f"**DANDI:** {escape_text(exc)}"

    def search(self) -> None:
        query = (self._query.value or "").strip()
        self._message.object = "Searching…"
        self._work.run(
            "dandi-search",
            lambda: self._archive.search(query, page_size=PAGE_SIZE),
            apply=self._show_dandisets,
            failed=self._failed,
        )

    def _show_dandisets(self, page: Page) -> None:
        rows = [
            {
                "dandiset": d.identifier,
                "name": (d.latest.name if d.latest else ""),
                "files": d.latest.asset_count if d.latest else 0,
                "size": _size(d.latest.size) if d.latest else "",
                "version": d.latest.version if d.latest else "",
            }
            for d in page.items
        ]
        self._dandisets.value = pd.DataFrame(rows)
        self._message.object = f"{page.count:,} dandisets found; click one to list its files."

    def _on_dandiset(self, event) -> None:
        row = self._dandisets.value.iloc[event.row]
        self._dandiset, self._version = str(row["dandiset"]), str(row["version"] or "draft")
        self._list_files(1)

    def _list_files(self, page: int) -> None:
        self._message.object = f"Listing the files of {escape_text(self._dandiset)}…"
        identifier, version = self._dandiset, self._version
        self._work.run(
            "dandi-files",
            lambda: self._archive.assets(identifier, version, page=page, page_size=PAGE_SIZE),
            apply=lambda listing: self._show_files(listing, page),
            failed=self._failed,
        )

    def _show_files(self, listing: Page, page: int) -> None:
        self._page = page
        self._assets = (self._assets if page > 1 else []) + list(listing.items)
        self._files.value = pd.DataFrame(
            [{"file": a.path, "size": _size(a.size), "kind": a.kind} for a in self._assets]
        )
        self._more.visible = listing.has_next
        self._message.object = escape_text(
            f"{self._dandiset} ({self._version}): {listing.count:,} files; click one to open it."
        )

    def _on_file(self, event) -> None:
        asset = self._assets[event.row]
        if asset.kind not in ("nwb", "edf", "bdf"):
            self._message.object = escape_text(f"{asset.path} is not an NWB or EDF file.")
            return
        self._on_open(asset.dandi_url)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

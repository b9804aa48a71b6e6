"""The NWB browser: a source box, the object tree, and the views that fit the selected object.

Every read that can take time shows a loading indicator; every failure becomes a message in
the page (never a traceback), and the rest of the browser stays usable.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

import panel as pn
import param

from components.nwb_views import NwbView, view_by_id, views_for
from components.object_tree import ObjectTree
from engines.errors import NeurodeckError
from engines.nwb.nwbfile import NwbFile
from engines.nwb.product_jobs import ProductJobs

__all__ = ["NwbBrowser"]

log = logging.getLogger(__name__)


def error_alert(exc: BaseException) -> pn.pane.Alert:
    """A message a person can act on; unexpected errors are logged with their traceback, shown briefly."""
    if isinstance(exc, NeurodeckError):
        text = str(exc)
    else:
        log.exception("Unexpected error in the NWB browser", exc_info=exc)
        text = f"Something went wrong ({exc.__class__.__name__}: {str(exc)[:200]}). The rest of the app still works."
    return pn.pane.Alert(text, alert_type="danger", sizing_mode="stretch_width", css_classes=["nd-error"])


class NwbBrowser(pn.viewable.Viewer):
    """Browse one NWB file at a time. ``source``, ``object_path`` and ``view`` are the deep-link state."""

    source = param.String(default="", doc="Path or URL typed by the user ('' = the default file).")
    object_path = param.String(default="", doc="Selected object.")
    view = param.String(default="", doc="Id of the selected view.")

    def __init__(self, open_file: Callable[[str], NwbFile], default_source: str,
                 products: ProductJobs | None = None, **params) -> None:
        super().__init__(**params)
        self._open_file = open_file
        self._products = products
        self._default_source = default_source
        self._file: NwbFile | None = None
        self._tree: ObjectTree | None = None
        self._lock = threading.RLock()  # Panel may run this session's callbacks on several threads
        self._setting_tabs = False
        self._adopting = False
        self._source_input = pn.widgets.TextInput(
            label="NWB file", placeholder="Local path, https:// (DANDI asset URL), s3://, gs:// or dandi://…",
            sizing_mode="stretch_width", value=self.source)
        self._open_button = pn.widgets.Button(label="Open", button_type="primary", width=90, align="end")
        self._open_button.on_click(lambda _: self._request_open())
        # A committed value (Enter, or leaving the box) opens the file. The button asks the same; Panel may run the
        # click before the box's new value arrives (separate threads), and then the value change opens it.
        self._source_input.param.watch(lambda _: self._request_open(), "value")
        self._message = pn.Column(sizing_mode="stretch_width")  # problems opening the file
        self._object_message = pn.Column(sizing_mode="stretch_width")  # problems with the selected object
        self._title = pn.pane.Markdown("", margin=(0, 10))
        self._tree_holder = pn.Column(sizing_mode="stretch_both", min_width=320, max_width=480)
        self._view_tabs = pn.widgets.RadioButtonGroup(options=[], button_type="light", css_classes=["nd-view-tabs"])
        self._view_tabs.param.watch(self._on_view_tab, "value")
        self._view_area = pn.Column(sizing_mode="stretch_both", min_height=500)
        pn.state.on_session_destroyed(lambda _ctx: self.close())
        self._tree_holder.loading = True
        # Opened once the page is on screen, so a slow server shows a spinner instead of a blank page.
        pn.state.onload(lambda: self._open(self.source), threaded=True)

    # --- opening files -------------------------------------------------------------------------
    def _request_open(self) -> None:
        """Open what the user typed; the session state changes only once the file has opened.

        On failure the message shows and the state (and so the address bar) still names the
        file on screen, with the typed text left in the box to correct.
        """
        text = self._source_input.value.strip()
        if text == self.source and self._file is not None:
            return
        with self._lock:
            new_file = self._load(text)
            if new_file is None:
                return
            self._adopt(new_file, selected="/")
            self._adopting = True
            try:
                self.param.update(source=text, object_path="", view="")
            finally:
                self._adopting = False
            self._show_locked()

    @param.depends("source", watch=True)
    def _on_source(self) -> None:
        """The source changed from outside (back/forward): open it."""
        if self._adopting:
            return
        self._source_input.value = self.source
        self._open(self.source)

    def _open(self, text: str) -> None:
        with self._lock:
            new_file = self._load(text)
            if new_file is not None:
                self._adopt(new_file, selected=self.object_path or "/")
                self._show_locked()

    def _load(self, text: str) -> NwbFile | None:
        """The opened file, or None with the reason shown in the page (the file on screen stays usable)."""
        self._message[:] = []
        self._tree_holder.loading = True
        try:
            return self._open_file(text or self._default_source)
        except Exception as exc:
            self._message[:] = [error_alert(exc)]
            return None
        finally:
            self._tree_holder.loading = False

    def _adopt(self, new_file: NwbFile, selected: str) -> None:
        self.close()
        self._file = new_file
        self._title.object = f"**{new_file.label}** · NWB {new_file.index.nwb_version or '?'} · {len(new_file.index.objects):,} objects"
        self._tree = ObjectTree(new_file.index, selected=selected)
        self._tree.param.watch(self._on_tree_select, "selected")
        self._tree_holder[:] = [self._title, self._tree]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    # --- selection and views ---------------------------------------------------------------------
    def _on_tree_select(self, event) -> None:
        """One navigation, one history entry: the object and its best view change together."""
        if event.new != self.object_path and self._file is not None and event.new in self._file.index:
            self.param.update(object_path=event.new, view=views_for(self._file.index, event.new)[0].id)

    def _on_view_tab(self, event) -> None:
        if self._setting_tabs:
            return
        view = self._view_ids.get(event.new, "")
        if view and view != self.view:
            self.view = view

    @param.depends("object_path", "view", watch=True)
    def _show(self) -> None:
        if self._adopting:  # _request_open shows the new file once its state is set
            return
        with self._lock:
            self._show_locked()

    def _show_locked(self) -> None:
        if self._file is None:
            return
        path = self.object_path or "/"
        if self._tree is not None:
            if path in self._file.index:
                self._tree.reveal(path)
            self._tree.selected = path
        if path not in self._file.index:
            self._object_message[:] = [error_alert(NeurodeckError(
                f"This file has no object at '{path}'. Pick an object in the tree."))]
            self._view_area[:] = []
            self._view_tabs.options = []
            return
        self._object_message[:] = []
        candidates = views_for(self._file.index, path)
        chosen = view_by_id(self.view) if self.view else None
        if chosen not in candidates:
            chosen = candidates[0]
        self._view_ids = {view.title: view.id for view in candidates}
        self._setting_tabs = True
        try:
            self._view_tabs.param.update(options=list(self._view_ids), value=chosen.title)
        finally:
            self._setting_tabs = False
        self._render(chosen, path)

    def _render(self, view_cls: type[NwbView], path: str) -> None:
        """Runs under the session lock, so a newer selection always renders after this one."""
        self._view_area.loading = True
        try:
            content = pn.panel(view_cls(self._file, path, self._products).__panel__())
        except Exception as exc:
            content = error_alert(exc)
        finally:
            self._view_area.loading = False
        self._view_area[:] = [content]

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self._source_input, self._open_button, sizing_mode="stretch_width"),
            self._message,
            pn.Row(self._tree_holder, pn.Column(self._object_message, self._view_tabs, self._view_area,
                                                       sizing_mode="stretch_both"),
                   sizing_mode="stretch_both"),
            sizing_mode="stretch_both",
        )

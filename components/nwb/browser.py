"""The NWB browser: a source box, the object tree, and the views that fit the selected object.

Opening a file and building a view run on the session's own ``BackgroundWork`` pool, never
on Panel's callback threads (shared by every user) and never under the browser's lock, so a
server that accepts connections and never answers stalls only this page's spinner. Every
failure becomes a message in the page (never a traceback); the file on screen stays usable.

The open file's ``NwbFileController`` (selected object and view, time window, channels,
units) is the state the page mirrors into the address bar; ``navigate`` applies a link.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import panel as pn
import param

from components.background import BackgroundWork, on_session_thread
from components.nwb.controller import NwbFileController
from components.nwb.object_tree import ObjectTree
from components.nwb.views import NwbView, view_by_id, views_for
from components.safe_text import escape_text, text_alert
from engines.errors import NeurodeckError
from engines.jobs.service import JobService
from engines.nwb.nwbfile import NwbFile

__all__ = ["NwbBrowser", "error_alert"]

log = logging.getLogger(__name__)


def error_alert(exc: BaseException | str) -> pn.pane.Alert:
    """A message a person can act on; unexpected errors are logged with their traceback, shown briefly."""
    if isinstance(exc, str):
        text = exc
    elif isinstance(exc, NeurodeckError):
        text = str(exc)
    else:
        log.error("Unexpected error in the NWB browser", exc_info=exc)
        text = (
            f"Something went wrong ({exc.__class__.__name__}: {str(exc)[:200]}). "
            "The rest of the app still works."
        )
    return text_alert(text, alert_type="danger", sizing_mode="stretch_width", css_classes=["nd-error"])


def _opening_alert(source: str) -> pn.pane.Alert:
    """What the page says while a file opens (the tree spins beside it): which file, and what happens."""
    return text_alert(
        f"Opening {source} … reading the file's structure. A server that does not answer is given up "
        "on after its deadline, with the reason.",
        alert_type="info",
        sizing_mode="stretch_width",
        css_classes=["nd-opening"],
    )


class NwbBrowser(pn.viewable.Viewer):
    """Browse one NWB file at a time. ``source`` and ``controller`` describe what is on screen."""

    source = param.String(default="", doc="Path or URL of the file on screen ('' = the default file).")
    controller = param.ClassSelector(class_=NwbFileController, doc="State shared by the open file's views.")

    def __init__(
        self,
        open_file: Callable[[str], NwbFile],
        default_source: str,
        jobs: JobService | None = None,
        source: str = "",
        selection: dict[str, Any] | None = None,
        notices: list[str] | None = None,
        open_elsewhere: Callable[[str], bool] | None = None,
    ) -> None:
        super().__init__(source=source, controller=NwbFileController())
        self._open_file = open_file
        self._open_elsewhere = (
            open_elsewhere  # another format (EDF): the page shows it instead; True = handled
        )
        self._jobs = jobs
        self._default_source = default_source
        self._file: NwbFile | None = None
        self._tree: ObjectTree | None = None
        self._view: NwbView | None = None
        self._view_ids: dict[str, str] = {}
        self._lock = threading.RLock()  # guards the browser's own fields; never held while reading
        self._controller_watcher: param.parameterized.Watcher | None = None
        self._opens_requested = 0
        self._opens_adopted = 0
        self._opens_settled = 0  # the newest request that has opened or failed
        self._setting_tabs = False
        self._work = BackgroundWork(name="nwb")
        self._work.on_close(self.close)
        self._source_input = pn.widgets.TextInput(
            label="NWB file",
            placeholder="Local path, https:// (DANDI asset URL), s3://, gs:// or dandi://…",
            sizing_mode="stretch_width",
            value=source,
        )
        self._open_button = pn.widgets.Button(label="Open", button_type="primary", width=90, align="end")
        self._open_button.on_click(lambda _: self._request_open())
        # A committed value (Enter, or leaving the box) opens the file. The button asks the same; Panel may
        # run the
        # click before the box's new value arrives (separate threads), and then the value change opens it.
        self._source_input.param.watch(lambda _: self._request_open(), "value")
        self._notices = pn.Column(sizing_mode="stretch_width")  # problems with the address
        self._message = pn.Column(sizing_mode="stretch_width")  # problems opening the file
        self._object_message = pn.Column(
            sizing_mode="stretch_width"
        )  # problems with the selected object or view
        self._title = pn.pane.Markdown("", margin=(0, 10))
        self._tree_holder = pn.Column(sizing_mode="stretch_both", min_width=320, max_width=480)
        self._view_tabs = pn.widgets.RadioButtonGroup(
            options=[], button_type="light", css_classes=["nd-view-tabs"]
        )
        self._view_tabs.param.watch(self._on_view_tab, "value")
        self._view_area = pn.Column(sizing_mode="stretch_both", min_height=500)
        self.show_notices(notices or [])
        self._tree_holder.loading = True
        first = dict(selection or {})
        # Opened once the page is on screen, so a slow server shows a spinner instead of a blank page.
        pn.state.onload(on_session_thread(lambda: self.navigate(source, **first)))

    # --- navigation --------------------------------------------------------------------------------
    @property
    def shared(self) -> NwbFileController:
        """The controller on screen. The ``controller`` parameter has no default, so param types it as
        optional, but ``__init__`` sets one and every replacement is a controller."""
        controller = self.controller
        if controller is None:
            raise RuntimeError("NwbBrowser.controller was set to None")
        return controller

    @property
    def current_file(self) -> NwbFile | None:
        """The file on screen (None while the first one opens)."""
        return self._file

    @property
    def opening(self) -> bool:
        """A file is being opened: the newest request has neither opened nor failed yet."""
        return self._opens_settled < self._opens_requested

    def navigate(self, source: str, **selection: Any) -> None:
        """Show ``source`` with ``selection`` (controller values); opens the file first when it is not on
        screen."""
        if self._open_elsewhere is not None and self._open_elsewhere(source):
            return
        with self._lock:
            if self._file is not None and source == self.source:
                self._apply_selection(self.shared, selection)
                return
        self._open(source, selection)

    def show_notices(self, notices: list[str]) -> None:
        self._notices[:] = [
            text_alert(text, alert_type="warning", sizing_mode="stretch_width", css_classes=["nd-notice"])
            for text in notices
        ]

    def _request_open(self) -> None:
        """Open what the user typed; the state (and so the address bar) changes only once the file has opened.

        On failure the message shows and the state still names the file on screen, with the
        typed text left in the box to correct.
        """
        text = (self._source_input.value or "").strip()
        if text == self.source and self._file is not None:
            return
        if self._open_elsewhere is not None and self._open_elsewhere(text):
            return
        self._open(text, {})

    def _open(self, text: str, selection: dict[str, Any]) -> None:
        """Every open runs to its end (each under its own key): a newer request that fails must not cancel an
        older one that works, so a mistyped address right after the page loads still leaves a file on
        screen."""
        with self._lock:
            self._opens_requested += 1
            ticket = self._opens_requested
        self._message[:] = [_opening_alert(text or self._default_source)]
        self._tree_holder.loading = True
        self._work.run(
            f"open-{ticket}",
            lambda: self._open_file(text or self._default_source),
            apply=lambda nwb: self._adopt_if_newest(ticket, nwb, text, selection),
            failed=lambda exc: self._open_failed(ticket, exc, text, selection),
            discard=lambda nwb: nwb.close(),
        )

    def _adopt_if_newest(self, ticket: int, nwb: NwbFile, text: str, selection: dict[str, Any]) -> None:
        with self._lock:
            if ticket < self._opens_adopted:  # a newer file is already on screen
                nwb.close()
                return
            self._opens_adopted = self._opens_settled = ticket
        if ticket == self._opens_requested:  # no newer open is in progress: its message goes
            self._message[:] = []
        self._adopt(nwb, text, selection)

    def _open_failed(self, ticket: int, exc: BaseException, text: str, selection: dict[str, Any]) -> None:
        """The newest open failed: its reason (the engine bounds every request by the policy's deadline, so
        a silent or dripping server ends here too) and a button that tries the same address again."""
        if ticket != self._opens_requested:
            return  # an older request: the newer one decides what the page says
        self._opens_settled = ticket
        self._tree_holder.loading = False
        retry = pn.widgets.Button(name="Retry", button_type="primary", css_classes=["nd-retry"], width=90)
        retry.on_click(lambda _: self._open(text, selection))
        self._message[:] = [error_alert(exc), retry]

    def _adopt(self, nwb: NwbFile, text: str, selection: dict[str, Any]) -> None:
        """On the session's thread: the opened file replaces the one on screen, with a controller of its
        own."""
        with self._lock:
            self.close()
            self._file = nwb
            self._title.object = (
                f"**{escape_text(nwb.label)}** · NWB {escape_text(nwb.index.nwb_version or '?')} · "
                f"{len(nwb.index.objects):,} objects"
            )
            controller = NwbFileController()
            self._apply_selection(controller, selection)
            self._tree = ObjectTree(nwb.index, selected=controller.object_path or "/")
            self._tree.param.watch(self._on_tree_select, "selected")
            self._tree_holder[:] = [self._title, self._tree]
            self._tree_holder.loading = self._opens_adopted < self._opens_requested
            if self._source_input.value != text:
                self._source_input.value = text
            if self._controller_watcher is not None:
                self.shared.param.unwatch(self._controller_watcher)
            self._controller_watcher = controller.param.watch(self._on_controller, ["object_path", "view"])
            self.param.update(source=text, controller=controller)
        self._show()

    @staticmethod
    def _apply_selection(controller: NwbFileController, selection: dict[str, Any]) -> None:
        known = {
            name: value for name, value in selection.items() if name in controller.param and name != "name"
        }
        controller.param.update(**known)

    def close(self) -> None:
        """Release the file and stop the view (the session ended, or another file replaces it)."""
        with self._lock:
            if self._view is not None:
                self._view.dispose()
                self._view = None
            if self._file is not None:
                self._file.close()
                self._file = None

    # --- selection and views -----------------------------------------------------------------------
    def _on_tree_select(self, event) -> None:
        """One navigation, one history entry: the object and its best view change together."""
        nwb, controller = self._file, self.shared
        if nwb is not None and event.new != controller.object_path and event.new in nwb.index:
            controller.select(event.new, views_for(nwb.index, event.new)[0].id)

    def _on_view_tab(self, event) -> None:
        if self._setting_tabs:
            return
        view = self._view_ids.get(event.new, "")
        if view and view != self.shared.view:
            self.shared.view = view

    def _on_controller(self, *_events) -> None:
        self._show()

    def _show(self) -> None:
        with self._lock:
            nwb, controller = self._file, self.shared
            if nwb is None:
                return
            path = controller.object_path or "/"
            if self._tree is not None:
                if path in nwb.index:
                    self._tree.reveal(path)
                self._tree.selected = path
            if path not in nwb.index:
                self._object_message[:] = [
                    error_alert(f"This file has no object at '{path}'. Pick an object in the tree.")
                ]
                self._view_area[:] = []
                self._view_tabs.options = []
                return
            candidates = views_for(nwb.index, path)
            chosen = view_by_id(controller.view) if controller.view else None
            problems = []
            if controller.view and chosen not in candidates:
                problems.append(
                    error_alert(
                        f"The view '{controller.view}' cannot show '{path}'; showing "
                        f"{candidates[0].title} instead."
                    )
                )
                chosen = None
            self._object_message[:] = problems
            chosen = chosen or candidates[0]
            self._view_ids = {view.title: view.id for view in candidates}
            self._setting_tabs = True
            try:
                self._view_tabs.param.update(options=list(self._view_ids), value=chosen.title)
            finally:
                self._setting_tabs = False
        self._render(nwb, controller, chosen, path)

    def _render(
        self, nwb: NwbFile, controller: NwbFileController, view_cls: type[NwbView], path: str
    ) -> None:
        """Build the view off the session's thread (it reads its first data); the newest selection wins."""
        self._view_area.loading = True

        def build() -> tuple[NwbView, pn.viewable.Viewable | pn.viewable.ServableMixin]:
            view = view_cls(nwb, path, self._jobs, controller, self._work)
            try:
                return view, pn.panel(view.__panel__())
            except BaseException:
                view.dispose()
                raise

        self._work.run(
            "view",
            build,
            apply=self._show_view,
            failed=self._view_failed,
            discard=lambda built: built[0].dispose(),
        )

    def _show_view(self, built: tuple[NwbView, pn.viewable.Viewable | pn.viewable.ServableMixin]) -> None:
        view, content = built
        with self._lock:
            if view.nwbfile is not self._file:  # the file changed meanwhile
                view.dispose()
                return
            if self._view is not None:
                self._view.dispose()
            self._view = view
            self._view_area.loading = False
            self._view_area[:] = [content]

    def _view_failed(self, exc: BaseException) -> None:
        self._view_area.loading = False
        self._view_area[:] = [error_alert(exc)]

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self._source_input, self._open_button, sizing_mode="stretch_width"),
            self._notices,
            self._message,
            pn.Row(
                self._tree_holder,
                pn.Column(self._object_message, self._view_tabs, self._view_area, sizing_mode="stretch_both"),
                sizing_mode="stretch_both",
            ),
            sizing_mode="stretch_both",
        )

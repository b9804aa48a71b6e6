"""The real Neuroglancer client, embedded and synced both ways with one session's state.

One ``neuroglancer.Viewer`` per browser session, held here for as long as the session lives
(the package keeps viewers in a weak dictionary) and released when it ends: its event stream
through the app's proxy is ended too, since neuroglancer's stream handler holds the viewer for
as long as a browser (or a dead network connection) keeps it open. The iframe
loads the client through the app's own origin (``components.neuroglancer.proxy``), so it works from
another hostname, behind the app's prefix and inside other sites; its token names its process's
neuroglancer server (``components.neuroglancer.servers``), so any of the app's processes can forward to it.

Python -> viewer: ``show_state(state)`` sets the viewer's state at once, from any thread. Viewer ->
Python: the user's pans and zooms arrive on neuroglancer's server thread; they are debounced (1 s by
default) and applied to ``state`` on the session's thread, never touching Panel there.

``screenshot()`` asks the browser's client for the picture it shows (neuroglancer's own mechanism: the
request travels in the viewer's config state, the client draws once its visible data has loaded and
posts the PNG back as an action); it blocks, so it is called from a worker thread, never the session's.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

import panel as pn
import param

from components.background import is_served, run_on_session_thread
from components.neuroglancer.proxy import NG_PATH, close_event_streams
from components.neuroglancer.servers import new_viewer_token
from engines.agent.image_stats import shrink_image
from engines.ngstate.errors import ScreenshotUnavailable

__all__ = ["NeuroglancerViewer"]

SCREENSHOT_TIMEOUT_S = 10.0
"""How long a screenshot waits for the browser: the client answers once the visible chunks have loaded."""
MAX_SCREENSHOT_SIDE = 1024
"""Longest side of a screenshot kept (px): a large or high-density screen's picture is scaled down."""


class NeuroglancerViewer(pn.viewable.Viewer):
    """``state`` is the viewer's state JSON as the user last left it (debounced)."""

    state = param.Dict(default={}, doc="The viewer state the user sees, after the latest debounced change.")
    user_changes = param.Integer(default=0, doc="How many debounced changes came from the user's own moves.")

    def __init__(
        self,
        initial_state: dict[str, Any],
        debounce_s: float = 1.0,
        height: int = 640,
        allow_credentials: bool = False,
        **params,
    ) -> None:
        """``allow_credentials``: let the browser ask this viewer for the server's data-source tokens (DVID,
        Google, BOSS). ``neuroglancer.Viewer()`` allows it by default; only an operator's opt-in may."""
        import neuroglancer

        super().__init__(state=copy.deepcopy(initial_state), **params)
        self._viewer: neuroglancer.Viewer | None = neuroglancer.Viewer(
            token=new_viewer_token(), allow_credentials=allow_credentials
        )
        self._token = self._viewer.token
        self._debounce_s = debounce_s
        self._doc = pn.state.curdoc
        self._lock = threading.Lock()
        self._shooting = threading.Lock()  # one screenshot at a time: neuroglancer numbers them unguarded
        self._timer: threading.Timer | None = None
        self._setting = (
            threading.local()
        )  # set while this thread sets the state: its change is not the user's
        self._set_viewer_state(initial_state)
        self._viewer.shared_state.add_changed_callback(self._on_viewer_changed)
        self._iframe = pn.pane.HTML(
            self._iframe_html(height),
            sizing_mode="stretch_width",
            height=height,
            css_classes=["nd-ng-viewer"],
        )
        if is_served(self._doc):
            pn.state.on_session_destroyed(lambda _ctx: self.close())

    @property
    def token(self) -> str:
        return self._token

    @property
    def path(self) -> str:
        """The viewer's address relative to the app's root (what the iframe loads)."""
        return f"{NG_PATH.lstrip('/')}/v/{self._token}/"

    def _iframe_html(self, height: int) -> str:
        return (
            f'<iframe src="./{self.path}" title="Neuroglancer viewer" class="nd-ng-frame" '
            f'style="width:100%;height:{height - 8}px;border:0" allow="fullscreen"></iframe>'
        )

    def show_state(self, state: dict[str, Any]) -> None:
        """Set the viewer's state now (a tool's change), from any thread: it goes to the browser at once, so a
        screenshot asked for afterwards shows it; ``state`` follows on the session's thread."""
        self._set_viewer_state(state)
        shown = copy.deepcopy(state)
        run_on_session_thread(self._doc, lambda: setattr(self, "state", shown))

    def screenshot(
        self, timeout_s: float = SCREENSHOT_TIMEOUT_S, max_side: int = MAX_SCREENSHOT_SIDE
    ) -> bytes:
        """The picture the browser's viewer shows now: PNG bytes, at most ``max_side`` px on the longer side.

        Blocks until the client answers (its visible data loaded) or ``timeout_s``: call it from a worker
        thread. Raises ``ScreenshotUnavailable`` when the viewer is closed or no browser answers in time
        (the tab is closed or hidden, or has no WebGL). Cost: one PNG (a few hundred kB) through the proxy.
        """
        viewer = self._viewer
        if viewer is None:
            raise ScreenshotUnavailable("The viewer is closed (its page ended); reload the page.")
        answered = threading.Event()
        replies: list[Any] = []

        def received(action: Any) -> None:
            replies.append(action.screenshot)
            answered.set()

        with self._shooting:
            viewer.async_screenshot(received)
            if not answered.wait(timeout_s):
                viewer.config_state.retry_txn(_forget_screenshot_request, lock=True)
                raise ScreenshotUnavailable(
                    f"The viewer sent no picture within {timeout_s:g} s: it draws only while its page is "
                    "open and visible in a browser tab with WebGL. Open (or show) the page and ask again."
                )
        return shrink_image(replies[0].image, max_side)

    def _set_viewer_state(self, state: dict[str, Any]) -> None:
        viewer = self._viewer
        if viewer is None:  # closed: the session ended while a tool was still working
            return
        self._setting.active = (
            True  # neuroglancer calls the change callbacks on this thread, before returning
        )
        try:
            viewer.set_state(copy.deepcopy(state))
        finally:
            self._setting.active = False

    def _on_viewer_changed(self) -> None:
        """On neuroglancer's server thread: start (or restart) the debounce timer for a change the user
        made."""
        if getattr(self._setting, "active", False):
            return
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self._debounce_s, self._deliver)
            self._timer.daemon = True
            self._timer.start()

    def _deliver(self) -> None:
        viewer = self._viewer
        if viewer is None:
            return
        raw = copy.deepcopy(viewer.shared_state.raw_state)

        run_on_session_thread(
            self._doc, lambda: self.param.update(state=raw, user_changes=self.user_changes + 1)
        )

    def close(self) -> None:
        """Release the viewer (the session ended): its event stream ends, upstream too, and neuroglancer drops
        the viewer once nothing refers to it; nothing here does from now on, whoever still holds this
        component."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            viewer, self._viewer = self._viewer, None
        if viewer is not None:
            try:
                viewer.shared_state.remove_changed_callback(self._on_viewer_changed)
            except KeyError:
                pass
        close_event_streams(self._token)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._iframe


def _forget_screenshot_request(config: Any) -> None:
    """No browser answered: withdraw the request, so a tab opened later does not answer a question nobody
    waits for."""
    config.screenshot = None

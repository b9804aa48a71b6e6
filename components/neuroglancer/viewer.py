"""The real Neuroglancer client, embedded and synced both ways with one session's state.

Built on ``panel_neuroglancer.Neuroglancer`` (the HoloViz component for a ``neuroglancer.Viewer``),
adapted where it cannot serve a shared app as it is (each defect is shown in
``tests/components/neuroglancer/test_panel_neuroglancer.py``):

* its iframe loads the viewer's own ``http://127.0.0.1:<port>/v/<token>/``, which no browser but
  one on the server's machine reaches; here the iframe loads it through the app's own origin
  (``components.neuroglancer.proxy``), so it works from another hostname, behind the app's prefix
  and inside other sites; its token names its process's neuroglancer server
  (``components.neuroglancer.servers``), so any of the app's processes can forward to it;
* it updates its panes from neuroglancer's server thread at every change of the state (each pan
  step); here the user's moves are debounced (1 s by default) and applied on the session's thread;
* it writes URLs into HTML unescaped, and its default viewer hands the server's data-source
  credentials to any browser; neither is used here (``allow_credentials`` is the operator's opt-in).

``url`` follows the state both ways, as the package means it: a Neuroglancer link of what the viewer
shows, and setting it loads that link's state. One viewer per browser session, held for as long as
the session lives (the package keeps viewers in a weak dictionary) and released when it ends: its
event stream through the app's proxy is ended too, since neuroglancer's stream handler holds the
viewer for as long as a browser (or a dead network connection) keeps it open.

Python -> viewer: ``show_state(state)`` sets the viewer's state at once, from any thread (``state`` and
``url`` follow on the session's thread). Viewer -> Python: the user's pans and zooms arrive on
neuroglancer's server thread and reach ``state`` (and ``url``) once the user stops, on the session's
thread, never touching Panel there.

``screenshot()`` asks the browser's client for the picture it shows (neuroglancer's own mechanism: the
request travels in the viewer's config state, the client draws once its visible data has loaded and
posts the PNG back as an action); it blocks, so it is called from a worker thread, never the session's.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

import neuroglancer
import panel as pn
import param
from panel_neuroglancer import Neuroglancer

from components.background import is_served, run_on_session_thread
from components.neuroglancer.proxy import NG_PATH, close_event_streams
from components.neuroglancer.servers import new_viewer_token
from engines.agent.image_stats import shrink_image
from engines.ngstate.errors import NgStateError

__all__ = ["NeuroglancerViewer"]

SCREENSHOT_TIMEOUT_S = 10.0
"""How long a screenshot waits for the browser: the client answers once the visible chunks have loaded."""
MAX_SCREENSHOT_SIDE = 1024
"""Longest side of a screenshot kept (px): a large or high-density screen's picture is scaled down."""


class NeuroglancerViewer(Neuroglancer):
    """``state`` is the viewer's state JSON as the user last left it (debounced); ``url`` its link."""

    state = param.Dict(default={}, doc="The viewer state the user sees, after the latest debounced change.")
    user_changes = param.Integer(default=0, doc="How many debounced changes came from the user's own moves.")
    viewer: neuroglancer.Viewer | None  # the package's attribute; None once closed

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
        viewer = neuroglancer.Viewer(token=new_viewer_token(), allow_credentials=allow_credentials)
        self._token = viewer.token
        self._frame_height = height
        self._debounce_s = debounce_s
        self._doc = pn.state.curdoc
        self._lock = threading.Lock()
        self._shooting = threading.Lock()  # one screenshot at a time: neuroglancer numbers them unguarded
        self._timer: threading.Timer | None = None
        self._setting = (
            threading.local()
        )  # set while this thread sets the state: its change is not the user's
        self._setting.active = True  # the package's constructor loads the viewer's own (empty) state
        try:
            super().__init__(source=viewer, state=copy.deepcopy(initial_state), **params)
        finally:
            self._setting.active = False
        self._set_viewer_state(initial_state)
        self.url = self._link()
        self.param.watch(self._on_url, "url")
        if is_served(self._doc):
            pn.state.on_session_destroyed(lambda _ctx: self.close())

    # --- the package's hooks, adapted ------------------------------------------------------------------
    def _setup_ui_components(self) -> None:
        """Only the iframe: the package's URL box, demo button and state card are for a notebook."""
        self.iframe = pn.pane.HTML(
            sizing_mode="stretch_width", height=self._frame_height, css_classes=["nd-ng-viewer"]
        )

    def _configure_viewer(self) -> None:
        self._update_iframe_with_local_url()

    def _setup_callbacks(self) -> None:
        """The viewer's changes only (the package's buttons are not made here)."""
        if self.viewer is not None:
            self.viewer.shared_state.add_changed_callback(self._on_viewer_state_changed)

    def _update_iframe_with_local_url(self) -> None:
        """The iframe loads the viewer through the app's origin (the token is ``[A-Za-z0-9]``, nothing to
        escape)."""
        self.iframe.object = (
            f'<iframe src="./{self.path}" title="Neuroglancer viewer" class="nd-ng-frame" '
            f'style="width:100%;height:{self._frame_height - 8}px;border:0" allow="fullscreen"></iframe>'
        )

    def _on_viewer_state_changed(self) -> None:
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

    def _load_state_from_url(self, url: str) -> None:
        """``url`` set (both ways): a link that names another state shows it; one that cannot be read is
        ignored, as the package does, the viewer keeping what it shows."""
        try:
            state = neuroglancer.parse_url(url).to_json()
        except Exception:  # the package's own rule: a bad link never breaks the viewer
            return
        if state != self.state:
            self.show_state(state)

    # --- this app's API ----------------------------------------------------------------------------------
    @property
    def token(self) -> str:
        return self._token

    @property
    def path(self) -> str:
        """The viewer's address relative to the app's root (what the iframe loads)."""
        return f"{NG_PATH.lstrip('/')}/v/{self._token}/"

    def show_state(self, state: dict[str, Any]) -> None:
        """Set the viewer's state now (a tool's change), from any thread: it goes to the browser at once, so a
        screenshot asked for afterwards shows it; ``state`` and ``url`` follow on the session's thread."""
        self._set_viewer_state(state)
        shown, link = copy.deepcopy(state), self._link()
        run_on_session_thread(self._doc, lambda: self._adopt(shown, link))

    def screenshot(
        self, timeout_s: float = SCREENSHOT_TIMEOUT_S, max_side: int = MAX_SCREENSHOT_SIDE
    ) -> bytes:
        """The picture the browser's viewer shows now: PNG bytes, at most ``max_side`` px on the longer side.

        Blocks until the client answers (its visible data loaded) or ``timeout_s``: call it from a worker
        thread. Raises ``NgStateError`` when the viewer is closed or no browser answers in time
        (the tab is closed or hidden, or has no WebGL). Cost: one PNG (a few hundred kB) through the proxy.
        """
        viewer = self.viewer
        if viewer is None:
            raise NgStateError("The viewer is closed (its page ended); reload the page.")
        answered = threading.Event()
        replies: list[Any] = []

        def received(action: Any) -> None:
            replies.append(action.screenshot)
            answered.set()

        with self._shooting:
            viewer.async_screenshot(received)
            if not answered.wait(timeout_s):
                viewer.config_state.retry_txn(_forget_screenshot_request, lock=True)
                raise NgStateError(
                    f"The viewer sent no picture within {timeout_s:g} s: it draws only while its page is "
                    "open and visible in a browser tab with WebGL. Open (or show) the page and ask again."
                )
        return shrink_image(replies[0].image, max_side)

    def _set_viewer_state(self, state: dict[str, Any]) -> None:
        viewer = self.viewer
        if viewer is None:  # closed: the session ended while a tool was still working
            return
        self._setting.active = (
            True  # neuroglancer calls the change callbacks on this thread, before returning
        )
        try:
            viewer.set_state(copy.deepcopy(state))
        finally:
            self._setting.active = False

    def _link(self) -> str:
        viewer = self.viewer
        return neuroglancer.to_url(viewer.state) if viewer is not None else ""

    def _on_url(self, event: param.parameterized.Event) -> None:
        if event.new and event.new != self._link():
            self._load_state_from_url(event.new)

    def _deliver(self) -> None:
        viewer = self.viewer
        if viewer is None:
            return
        raw = copy.deepcopy(viewer.shared_state.raw_state)
        link = neuroglancer.to_url(viewer.state)
        run_on_session_thread(self._doc, lambda: self._adopt(raw, link, by_user=True))

    def _adopt(self, state: dict[str, Any], link: str, by_user: bool = False) -> None:
        """On the session's thread: what the viewer shows, and its link (which names that state: not a request
        to load it, though the viewer may have moved on since)."""
        with param.parameterized.discard_events(self):
            self.url = link
        if by_user:
            self.param.update(state=state, user_changes=self.user_changes + 1)
        else:
            self.state = state

    def close(self) -> None:
        """Release the viewer (the session ended): its event stream ends, upstream too, and neuroglancer drops
        the viewer once nothing refers to it; nothing here does from now on, whoever still holds this
        component."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            viewer, self.viewer = self.viewer, None
        if viewer is not None:
            try:
                viewer.shared_state.remove_changed_callback(self._on_viewer_state_changed)
            except KeyError:
                pass
        close_event_streams(self._token)

    def __panel__(self) -> pn.viewable.Viewable:
        return self.iframe


def _forget_screenshot_request(config: Any) -> None:
    """No browser answered: withdraw the request, so a tab opened later does not answer a question nobody
    waits for."""
    config.screenshot = None

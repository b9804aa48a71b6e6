"""The app: one tab per registered page, built lazily, with deep links kept in the address bar.

``create_app`` is called once per browser session; ``serve`` starts the server (``run.py``).
``panel serve app/main.py`` works too, with settings from the environment.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

if __name__.startswith("bokeh") and str(Path(__file__).resolve().parents[1]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # ``panel serve app/main.py`` from a checkout

import panel as pn

import app.pages  # noqa: F401  (registers every page)
from app.context import AppContext
from app.registry import PAGES
from app.routing import parse_deep_link, to_query
from app.session import SessionState
from app.settings import Settings
from components.history import BrowserHistory

__all__ = ["create_app", "serve", "AppShell"]

log = logging.getLogger("neurodeck")


class AppShell(pn.viewable.Viewer):
    """Header, one lazily built tab per page, and the router between session state and the address bar."""

    def __init__(self, ctx: AppContext, state: SessionState) -> None:
        super().__init__()
        self._ctx = ctx
        self._state = state
        self._specs = list(PAGES)
        self._built: dict[str, pn.viewable.Viewable] = {}
        self._holders = {spec.name: pn.Column(sizing_mode="stretch_both") for spec in self._specs}
        self._history = BrowserHistory(search=to_query(state.link()))
        self._syncing = False
        names = [spec.name for spec in self._specs]
        self._tabs = pn.Tabs(*[(f"{spec.icon} {spec.title}".strip(), self._holders[spec.name]) for spec in self._specs],
                             active=names.index(state.page) if state.page in names else 0,
                             sizing_mode="stretch_both", css_classes=["nd-pages"])
        self._tabs.param.watch(self._on_tab, "active")
        self._history.param.watch(self._on_history, "search")
        state.param.watch(self._on_state, ["page", "source", "object_path", "view"])
        self._ensure_built(self._specs[self._tabs.active].name)
        header = pn.Row(
            pn.pane.HTML("<span class='nd-logo' style='font-size:1.3em;font-weight:600;color:white'>Neurodeck</span>",
                         margin=(6, 12)),
            sizing_mode="stretch_width", styles={"background": "#1f3b57"}, visible=not state.embedded,
        )
        body = self._tabs if not state.embedded else self._holders[self._specs[self._tabs.active].name]
        self._layout = pn.Column(header, body, self._history, sizing_mode="stretch_both")

    def _ensure_built(self, name: str) -> None:
        if name in self._built:
            return
        spec = PAGES.get(name)
        try:
            page = spec.factory(self._ctx, self._state)
        except Exception as exc:  # a broken page must not take the others down
            log.exception("Building page %s failed", name)
            page = pn.pane.Alert(f"This page could not be built: {exc}", alert_type="danger")
        self._built[name] = page
        self._holders[name][:] = [page]

    def _on_tab(self, event) -> None:
        name = self._specs[event.new].name
        self._ensure_built(name)
        if not self._syncing:
            self._state.page = name

    def _on_state(self, *_events) -> None:
        if self._syncing:
            return
        self._history.search = to_query(self._state.link())

    def _on_history(self, event) -> None:
        """Back/forward: restore page, file, object and view from the address."""
        link = parse_deep_link(event.new)
        names = [spec.name for spec in self._specs]
        self._syncing = True
        try:
            self._state.apply_link(link, default_page=names[0], default_source="")
            if self._state.page in names:
                self._tabs.active = names.index(self._state.page)
        finally:
            self._syncing = False

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


def create_app(ctx: AppContext) -> AppShell:
    """Build one session's app from its deep link."""
    pn.extension("tabulator")  # tables appear after load (files open once the page shows): ship their JS up front
    state = SessionState()
    link = parse_deep_link(pn.state.session_args or {})
    names = PAGES.names()
    state.apply_link(link, default_page=names[0], default_source="")
    if state.page not in names:
        state.page = names[0]
    return AppShell(ctx, state)


def serve(settings: Settings) -> None:
    """Start the server and block (``run.py``)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx = AppContext.create(settings)
    pn.config.nthreads = settings.num_threads  # callbacks off the event loop, so one slow read never freezes others
    origins = list(settings.websocket_origins) or [
        f"{settings.address}:{settings.port}", f"localhost:{settings.port}", f"127.0.0.1:{settings.port}"]

    def session_app() -> AppShell:  # Panel calls plain functions once per session (not partials)
        return create_app(ctx)

    pn.serve(
        {"/": session_app},
        port=settings.port,
        address=settings.address,
        show=settings.show,
        websocket_origin=origins,
        title="Neurodeck",
        start=True,
    )


def _served_by_panel() -> None:
    """``panel serve app/main.py``: one context per server process, kept in Panel's cache."""
    ctx = pn.state.as_cached("neurodeck-context", lambda: AppContext.create(Settings.from_env()))
    create_app(ctx).servable(title="Neurodeck")


if __name__.startswith("bokeh"):
    _served_by_panel()

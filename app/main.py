"""The app: one tab per registered page, built lazily, with deep links kept in the address bar.

``create_app`` is called once per browser session; ``serve`` starts the server (``run.py``).
``panel serve app/main.py`` works too, with settings from the environment.
"""

from __future__ import annotations

import gc
import html
import logging
import os
import signal
import sys
import threading
import webbrowser
from pathlib import Path

if __name__.startswith("bokeh") and str(Path(__file__).resolve().parents[1]) not in sys.path:
    sys.path.insert(
        0, str(Path(__file__).resolve().parents[1])
    )  # ``panel serve app/main.py`` from a checkout

import panel as pn
from bokeh.server.server import Server
from tornado.process import task_id

import app.pages  # noqa: F401  (registers every page)
from app.assets import serve_assets_locally
from app.auth import SignIn, TokenAuthProvider, TokenRedaction, guard_routes, sign_in_for
from app.context import AppContext, keep_workspace_private
from app.local_stylesheets import stylesheets_from_this_server
from app.registry import PAGES, ROUTES, WARM_UPS, PageView
from app.routing import parse_address
from app.session import SessionState
from app.settings import Settings
from app.started_pools import start_pools
from components.history import BrowserHistory
from components.queued_patches import send_every_queued_patch
from components.safe_text import text_alert
from components.session_pool import order_callbacks_per_session

__all__ = ["create_app", "serve", "build_server", "AppShell"]

log = logging.getLogger("neurodeck")


class AppShell(pn.viewable.Viewer):
    """Header, one lazily built tab per page, and the router between the pages' link state and the address
    bar."""

    def __init__(self, ctx: AppContext, state: SessionState) -> None:
        super().__init__()
        self._ctx = ctx
        self._state = state
        self._specs = list(PAGES)
        self._names = [spec.name for spec in self._specs]
        self._by_name = {spec.name: spec for spec in self._specs}
        self._built: dict[str, PageView] = {}
        self._holders = {spec.name: pn.Column(sizing_mode="stretch_both") for spec in self._specs}
        self._history = BrowserHistory(search=state.query())
        self._syncing = False  # applying an address: do not write it back
        self._writing = False  # writing the address: do not read it back
        self._tabs = pn.Tabs(
            *[(f"{spec.icon} {spec.title}".strip(), self._holders[spec.name]) for spec in self._specs],
            active=self._names.index(state.page),
            sizing_mode="stretch_both",
            css_classes=["nd-pages"],
        )
        self._tabs.param.watch(self._on_tab, "active")
        self._history.param.watch(self._on_history, "search")
        state.param.watch(self._write_address, "page")
        for link in state.links.values():
            link.param.watch(self._write_address, link.argument_names())
        self._ensure_built(state.page)
        header = pn.Row(
            pn.pane.HTML(
                "<span class='nd-logo' style='font-size:1.3em;font-weight:600;color:white'>Neurodeck</span>",
                margin=(6, 12),
            ),
            pn.layout.HSpacer(),
            self._signed_in_as(pn.state.user),
            sizing_mode="stretch_width",
            styles={"background": "#1f3b57"},
            visible=not state.embedded,
        )
        body = (
            self._holders[state.page] if state.embedded else self._tabs
        )  # embedded: the page alone, no tabs
        self._layout = pn.Column(header, body, self._history, sizing_mode="stretch_both")

    @staticmethod
    def _signed_in_as(user: str | None) -> pn.viewable.Viewable:
        """Who is signed in (a user name from OAuth is text, so escaped) and the way out; nothing with no
        sign-in."""
        if not user:
            return pn.Spacer(width=0)
        return pn.pane.HTML(
            f"<span style='color:#dfe7ef'>{html.escape(user)} · "
            "<a href='logout' style='color:white'>Sign out</a></span>",
            margin=(10, 16),
        )

    def _ensure_built(self, name: str) -> None:
        if name in self._built:
            return
        spec = self._by_name[name]
        try:
            page = spec.factory(self._ctx, self._state.links.get(name))
        except Exception as exc:  # a broken page must not take the others down
            log.exception("Building page %s failed", name)
            page = text_alert(f"This page could not be built: {exc}", alert_type="danger")
        self._built[name] = page
        self._holders[name][:] = [page]

    def _on_tab(self, event) -> None:
        name = self._names[event.new]
        self._ensure_built(name)
        if not self._syncing:
            self._state.page = name

    def _write_address(self, *events) -> None:
        if self._syncing:
            return
        link = self._state.links.get(self._state.page)
        continuous = link is not None and all(getattr(e, "name", "") in link.continuous for e in events)
        self._writing = True
        try:
            self._history.navigate(self._state.query(), replace=continuous)
        finally:
            self._writing = False

    def _on_history(self, event) -> None:
        """Back/forward (or a search typed by a script): restore the named page and its own state."""
        if self._writing:
            return
        self._syncing = True
        try:
            self._state.apply_address(parse_address(event.new))
            self._ensure_built(self._state.page)
            self._tabs.active = self._names.index(self._state.page)
        finally:
            self._syncing = False

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


def create_app(ctx: AppContext) -> AppShell:
    """Build one session's app from its deep link."""
    pn.extension(*PAGES.extensions())  # pages fill in after load: their widgets' JS must ship up front
    stylesheets_from_this_server(pn.state.curdoc)
    state = SessionState(PAGES)
    state.apply_address(parse_address(pn.state.session_args or {}))
    return AppShell(ctx, state)


def serve(settings: Settings) -> None:
    """Start the server and block (``run.py``): signed in by default (see ``app.auth``)."""
    # force: an import may have configured logging already (neuroglancer's does, at WARNING), which would
    # leave the server's own INFO lines (the access log, what it indexed) unwritten
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    server, address = build_server(settings)
    if task_id() in (None, 0):  # --num-procs: one of the processes announces the server
        print(
            f"Neurodeck is serving at {address}"
            + (f" ({settings.num_procs} processes)" if task_id() is not None else ""),
            flush=True,
        )
    if settings.show and task_id() in (None, 0):
        server.io_loop.add_callback(lambda: webbrowser.open_new_tab(address))
    server.start()
    server.io_loop.start()


def build_server(settings: Settings) -> tuple[Server, str]:
    """The server (listening, not yet started) and the address to open: every route behind sign-in but the
    sign-in pages and static assets."""
    keep_workspace_private(settings.workspace)
    logging.getLogger("tornado.access").addFilter(TokenRedaction())
    serve_assets_locally()
    sign_in = sign_in_for(settings)
    ctx = AppContext.create(settings, start=False)  # threads start after the fork into --num-procs processes
    order_callbacks_per_session(settings.num_threads)  # off the event loop, in order per session
    send_every_queued_patch()  # no change queued for a browser waits for a later one
    origins = list(settings.websocket_origins) or [
        f"{settings.address}:{settings.port}",
        f"localhost:{settings.port}",
        f"127.0.0.1:{settings.port}",
    ]

    def session_app() -> AppShell:  # Panel calls plain functions once per session (not partials)
        with _FREEZING:
            _SESSIONS_SEEN.set()  # from now on nothing is frozen: a session's objects must stay collectable
        return create_app(ctx)

    routes = [route for factory in ROUTES for route in factory(ctx)]
    if settings.num_procs != 1:  # the process that forks only waits for the others: stopped, it exits cleanly
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    routes, auth = _guarded(settings, sign_in, routes)
    server = pn.serve(
        {"/": session_app},
        port=settings.port,
        address=settings.address,
        show=False,
        websocket_origin=origins,
        title="Neurodeck",
        prefix=settings.prefix,
        use_xheaders=settings.use_xheaders,
        extra_patterns=routes,
        start=False,
        num_procs=settings.num_procs,
        unused_session_lifetime_milliseconds=int(settings.session_lifetime_s * 1000),
        check_unused_sessions_milliseconds=int(min(17.0, settings.session_lifetime_s) * 1000),
        **auth,
    )
    # From here on this is one of the --num-procs processes (Bokeh forked while building the server): each
    # one runs its own job workers and warm-up; they share the workspace's stores.
    if task_id() is not None:
        _end_with_parent()
    _keep_imports_out_of_full_collections()
    ctx.start()
    server.io_loop.add_callback(lambda: start_pools(server.io_loop.asyncio_loop, pn.state._thread_pool))
    threading.Thread(target=_warm_up, name="warm-up", daemon=True).start()
    return server, _browser_address(settings, sign_in)


def _guarded(settings: Settings, sign_in: SignIn | None, routes: list[tuple]) -> tuple[list[tuple], dict]:
    """The routes behind sign-in and the server's sign-in options; with no sign-in, a warning when others
    can reach the server."""
    auth: dict = {}
    if sign_in is None:
        if settings.address not in LOOPBACK or settings.behind_proxy:
            log.warning(
                "--auth none: anyone who reaches %s:%s uses this server with no sign-in.",
                settings.address,
                settings.port,
            )
    else:
        routes = guard_routes(routes, sign_in.user_of)
        auth["cookie_secret"] = sign_in.cookie_secret
        if sign_in.mode == "oauth":
            auth.update(
                oauth_provider=settings.oauth_provider,
                oauth_key=settings.oauth_key,
                oauth_secret=settings.oauth_secret,
                oauth_extra_params=dict(settings.oauth_extra_params),
            )
        else:
            auth["auth_provider"] = TokenAuthProvider(sign_in, settings.prefix)
    return routes, auth


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _end_with_parent() -> None:
    """A forked server process ends when the process that forked it does (stopped by a service manager or a
    terminal): Tornado's parent only waits for its children and would leave them serving, orphaned."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the parent ended before the line above took effect
        os._exit(0)


def _browser_address(settings: Settings, sign_in: SignIn | None) -> str:
    """The address to open: with ``?token=`` for token sign-in, so a single local user has no extra step."""
    host = "127.0.0.1" if settings.address in ("0.0.0.0", "::", "") else settings.address
    base = f"http://{host}:{settings.port}{settings.prefix}/"
    return f"{base}?token={sign_in.token}" if sign_in is not None and sign_in.mode == "token" else base


def _warm_up() -> None:
    for function in WARM_UPS:
        try:
            function()
        except Exception:  # a failed warm-up only costs the first user a slower click
            log.exception("warm-up %s failed", getattr(function, "__name__", function))
    with _FREEZING:
        if not _SESSIONS_SEEN.is_set():  # what the warm-up imported too, unless a session already began
            _keep_imports_out_of_full_collections()


_SESSIONS_SEEN = threading.Event()
_FREEZING = threading.Lock()
"""Objects are frozen only before the first session of the process: a session's own objects frozen would never
be collected (a viewer made by a tab opened during the warm-up stayed served after the tab closed)."""


def _keep_imports_out_of_full_collections() -> None:
    """Move what the imports and the warm-up made (about 700,000 objects: modules, classes, the plotting
    libraries' registries, none of them ever garbage) out of the cyclic collector's reach; called before the
    first session only.

    Every full collection walked them all, stopping every session's callbacks for 0.7 s or more each time
    (seen as the slowest clicks under load); afterwards a full collection walks only the sessions' objects.
    The youngest generation is collected every 30,000 allocations rather than 700 (a page's callback makes
    tens of thousands of short-lived objects). Measured with the load benchmark on two processes, full
    collections stayed at about two per visit and their pauses fell from 0.6 s to 0.4 s per visit, between
    two runs whose ramps also differed (a small gain at best; the README's load numbers include it).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(30_000, 10, 10)
    log.info("%d objects made at start-up are left out of garbage collection", gc.get_freeze_count())


def _served_by_panel() -> None:
    """``panel serve app/main.py``: one context per server process, kept in Panel's cache."""
    send_every_queued_patch()
    ctx = pn.state.as_cached("neurodeck-context", lambda: AppContext.create(Settings.from_env()))
    create_app(ctx).servable(title="Neurodeck")


if __name__.startswith("bokeh"):
    _served_by_panel()

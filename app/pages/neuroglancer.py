"""The Neuroglancer + chat page: a chat whose tools move a real embedded viewer and work on CSV tables.

Per browser session: one ``ViewerSession`` (the state the agent sees), one real Neuroglancer
viewer showing it, one ``TableWorkspace`` (the demo ROI table plus the user's uploads) and one
``ChatSession`` (a model when an endpoint is configured, else the offline command planner).
``?page=neuroglancer&state=<Neuroglancer URL | #! fragment | JSON pointer URL>`` opens a state;
``&saved=<name>`` opens a saved one; ``&chat=<id>`` reopens a saved conversation.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from urllib.parse import quote, urlparse

import panel as pn
import param
from tornado.web import StaticFileHandler

from app.context import AppContext
from app.identity import model_budget_for, session_person
from app.registry import register_page, register_routes
from app.routing import PageLink
from components.agent_chat import AgentChat
from components.background import BackgroundWork, run_on_session_thread
from components.neuroglancer.proxy import neuroglancer_routes
from components.neuroglancer.table_results import TableResults
from components.neuroglancer.viewer import NeuroglancerViewer
from components.safe_text import text_alert
from engines.agent import ChatSession
from engines.agent.toolsets import ViewerTools, build_table_tools, build_viewer_tools
from engines.ngstate import (
    NgState,
    StateStore,
    build_demo_state,
    ensure_demo_volume,
    focus_annotation,
    load_state,
    summarize_state,
)
from engines.ngstate.errors import NgStateError
from engines.ngstate.session import ViewerSession
from engines.ngstate.source_check import LayerProblem, layers_that_cannot_load
from engines.ngstate.urls import MAX_LINK_CHARS, to_fragment
from engines.people import Person
from engines.tables import QueryLimits, TableWorkspace

__all__ = ["NeuroglancerLink", "build_neuroglancer_page"]

log = logging.getLogger(__name__)

DEMO_PATH = "ngdemo"
DEMO_ROIS = Path(__file__).resolve().parents[2] / "assets" / "demo_rois.csv"


class NeuroglancerLink(PageLink):
    """``?page=neuroglancer&state=...`` or ``&saved=<name>``."""

    state = param.String(default="", doc="A Neuroglancer URL, a #! fragment, JSON, or a JSON pointer URL.")
    saved = param.String(default="", doc="The name of a state saved in the workspace.")
    chat = param.String(default="", doc="Id of a saved conversation to reopen (set as the chat goes).")


@register_routes
def neuroglancer_page_routes(ctx: AppContext) -> list[tuple]:
    """The viewer through the app's origin, and the demo volume as static files beside the app."""
    demo = ensure_demo_volume(ctx.settings.workspace)
    return [
        *neuroglancer_routes(
            allow_credentials=ctx.settings.viewer_credentials,
            max_streams=ctx.settings.max_viewers,
            several_processes=ctx.settings.num_procs != 1,
        ),
        (rf"/{DEMO_PATH}/(.*)", StaticFileHandler, {"path": str(demo.folder)}),
    ]


def _page_address() -> tuple[str, str]:
    """(origin, path of the app) as this browser reached it: through a proxy, a prefix, another hostname."""
    location = pn.state.location
    parsed = urlparse(location.href if location is not None and location.href else "http://127.0.0.1/")
    return f"{parsed.scheme}://{parsed.netloc}", parsed.path.rsplit("/", 1)[0] + "/"


class NeuroglancerPage(pn.viewable.Viewer):
    """Chat left, the viewer centre, tables and plots right; the state JSON, save/load/share under the
    viewer."""

    def __init__(self, ctx: AppContext, link: NeuroglancerLink) -> None:
        super().__init__()
        self._ctx = ctx
        self._link = link
        self._doc = pn.state.curdoc
        self._work = BackgroundWork(name="neuroglancer")
        policy = ctx.settings.source_policy()
        origin, app_path = _page_address()
        self._app_url = origin + app_path
        demo = ensure_demo_volume(ctx.settings.workspace)
        demo_url = f"{origin}{app_path}{DEMO_PATH}"
        person = session_person(ctx.settings)
        self._store = StateStore(ctx.settings.workspace, person=person)
        self._session = ViewerSession(build_demo_state(demo_url))
        self._tables = TableWorkspace(
            policy,
            max_upload_bytes=ctx.settings.max_upload_bytes,
            max_result_rows=ctx.settings.sql_max_rows,
            limits=QueryLimits(timeout_s=ctx.settings.sql_timeout_s),
        )
        self._tables.upload(DEMO_ROIS.name, DEMO_ROIS.read_bytes(), name="rois")
        self._viewer = NeuroglancerViewer(
            self._session.state.to_dict(),
            debounce_s=ctx.settings.viewer_debounce_s,
            allow_credentials=ctx.settings.viewer_credentials,
        )
        self._results = TableResults(
            self._tables,
            load_state=lambda state: self._session.set(state, "table row"),
            open_annotation=self._open_annotation,
        )
        self._aliases = {demo_url: demo.folder}
        viewer_tools = ViewerTools(
            self._session,
            self._store,
            policy,
            aliases=self._aliases,
            share_link=self.share_link,
            camera=self._viewer.screenshot,
            tables=self._tables,
        )
        self._build_chat(ctx, person, viewer_tools)
        self._session.on_change(self._on_state_changed)
        self._viewer.param.watch(self._on_user_moved, "state")
        self._message = pn.Column(sizing_mode="stretch_width")
        self._json = pn.pane.JSON(
            self._session.state.to_dict(), depth=2, sizing_mode="stretch_width", max_height=300
        )
        self._build_state_controls()
        self._show_problems(link.problems)
        link.param.watch(lambda e: self._show_problems(e.new), "problems")
        link.param.watch(lambda _e: self._open_link(), ["state", "saved"])
        self._open_link()

    def _build_chat(self, ctx: AppContext, person: Person, viewer_tools: ViewerTools) -> None:
        """The chat and its session: tools over the viewer's state and the tables; its conversation is
        linked."""
        link = self._link
        self._chat_session = ChatSession(
            [build_viewer_tools(viewer_tools), build_table_tools(self._tables, lambda: self._session.state)],
            ctx.settings.llm,
            ctx.settings.workspace,
            page="neuroglancer",
            person=person,
            budget=model_budget_for(ctx.settings, person),
            state_summary=lambda: summarize_state(self._session.state).text,
            table_summaries=lambda: "\n".join(info.describe() for info in self._tables.list_tables()),
        )
        self._chat = AgentChat(
            self._chat_session,
            render_artifact=self._results.show_artifact,
            placeholder="e.g. go to 60 40 20 and zoom in · top 10 cells by volume_um3 · help",
        )
        self._chat.open_conversation(link.chat)
        self._chat.param.watch(lambda e: setattr(link, "chat", e.new), "conversation")
        link.param.watch(lambda e: self._chat.open_conversation(e.new), "chat")

    # --- the state ---------------------------------------------------------------------------------
    def _on_state_changed(self, state: NgState, reason: str) -> None:
        """A tool, a table row or a loaded link changed the state (any thread): the viewer gets it now (a
        screenshot that follows shows it), the JSON pane on the session's thread."""
        self._viewer.show_state(state.to_dict())
        run_on_session_thread(self._doc, lambda: setattr(self._json, "object", state.to_dict()))

    def _on_user_moved(self, event) -> None:
        """The user panned, zoomed or selected an annotation in the viewer (debounced): the agent sees it
        from now on, and a selected annotation of a table shown in the viewer selects its row."""
        state = self._session.absorb_viewer(event.new)
        self._json.object = state.to_dict()
        self._results.select_annotation(event.new)

    def _open_annotation(self, layer: str, annotation_id: str) -> None:
        """A table row was clicked: the viewer goes to its annotation and selects it (and its segment)."""
        try:
            self._session.update(lambda s: focus_annotation(s, layer, annotation_id), "table row")
        except NgStateError as exc:  # the layer was removed or replaced since the table was listed
            self._failed(exc)

    def _adopt_state(self, origin: str, state: NgState) -> None:
        """A state loaded off the session's thread becomes the viewer's (``origin``: where it came from); the
        layers the viewer cannot load are then said in the chat, with why."""
        self._session.set(state, origin)
        policy, aliases = self._ctx.settings.source_policy(), self._aliases
        self._work.run(
            "layer-check",
            lambda: layers_that_cannot_load(state, policy, aliases),
            apply=self._say_unloadable,
            failed=lambda exc: log.warning("layer check failed: %s", exc),
        )

    def _say_unloadable(self, problems: list[LayerProblem]) -> None:
        for problem in problems:
            self._chat.notice(problem.describe())

    def _open_link(self) -> None:
        if self._link.saved:
            name = self._link.saved
            self._work.run(
                "link",
                lambda: self._store.load(name),
                apply=functools.partial(self._adopt_state, "saved"),
                failed=self._failed,
            )
        elif self._link.state:
            text, policy = self._link.state, self._ctx.settings.source_policy()
            self._work.run(
                "link",
                lambda: load_state(text, policy),
                apply=functools.partial(self._adopt_state, "link"),
                failed=self._failed,
            )

    def _failed(self, exc: BaseException) -> None:
        self._message[:] = [
            text_alert(
                f"{exc} The view on screen is unchanged.", alert_type="danger", sizing_mode="stretch_width"
            )
        ]

    def _show_problems(self, problems: list[str]) -> None:
        self._message[:] = [
            text_alert(p, alert_type="warning", sizing_mode="stretch_width") for p in problems
        ]

    def share_link(self, state: NgState) -> str:
        """An address of this app that reopens ``state`` (the state travels in the address)."""
        fragment = quote("#!" + to_fragment(state, url_safe=True), safe="")
        return f"{self._app_url}?page=neuroglancer&state={fragment}"

    # --- controls under the viewer -----------------------------------------------------------------
    def _build_state_controls(self) -> None:
        self._paste = pn.widgets.TextInput(
            placeholder="Paste a Neuroglancer link, #! fragment or JSON pointer URL…",
            sizing_mode="stretch_width",
        )
        open_button = pn.widgets.Button(label="Open", button_type="primary", width=70)
        open_button.on_click(lambda _: self._open_pasted())
        self._save_name = pn.widgets.TextInput(placeholder="name", width=140)
        save = pn.widgets.Button(label="Save view", width=90)
        save.on_click(lambda _: self._save())
        self._saved = pn.widgets.Select(options=self._saved_options(), width=180)
        load = pn.widgets.Button(label="Load", width=60)
        load.on_click(lambda _: self._load_saved())
        share = pn.widgets.Button(label="Share link", width=90)
        self._share_text = pn.widgets.TextInput(sizing_mode="stretch_width", disabled=False, visible=False)
        share.on_click(lambda _: self._share())
        self._controls = pn.Column(
            pn.Row(self._paste, open_button, sizing_mode="stretch_width"),
            pn.FlexBox(self._save_name, save, self._saved, load, share, sizing_mode="stretch_width"),
            self._share_text,
            sizing_mode="stretch_width",
        )

    def _open_pasted(self) -> None:
        text = (self._paste.value or "").strip()
        if text:
            self._link.param.update(state=text, saved="")

    def _save(self) -> None:
        try:
            saved = self._store.save((self._save_name.value or "").strip(), self._session.state)
        except Exception as exc:
            self._failed(exc)
            return
        self._saved.options = self._saved_options()
        self._message[:] = [
            text_alert(
                f"Saved the view as '{saved.name}'.", alert_type="success", sizing_mode="stretch_width"
            )
        ]

    def _saved_options(self) -> list[str]:
        return [""] + [saved.name for saved in self._store.list()]

    def _load_saved(self) -> None:
        if self._saved.value:
            self._link.param.update(saved=self._saved.value, state="")

    def _share(self) -> None:
        url = self.share_link(self._session.state)
        if len(url) > MAX_LINK_CHARS:  # the server would refuse it: a saved view carries any size
            self._share_text.visible = False
            self._failed(
                NgStateError(
                    f"This view is too large for a link ({len(url) // 1000} kB): save it and share the "
                    "saved view instead."
                )
            )
            return
        self._share_text.param.update(value=url, visible=True)

    def __panel__(self) -> pn.viewable.Viewable:
        centre = pn.Column(
            self._message,
            self._viewer,
            self._controls,
            pn.Card(self._json, title="State JSON", collapsed=True, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
            min_width=520,
        )
        return pn.Row(
            pn.Column(self._chat, width=430),
            centre,
            pn.Column(self._results, width=420),
            sizing_mode="stretch_width",
        )


@register_page(
    "neuroglancer",
    "Neuroglancer + chat",
    icon="◎",
    order=20,
    link=NeuroglancerLink,
    extensions=("tabulator", "filedropper"),
)
def build_neuroglancer_page(ctx: AppContext, link: NeuroglancerLink) -> NeuroglancerPage:
    return NeuroglancerPage(ctx, link)

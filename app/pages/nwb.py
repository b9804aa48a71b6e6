"""The NWB page: its link parameters, and the two-way sync between them and an ``NwbBrowser``."""

from __future__ import annotations

import functools
from typing import Any

import panel as pn
import param

from app.context import AppContext
from app.identity import jobs_for, model_budget_for, session_person
from app.registry import register_page, register_routes, register_warm_up
from app.routing import PageLink
from components.background import BackgroundWork, run_on_session_thread
from components.nwb.assistant import CodePolicy, NwbAssistant
from components.nwb.browser import NwbBrowser
from components.nwb.controller import NwbFileController
from components.nwb.dandi_browser import DandiBrowser
from components.nwb.edf_viewer import EdfViewer
from components.nwb.movie_route import movie_routes
from components.nwb.tables_across import TablesAcross, across_card
from components.nwb.views.units import warm_up_raster
from components.safe_text import text_alert
from engines.edf import open_edf
from engines.kernel import KernelLimits
from engines.nwb.tables_across import list_sources
from engines.people import Person
from engines.tables.limits import QueryLimits

__all__ = ["NwbLink", "build_nwb_page"]


class NwbLink(PageLink):
    """``?page=nwb&url=&path=&view=&t0=&t1=&channels=&units=``: a copied address reopens the same picture."""

    url = param.String(default="", doc="Path or URL of the file ('' = the default file).")
    path = param.String(default="", doc="Object path inside the file.")
    view = param.String(default="", doc="Id of the view (traces, raster, intervals, ...).")
    t0 = param.Number(default=None, allow_None=True, doc="Start of the time window of time-based views (s).")
    t1 = param.Number(default=None, allow_None=True, doc="End of the time window (s).")
    channels = param.List(default=[], item_type=int, doc="Channel indices shown by traces, e.g. 0-3,7.")
    units = param.List(default=[], item_type=int, doc="Unit ids shown by the raster.")
    series = param.List(default=[], item_type=str, doc="Aligned view: object paths stacked, e.g. /a,/units.")
    trials = param.String(default="", doc="Trial views: the TimeIntervals table to align to.")
    align = param.String(default="", doc="Trial views: the column of event times (start_time, ...).")
    group = param.String(default="", doc="Trial views: the column that groups the trials.")
    pre = param.Number(
        default=None, allow_None=True, doc="Trial views: window start relative to the event (s)."
    )
    post = param.Number(
        default=None, allow_None=True, doc="Trial views: window end relative to the event (s)."
    )
    bin = param.Number(default=None, allow_None=True, bounds=(0.0001, None), doc="PSTH bin (s).")
    sweeps = param.List(default=[], item_type=int, doc="Icephys view: the sweep ids shown, e.g. 0-2,5.")
    sweep_group = param.String(default="", doc="Icephys view: the table level or column grouping sweeps.")
    average = param.Boolean(default=False, doc="Icephys view: show each group's mean ± SD.")
    assistant = param.Boolean(default=False, doc="Show the assistant (chat) beside the views.")
    chat = param.String(default="", doc="Id of a saved assistant conversation to reopen.")
    across = param.String(
        default="", doc="Tables across files: the table path read (/units, /intervals/trials)."
    )
    files = param.String(
        default="", doc="Tables across files: a folder, a dandiset (000123@version) or URLs."
    )

    continuous = ("t0", "t1")


def selection_from_link(link: NwbLink) -> tuple[dict[str, Any], list[str]]:
    """The controller values a link names, and why a half-given or reversed window was ignored."""
    problems: list[str] = []
    window = None
    if link.t0 is not None and link.t1 is not None and link.t1 > link.t0:
        window = (link.t0, link.t1)
    elif link.t0 is not None or link.t1 is not None:
        problems.append(
            "The address's time window needs both t0 and t1, with t0 before t1; "
            "showing each view's default window."
        )
    alignment = {
        key: value
        for key, value in (
            ("table", link.trials),
            ("column", link.align),
            ("group", link.group),
            ("pre", link.pre),
            ("post", link.post),
            ("bin", link.bin),
        )
        if value not in (None, "")
    }
    return {
        "object_path": link.path,
        "view": link.view,
        "time_window": window,
        "channels": list(link.channels),
        "units": list(link.units),
        "series": list(link.series),
        "alignment": alignment,
        **_icephys_arguments(link),
    }, problems


_ICEPHYS = ("sweeps", "sweep_group", "average")


def _icephys_arguments(state: Any) -> dict[str, Any]:
    """The icephys view's selection, named alike in the link and the controller."""
    return {name: getattr(state, name) for name in _ICEPHYS} | {"sweeps": list(state.sweeps)}


def _alignment_arguments(alignment: dict[str, Any]) -> dict[str, Any]:
    """The controller's trial alignment as link values ('' / None where not chosen)."""
    return {
        "trials": alignment.get("table", ""),
        "align": alignment.get("column", ""),
        "group": alignment.get("group", ""),
        "pre": alignment.get("pre"),
        "post": alignment.get("post"),
        "bin": alignment.get("bin"),
    }


class _LinkSync:
    """Keeps the page's link and the browser equal; a guard flag stops the echo of each write."""

    def __init__(self, link: NwbLink, browser: NwbBrowser) -> None:
        self._link = link
        self._browser = browser
        self._writing = False
        self._controller_watcher: param.parameterized.Watcher | None = None
        link.param.watch(self._from_link, link.argument_names())
        link.param.watch(lambda e: browser.show_notices(e.new), "problems")
        browser.param.watch(self._on_controller_replaced, "controller")
        browser.param.watch(self._to_link, "source")
        self._on_controller_replaced()

    def _on_controller_replaced(self, *_events) -> None:
        controller = self._browser.shared
        if self._controller_watcher is not None:
            self._controller_watcher.inst.param.unwatch(self._controller_watcher)
        self._controller_watcher = controller.param.watch(
            self._to_link,
            ["object_path", "view", "time_window", "channels", "units", "series", "alignment", *_ICEPHYS],
        )
        self._to_link()

    def _from_link(self, *_events) -> None:
        if self._writing or is_edf(self._link.url):
            return
        selection, problems = selection_from_link(self._link)
        if problems:
            self._link.problems = [*self._link.problems, *problems]
        self._browser.navigate(self._link.url, **selection)

    def _to_link(self, *_events) -> None:
        if is_edf(self._link.url):
            return  # an EDF recording is on screen: its viewer owns the link
        controller = self._browser.shared
        window = controller.time_window
        values = {
            "url": self._browser.source,
            "path": controller.object_path,
            "view": controller.view,
            "t0": window[0] if window else None,
            "t1": window[1] if window else None,
            "channels": list(controller.channels),
            "units": list(controller.units),
            "series": list(controller.series),
            **_alignment_arguments(controller.alignment),
            **_icephys_arguments(controller),
        }
        changed = {name: value for name, value in values.items() if getattr(self._link, name) != value}
        if not changed:
            return
        self._writing = True
        try:
            self._link.param.update(**changed)
        finally:
            self._writing = False


register_warm_up(warm_up_raster)
register_routes(lambda ctx: movie_routes(ctx.settings.source_policy))  # ImageSeries movies, by range


def _assistant(ctx: AppContext, browser: NwbBrowser, link: NwbLink, person: Person) -> NwbAssistant:
    settings = ctx.settings
    allowed, reason = settings.code_execution(person)
    limits = KernelLimits(
        time_s=settings.code_time_s, memory_mb=settings.code_memory_mb, env_allow=settings.kernel_env_allow
    )
    code = CodePolicy(allowed, reason, limits, settings.jupyter_url, settings.jupyter_token)
    doc = pn.state.curdoc

    def navigate(selection: dict[str, Any]) -> None:  # from the chat's thread
        run_on_session_thread(doc, lambda: browser.navigate(browser.source, **selection))

    assistant = NwbAssistant(
        lambda: browser.current_file,
        lambda: browser.source or settings.default_source,
        navigate,
        settings.llm,
        settings.workspace,
        code,
        jobs=jobs_for(ctx, person),
        person=person,
        budget=model_budget_for(settings, person),
        opening=lambda: browser.opening,
    )
    assistant.chat.open_conversation(link.chat)
    assistant.chat.param.watch(lambda e: setattr(link, "chat", e.new), "conversation")
    link.param.watch(lambda e: assistant.chat.open_conversation(e.new), "chat")
    return assistant


def is_edf(text: str) -> bool:
    return (text or "").split("?")[0].lower().endswith((".edf", ".bdf"))


class _RecordingArea(pn.viewable.Viewer):
    """The NWB browser, or an EDF/BDF viewer when the address names such a file (same link: url, t0, t1,
    channels)."""

    def __init__(self, ctx: AppContext, link: NwbLink) -> None:
        super().__init__()
        self._ctx, self._link = ctx, link
        self._browser: NwbBrowser | None = None
        self.work = BackgroundWork(name="recording")
        self._edf: EdfViewer | None = None
        self._doc = pn.state.curdoc
        self._holder = pn.Column(sizing_mode="stretch_both")
        self._message = pn.Column(sizing_mode="stretch_width")
        link.param.watch(lambda _e: self._show_edf_soon(), ["url"])
        self.work.on_close(self._close_edf)
        if is_edf(link.url):
            pn.state.onload(self._show_edf_soon)

    def attach(self, browser: NwbBrowser) -> None:
        """The NWB browser shown whenever the address names no EDF recording."""
        self._browser = browser
        if self._edf is None:
            self._holder[:] = [browser]

    def open_elsewhere(self, text: str) -> bool:
        """The browser's hook: EDF addresses are opened here (the link changes, then the view)."""
        if not is_edf(text):
            return False
        if self._link.url != text:
            self._link.param.update(url=text, path="", view="", t0=None, t1=None, channels=[])
        else:
            self._show_edf_soon()
        return True

    def _close_edf(self) -> None:
        if self._edf is not None:
            self._edf.close()
            self._edf = None

    def _show_edf_soon(self) -> None:
        """Swap what the area shows on the session's thread, whichever thread asked.

        Panel runs clicks and page-load callbacks on its thread pool and defers their model
        updates; under load a swap of ``_holder`` made there now and then never reached the page
        (the address changed, the picture did not). On the session's thread it is applied at once.
        """
        run_on_session_thread(self._doc, self._show_edf)

    def _show_edf(self) -> None:
        if not is_edf(self._link.url):
            if self._edf is not None:
                self._close_edf()
                self._holder[:] = [self._browser]
            return
        text, policy = self._link.url, self._ctx.settings.source_policy()
        window = (
            (self._link.t0, self._link.t1)
            if self._link.t0 is not None and self._link.t1 is not None
            else None
        )
        controller = NwbFileController(time_window=window, channels=list(self._link.channels))
        self._holder.loading = True

        def build() -> EdfViewer:
            return EdfViewer(open_edf(text, policy), controller, self.work)

        def show(viewer: EdfViewer) -> None:
            self._close_edf()
            self._edf = viewer
            self._holder.loading = False
            self._message[:] = []
            controller.param.watch(lambda _e: self._to_link(controller), ["time_window", "channels"])
            self._holder[:] = [
                pn.Row(
                    pn.widgets.Button(
                        name="◀ back to the NWB browser",
                        width=220,
                        on_click=lambda _e: self._back_to_browser(),
                    ),
                    sizing_mode="stretch_width",
                ),
                viewer,
            ]

        def failed(exc: BaseException) -> None:
            self._holder.loading = False
            self._message[:] = [text_alert(exc, alert_type="danger", sizing_mode="stretch_width")]

        self.work.run("edf-open", build, apply=show, failed=failed, discard=lambda viewer: viewer.close())

    def _back_to_browser(self) -> None:
        """The link drops the recording; its watchers (address, browser, this area) run on the session's
        thread."""

        run_on_session_thread(self._doc, lambda: self._link.param.update(url=""))

    def _to_link(self, controller: NwbFileController) -> None:
        window = controller.time_window
        self._link.param.update(
            t0=window[0] if window else None,
            t1=window[1] if window else None,
            channels=list(controller.channels),
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self._message, self._holder, sizing_mode="stretch_both")


def _open_address(link: NwbLink, address: str) -> None:
    """A file picked in the DANDI browser replaces the open one and everything the link said about it."""
    link.param.update(
        url=address, path="", view="", t0=None, t1=None, channels=[], units=[], series=[], sweeps=[]
    )


def _tables_across(ctx: AppContext, work: BackgroundWork) -> TablesAcross:
    policy = ctx.settings.source_policy()
    limits = QueryLimits(timeout_s=ctx.settings.sql_timeout_s)
    lister = functools.partial(list_sources, policy=policy)
    return TablesAcross(ctx.open_nwb, lister, work, limits, max_rows=ctx.settings.sql_max_rows)


@register_page("nwb", "NWB browser", icon="◧", order=10, link=NwbLink, extensions=("tabulator", "codeeditor"))
def build_nwb_page(ctx: AppContext, link: NwbLink) -> pn.viewable.Viewable:
    selection, problems = selection_from_link(link)
    area = _RecordingArea(ctx, link)
    person = session_person(ctx.settings)
    browser = NwbBrowser(
        open_file=ctx.open_nwb,
        default_source=ctx.settings.default_source,
        jobs=jobs_for(ctx, person),
        source="" if is_edf(link.url) else link.url,
        selection=selection,
        notices=[*link.problems, *problems],
        open_elsewhere=area.open_elsewhere,
    )
    area.attach(browser)
    _LinkSync(link, browser)  # kept alive by the watchers it registers on the link and the browser
    dandi = DandiBrowser(
        ctx.settings.source_policy(),
        on_open=functools.partial(_open_address, link),
        work=area.work,
    )
    toggle = pn.widgets.Toggle(
        name="Assistant",
        value=link.assistant,
        button_type="primary",
        width=110,
        css_classes=["nd-assistant-toggle"],
    )
    column = pn.Column(width=460, visible=False)

    def show_assistant(shown: bool) -> None:
        """The assistant is built the first time it is shown, or when a link names one of its chats: most
        visits
        never open it, and building its chat was much of what opening the page cost the server."""
        if (shown or link.chat) and not len(column):
            column[:] = [_assistant(ctx, browser, link, person)]
        column.visible = shown

    show_assistant(link.assistant)
    toggle.param.watch(lambda e: show_assistant(e.new), "value")
    toggle.param.watch(lambda e: setattr(link, "assistant", e.new), "value")
    link.param.watch(lambda e: setattr(toggle, "value", e.new), "assistant")
    link.param.watch(lambda e: show_assistant(toggle.value), "chat")
    return pn.Column(
        toggle,
        pn.Card(dandi, title="Browse DANDI", collapsed=True, sizing_mode="stretch_width"),
        across_card(functools.partial(_tables_across, ctx, area.work), link),
        pn.Row(area, column, sizing_mode="stretch_both"),
        sizing_mode="stretch_both",
    )

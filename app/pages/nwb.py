"""The NWB page: wires the session's deep-link state to an ``NwbBrowser`` over the shared engine."""

from __future__ import annotations

import panel as pn

from app.context import AppContext
from app.registry import register_page
from app.session import SessionState
from components.nwb_browser import NwbBrowser

_LINKED = {"source": "source", "object_path": "object_path", "view": "view"}


@register_page("nwb", "NWB browser", icon="◧", order=10)
def build_nwb_page(ctx: AppContext, state: SessionState) -> pn.viewable.Viewable:
    browser = NwbBrowser(open_file=ctx.open_nwb, default_source=ctx.settings.default_source, products=ctx.products,
                         source=state.source, object_path=state.object_path, view=state.view)
    browser.param.watch(lambda *events: state.param.update({_LINKED[e.name]: e.new for e in events}), list(_LINKED))
    state.param.watch(lambda *events: browser.param.update({e.name: e.new for e in events}), list(_LINKED))
    return browser

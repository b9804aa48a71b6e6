"""Panel's stylesheets always from the app's own ``static/``, never its CDN, in every session.

Panel builds each widget's stylesheets (loading spinner, markdown, theme) with CDN addresses and then
points them at the address in the document's ``dist_url``, which it sets when it renders the session's
page. Two paths lose that document, and Panel then falls back to the CDN:

- A session built from its websocket alone (``--num-procs``: the page came from another process) never
  had its page rendered here, so its document has no ``dist_url``: it is given this server's.
- A pane re-rendered against ``model.document`` (Panel 1.9's Markdown, HTML, image and plot panes do),
  which is None for a model made while the document's models are frozen: a pane added and changed in
  one held batch, as the chat's streamed reply is. The patch then rewrote the session's *shared*
  stylesheet objects to ``cdn.holoviz.org``: a page asked a third party for its styles, and offline lost
  them. Such a patch now goes to the current document's own address instead.

Panel has no setting for either (its resource mode decides where new stylesheets point, not where a
patch without a document goes), so the second wraps Panel's one ``patch_stylesheet``, as imported by the
modules that call it. A server told to use the CDN (``BOKEH_RESOURCES=cdn``) keeps Panel's behaviour.
"""

from __future__ import annotations

from typing import Any

import panel as pn
import panel.reactive as panel_reactive
from panel.io import resources as panel_resources
from panel.io.resources import CDN_DIST, LOCAL_DIST, get_dist_path, use_cdn

__all__ = ["stylesheets_from_this_server"]

_PANELS_PATCH = panel_resources.patch_stylesheet


def stylesheets_from_this_server(doc: Any) -> None:
    """``doc``'s stylesheets from the app's ``static/`` (call as its session starts): also when this process
    never rendered its page, and for panes Panel re-renders without their document."""
    for module in (panel_resources, panel_reactive):  # theme.base imports it from resources when it calls
        module.patch_stylesheet = _patch_toward_this_server  # type: ignore[attr-defined]
    if doc is not None:
        doc._template_variables.setdefault("dist_url", LOCAL_DIST)


def _patch_toward_this_server(stylesheet: Any, dist_url: str) -> None:
    if dist_url == CDN_DIST and not use_cdn():
        dist_url = _current_dist_url()
    _PANELS_PATCH(stylesheet, dist_url)


def _current_dist_url() -> str:
    doc = pn.state.curdoc
    if doc is not None and "dist_url" in doc._template_variables:
        return str(doc._template_variables["dist_url"])
    return get_dist_path(cdn=False)

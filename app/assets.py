"""Every file a page needs comes from the app's own origin: no third-party request on load, icons offline too.

Panel and Bokeh serve their own JS and CSS (``static/``), but Bokeh draws Tabler icons (the chat's
send and stop buttons, any widget's ``icon=``) with a stylesheet and webfont it links from a public
CDN: every page load asked a third party, and offline the icons were blank. The webfont is bundled
in ``assets/web/tabler-icons`` (MIT, from the npm package ``@tabler/icons-webfont``) and served at
``<prefix>/nd-assets/``; ``local-icons.js`` points Bokeh's icon view there before anything renders.
``tabulator-pending-data.js`` mends Panel's Tabulator, which dropped rows sent while a table was being built.
"""

from __future__ import annotations

from pathlib import Path

import panel as pn
from tornado.web import StaticFileHandler

from app.registry import register_routes

__all__ = ["ASSETS_PATH", "WEB_ASSETS", "serve_assets_locally", "asset_routes"]

ASSETS_PATH = "nd-assets"
"""Where the bundled web assets are served, under the app's prefix."""
WEB_ASSETS = Path(__file__).resolve().parents[1] / "assets" / "web"


def serve_assets_locally() -> None:
    """Load the icon font from the app, not a CDN (call once before serving). The script's address is relative
    to the page, so it works behind ``--prefix`` and from any hostname."""
    pn.config.js_files["neurodeck-local-icons"] = f"{ASSETS_PATH}/local-icons.js"
    pn.config.js_files["neurodeck-tabulator-pending-data"] = f"{ASSETS_PATH}/tabulator-pending-data.js"


@register_routes
def asset_routes(_ctx) -> list[tuple]:
    return [(rf"/{ASSETS_PATH}/(.*)", StaticFileHandler, {"path": str(WEB_ASSETS)})]

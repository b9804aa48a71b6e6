"""Per-browser-session state: what page, file, object and view this user is looking at."""

from __future__ import annotations

import param

from app.routing import DeepLink

__all__ = ["SessionState"]


class SessionState(param.Parameterized):
    """One per session; pages write to it and the router mirrors it into the address bar."""

    page = param.String(default="nwb", doc="Name of the page shown.")
    source = param.String(default="", doc="Path or URL of the open NWB file.")
    object_path = param.String(default="", doc="Path of the selected object inside the file.")
    view = param.String(default="", doc="Id of the view shown for the selected object.")
    embedded = param.Boolean(default=False, doc="Shown inside another site's iframe: no header.")

    def link(self) -> DeepLink:
        return DeepLink(page=self.page, url=self.source or None, path=self.object_path or None,
                        view=self.view or None, embedded=self.embedded)

    def apply_link(self, link: DeepLink, default_page: str, default_source: str) -> None:
        self.param.update(
            page=link.page or default_page,
            source=link.url or default_source,
            object_path=link.path or "",
            view=link.view or "",
            embedded=link.embedded,
        )

"""Per-browser-session state: which page is shown, and every page's own link state.

Each page's ``PageLink`` exists from the session's start, built or not, so back/forward can
restore a page's state before its tab is first opened, and switching tabs keeps each state.
"""

from __future__ import annotations

import param

from app.registry import PageRegistry
from app.routing import Address, PageLink, apply_link, to_query

__all__ = ["SessionState"]


class SessionState(param.Parameterized):
    """One per session; pages write to their link and the shell mirrors it into the address bar."""

    page = param.String(default="", doc="Name of the page shown.")
    embedded = param.Boolean(default=False, doc="Shown inside another site's iframe: no header.")

    def __init__(self, pages: PageRegistry, **params) -> None:
        super().__init__(**params)
        self._default_page = pages.names()[0]
        self._names = pages.names()
        self.links: dict[str, PageLink] = {spec.name: spec.link() for spec in pages if spec.link is not None}

    def apply_address(self, address: Address) -> None:
        """Show the page the address names (the first page if it names none or an unknown one) with its
        state."""
        page = address.page if address.page in self._names else self._default_page
        link = self.links.get(page)
        if link is not None:
            apply_link(link, address.arguments)
            if address.page and address.page != page:
                link.problems = [
                    *link.problems,
                    f"There is no page named '{address.page}'; showing this one.",
                ]
        self.param.update(page=page, embedded=address.embedded)

    def query(self) -> str:
        """The address bar's search string for what is shown now."""
        return to_query(self.page, self.links.get(self.page), self.embedded)

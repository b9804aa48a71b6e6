"""Browser history for deep links: add or replace an entry when the app navigates, report back/forward.

Panel's ``Location`` pushes entries but does not listen for ``popstate``, so back/forward
would change the address without changing the page. This component does both directions.
Continuous changes (a zoom window) replace the current entry, so Back goes to the previous
place rather than through every zoom step.
"""

from __future__ import annotations

import param
from panel.custom import JSComponent

__all__ = ["BrowserHistory"]


class BrowserHistory(JSComponent):
    """Invisible; ``search`` is the query string (``?page=...``), kept equal to the address bar."""

    search = param.String(default="", doc="Query string of the current address, with the leading '?'.")
    replace = param.Boolean(
        default=False, doc="The next change of ``search`` replaces the entry instead of adding one."
    )

    def navigate(self, search: str, replace: bool = False) -> None:
        """Show ``search`` in the address bar as a new history entry (or in place of the current one)."""
        if search != self.search:
            self.replace = replace  # sent before ``search``: messages arrive in order
            self.search = search

    _esm = """
    export function render({ model }) {
      const here = () => window.location.pathname + model.search + window.location.hash
      if (model.search !== window.location.search) {
        window.history.replaceState({}, "", here())
      }
      const onPop = () => { model.search = window.location.search }
      window.addEventListener("popstate", onPop)
      model.on("search", () => {
        if (model.search !== window.location.search) {
          if (model.replace) {
            window.history.replaceState({}, "", here())
          } else {
            window.history.pushState({}, "", here())
          }
        }
      })
      model.on("remove", () => window.removeEventListener("popstate", onPop))
      const el = document.createElement("span")
      el.style.display = "none"
      return el
    }
    """

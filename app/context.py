"""Server-wide services shared by all sessions (built once in ``serve``): settings and caches.

Only things that are safe to share live here -- the settings (immutable) and stores that
are keyed by content (an NWB index is the same for every user of the same file version).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.settings import Settings
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import NwbFile, open_nwb

__all__ = ["AppContext"]


@dataclass
class AppContext:
    settings: Settings
    index_store: IndexStore

    @classmethod
    def create(cls, settings: Settings) -> "AppContext":
        settings.workspace.mkdir(parents=True, exist_ok=True)
        return cls(settings=settings, index_store=IndexStore(settings.workspace))

    def open_nwb(self, text: str) -> NwbFile:
        """Open a file for one session; the index is shared through the store."""
        return open_nwb(text, self.settings.source_policy(), self.index_store)

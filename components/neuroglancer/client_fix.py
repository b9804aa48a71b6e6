"""The Neuroglancer client served with its state-sync race mended, through neuroglancer's own static hook.

The client sends each change of the user's to its Python server as a POST carrying the generation it
last had from the server (``pg``); the server refuses one whose generation is no longer current (412),
and the client then waits for the server's state on its event stream. When the server changed the
state (a chat tool moved the view) while one of the client's POSTs was on its way back, the client
first applied the server's state from the event stream and then, on the POST's late answer,
overwrote that newer generation with the older one it had been given. From then on every change the
user made was refused, and the event stream had nothing new to say: the user's clicks, pans and
selections stayed on their screen and never reached the app (a selected annotation never selected
its table row), until the app happened to change the state again. A slow server (a loaded
machine) makes the window wide; the browser test holds a POST's answer back to open it every time.

The mend is the one guard the client lacks: a POST's answer sets the client's generation only
when no server state arrived while it was on its way (``setServerState`` advances
``clientGeneration`` past the change the POST carried). It is applied to the installed client's
own code through ``neuroglancer.set_static_content_source``, the package's hook for where its
client comes from; no file is written. The pattern is matched on the minified code, whose local
names change between builds, so it is matched by shape; a client without it (a newer release
that changed or fixed this code) is served unchanged, with a warning, and a test says so.
"""

from __future__ import annotations

import logging
import re
import threading

import neuroglancer
from neuroglancer import static

__all__ = ["PatchedClientSource", "install_client_fix", "mend_state_sync"]

log = logging.getLogger(__name__)

_ANSWER_SETS_GENERATION = re.compile(
    r"if\(200===(?P<response>\w+)\.status\)\{let (?P<answer>\w+)=await (?P=response)\.json\(\);"
    r"this\.lastServerState=(?P<state>\w+),this\.lastServerGeneration=(?P=answer)\.g,"
    r"this\.clientGeneration=(?P<count>\w+)\}"
)


def mend_state_sync(code: str) -> tuple[str, bool]:
    """``code`` with the POST answer's generation guarded; True when the client's sync code was found."""

    def guarded(match: re.Match[str]) -> str:
        response, answer, state, count = match.group("response", "answer", "state", "count")
        return (
            f"if(200==={response}.status){{let {answer}=await {response}.json();"
            f"this.clientGeneration<{count}&&(this.lastServerState={state},"
            f"this.lastServerGeneration={answer}.g,this.clientGeneration={count})}}"
        )

    mended, found = _ANSWER_SETS_GENERATION.subn(guarded, code)
    return mended, found == 1


class PatchedClientSource(static.StaticContentSource):
    """The package's own client files, the script that syncs the state mended (cached once made)."""

    def __init__(self, inner: static.StaticContentSource | None = None) -> None:
        self._inner = inner or static.get_default_static_content_source()
        self._mended: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.found = False  # whether any file held the sync code (read by the test of the installed client)

    def get_content(self, name: str) -> bytes:
        cached = self._mended.get(name)  # every viewer loads the script: read and mend it once
        if cached is not None:
            return cached
        data = self._inner.get_content(name)
        if not name.endswith(".js") or b"lastServerGeneration" not in data:
            return data
        with self._lock:
            text, found = mend_state_sync(data.decode("utf-8"))
            if not found:
                log.warning("neuroglancer client %s: its state-sync code has changed; served unmended", name)
            self.found = self.found or found
            cached = self._mended[name] = text.encode("utf-8")
        return cached


_installed: PatchedClientSource | None = None
_install_lock = threading.Lock()


def install_client_fix() -> PatchedClientSource:
    """Serve this process's viewers the mended client (idempotent; before or after the server starts)."""
    global _installed
    with _install_lock:
        if _installed is None:
            _installed = PatchedClientSource()
            neuroglancer.set_static_content_source(source=_installed)
        return _installed

"""One browser session's viewer state: the current ``NgState``, undo, and who to tell when it changes.

Tools (on the chat's thread) and the page (on the session's thread) both change the state,
so every change goes through one lock, and listeners are told after it is released. The
embedded viewer reports the user's own pans and zooms as Neuroglancer's client JSON; those
are merged in (``merge_viewer_state``) so the keys the client does not keep (unknown keys,
key order, layers' extra fields) survive a round trip through the viewer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from engines.ngstate.state import NgState

__all__ = ["ViewerSession", "merge_viewer_state"]

Listener = Callable[[NgState, str], None]


def merge_viewer_state(ours: NgState, theirs: Mapping[str, Any]) -> NgState:
    """``ours`` updated with every value the viewer reports; keys it does not report stay as they were.

    Top-level keys keep our order (new ones are appended). Layers are matched by name: each
    keeps its own extra keys and takes the viewer's values; layers the user added in the
    viewer are appended, layers the user deleted there are dropped.
    """
    merged = ours.to_dict()
    for key, value in theirs.items():
        if key == "layers" and isinstance(value, list) and isinstance(merged.get("layers"), list):
            merged["layers"] = _merge_layers(merged["layers"], value)
        else:
            merged[key] = value
    return NgState(merged)


def _merge_layers(ours: list[Any], theirs: list[Any]) -> list[Any]:
    by_name = {layer.get("name"): layer for layer in ours if isinstance(layer, dict)}
    result = []
    for layer in theirs:
        if not isinstance(layer, dict):
            continue
        mine = dict(by_name.get(layer.get("name"), {}))
        mine.update(layer)
        result.append(mine)
    return result


class ViewerSession:
    """The state one user sees; ``set`` from any thread, ``on_change`` to hear about it (``(state,
    reason)``)."""

    def __init__(self, state: NgState, max_undo: int = 50) -> None:
        self._state = state
        self._undo: list[NgState] = []
        self._max_undo = max_undo
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    @property
    def state(self) -> NgState:
        with self._lock:
            return self._state

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def set(self, state: NgState, reason: str) -> NgState:
        """Replace the state (a tool's edit, a loaded link); listeners hear of it with ``reason``."""
        with self._lock:
            if state == self._state:
                return state
            self._undo = [*self._undo, self._state][-self._max_undo :]
            self._state = state
        for listener in list(self._listeners):
            listener(state, reason)
        return state

    def update(self, edit: Callable[[NgState], NgState], reason: str) -> NgState:
        """Apply ``edit`` to the current state atomically (two tools at once never lose an edit)."""
        with self._lock:
            before = self._state
            after = edit(before)
            if after == before:
                return before
            self._undo = [*self._undo, before][-self._max_undo :]
            self._state = after
        for listener in list(self._listeners):
            listener(after, reason)
        return after

    def absorb_viewer(self, reported: Mapping[str, Any]) -> NgState:
        """The user moved the viewer: merge what it reports, tell nobody back (the viewer already shows
        it)."""
        with self._lock:
            self._state = merge_viewer_state(self._state, reported)
            return self._state

    def undo(self) -> NgState | None:
        """Back to the state before the last change; None when there is nothing to undo."""
        with self._lock:
            if not self._undo:
                return None
            self._state = self._undo.pop()
            state = self._state
        for listener in list(self._listeners):
            listener(state, "undo")
        return state

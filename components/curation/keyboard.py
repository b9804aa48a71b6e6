"""Keyboard shortcuts for a page: keys pressed anywhere on the page (not while typing in a field) reach
Python.

Reviewers go through hundreds of groups; taking a hand off the keyboard for each verdict is what makes review
slow. ``KeyboardShortcuts(keys=["a", "r", ...], on_key=...)`` calls ``on_key(key)`` once for every press of
one of those keys, in order (each press is its own message, so two quick presses are never merged into one).
Typing into an input, a text area or an editable element is left alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import param
from panel.custom import JSComponent

__all__ = ["KeyboardShortcuts", "TYPING_JS"]

TYPING_JS = """
      const typing = (event) => {
        const target = event.composedPath()[0]
        if (!target || !target.tagName) return false
        const tag = target.tagName.toLowerCase()
        return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable
      }
"""
"""JavaScript: ``typing(event)``, whether a key event was typed into a field (such presses are left alone)."""


class KeyboardShortcuts(JSComponent):
    """Invisible; ``on_key(key)`` runs for every reported press."""

    keys = param.List(
        default=[], item_type=str, doc="Keys to report, as KeyboardEvent.key names ('a', 'ArrowRight')."
    )

    def __init__(self, on_key: Callable[[str], Any] | None = None, **params) -> None:
        super().__init__(**params)
        self._on_key = on_key

    def _handle_msg(self, msg: Any) -> None:
        key = msg.get("key") if isinstance(msg, dict) else None
        if self._on_key is not None and key in self.keys:
            self._on_key(key)

    _esm = (
        """
    export function render({ model }) {"""
        + TYPING_JS
        + """      const onKey = (event) => {
        if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return
        if (!model.keys.includes(event.key)) return
        event.preventDefault()
        model.send_msg({ key: event.key })
      }
      document.addEventListener("keydown", onKey)
      model.on("remove", () => document.removeEventListener("keydown", onKey))
      const el = document.createElement("span")
      el.style.display = "none"
      return el
    }
    """
    )

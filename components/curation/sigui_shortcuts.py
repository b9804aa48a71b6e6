"""spikeinterface-gui's keyboard shortcuts without React from a CDN.

spikeinterface-gui's Panel views each add a ``KeyboardShortcuts`` component, a Panel ``ReactComponent``:
Panel loads React for it from esm.sh, a third party, on every page that shows one (and offline the
views' shortcuts would not load at all). ``use_offline_shortcuts`` puts ``OfflineShortcuts`` in its place
in ``spikeinterface_gui.utils_panel``, where every view looks the class up when it builds its layout: the
same ``shortcuts`` list and ``on_msg`` messages, in plain JavaScript served with the page. It also leaves
keys typed into an input alone (the original took ``g``, ``m``, ``n`` and the space bar from every field on
the page). The swap is the same for every session and done once per process.
"""

from __future__ import annotations

import threading

import param
from panel.custom import JSComponent

from components.curation.keyboard import TYPING_JS

__all__ = ["OfflineShortcuts", "use_offline_shortcuts"]

_SWAP = threading.Lock()


class OfflineShortcuts(JSComponent):
    """Invisible; sends the matching shortcut's ``name`` (see spikeinterface-gui's ``KeyboardShortcut``)."""

    shortcuts = param.List(
        default=[], item_type=dict, doc="{name, key, ctrlKey?, altKey?, metaKey?, shiftKey?} per shortcut."
    )

    _esm = (
        """
    const hash = (s) => `${s.key}.${+!!s.altKey}.${+!!s.ctrlKey}.${+!!s.metaKey}.${+!!s.shiftKey}`
    export function render({ model }) {"""
        + TYPING_JS
        + """      const onKey = (event) => {
        if (typing(event)) return
        const named = {}
        for (const s of model.shortcuts) {
          named[hash(s)] = s.name
          if (s.ctrlKey) named[hash({ ...s, ctrlKey: false, metaKey: true })] = s.name
        }
        const name = named[hash(event)]
        if (!name) return
        event.preventDefault()
        event.stopPropagation()
        model.send_msg(name)
      }
      window.addEventListener("keydown", onKey)
      model.on("remove", () => window.removeEventListener("keydown", onKey))
      const el = document.createElement("span")
      el.style.display = "none"
      return el
    }
    """
    )


def use_offline_shortcuts() -> None:
    """Make spikeinterface-gui's views build ``OfflineShortcuts`` (idempotent; import it before calling)."""
    from spikeinterface_gui import utils_panel

    with _SWAP:
        utils_panel.KeyboardShortcuts = OfflineShortcuts

"""Script-injection probes for a real browser: payloads that report to the page when they run.

Each payload is tagged with a number and, if the page runs it as code, pushes that number onto
``window.__xss`` (``arm`` creates the list before any page script runs). A sweep records every
payload it tried and every one that ran, so a test asserts none ran and a benchmark counts them:

    sweep = XssSweep()
    sweep.arm(page)                                   # once per Playwright page
    page.goto(app_url + "?page=nwb&path=" + quote(sweep.payload("nwb path")))
    ...                                               # wait for the page to show it
    sweep.collect(page)                               # before the next navigation
    sweep.tried, sweep.executed                       # labels

``link_sweep(page, app_url)`` runs the deep-link part (every link argument of every page) and
returns the sweep: ``len(s.tried)`` payloads tried, ``len(s.executed)`` executed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

__all__ = ["XssSweep", "PAYLOAD_KINDS", "LINK_LOADS", "link_sweep"]

PAYLOAD_KINDS = ("img", "script")
"""An ``<img>`` whose error handler runs, and a ``<script>`` element (Panel runs scripts of markup it
inserts)."""

_ARM = "window.__xss = window.__xss || [];"


@dataclass
class XssSweep:
    tried: list[str] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)

    def payload(self, label: str, kind: str = "img") -> str:
        """A new payload for ``label`` (what carries it: a link argument, an object name, a reply)."""
        number = len(self.tried)
        self.tried.append(label)
        text = (
            f"<img src=x onerror=__xss.push({number})>"
            if kind == "img"
            else f"<script>__xss.push({number})</script>"
        )
        self.texts[label] = text
        return text

    @staticmethod
    def arm(page) -> None:
        page.add_init_script(_ARM)

    def collect(self, page) -> list[str]:
        """The labels whose payloads ran on the page now shown (also added to ``executed``)."""
        numbers = page.evaluate("() => (window.__xss || []).slice()")
        ran = [self.tried[n] for n in sorted(set(numbers)) if 0 <= n < len(self.tried)]
        self.executed.extend(label for label in ran if label not in self.executed)
        return ran

    def shown(self, page, label: str, timeout_ms: float = 15_000) -> bool:
        """Whether the payload of ``label`` is on the page as text (shadow roots included)."""
        try:
            page.get_by_text(self.texts[label]).first.wait_for(state="visible", timeout=timeout_ms)
            return True
        except Exception:
            return False


LINK_LOADS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    # page: (valid arguments that go with the payloads, arguments whose payload the page shows as text)
    "nwb": ({"assistant": "1"}, ("path", "t0", "t1", "channels", "units", "pre", "post", "bin", "chat")),
    "nwb-url": ({}, ("url", "assistant")),
    "neuroglancer": ({}, ("chat",)),
    "neuroglancer-saved": ({}, ("saved",)),
    "neuroglancer-layer": ({}, ()),
    "curation": ({}, ("analyzer",)),
    "training": ({}, ("run",)),
}
"""One page load per entry, every argument of the page's link carrying a payload at once (where one
argument would hide another's message, a second load carries it)."""

_ARGUMENTS = {
    "nwb": (
        "path",
        "view",
        "t0",
        "t1",
        "channels",
        "units",
        "trials",
        "align",
        "group",
        "pre",
        "post",
        "bin",
        "chat",
    ),
    "nwb-url": ("url", "assistant"),
    "neuroglancer": ("state", "chat"),
    "neuroglancer-saved": ("saved",),
    "neuroglancer-layer": ("state",),
    "curation": ("group", "analyzer"),
    "training": ("run",),
}


def _layer_state(name: str) -> str:
    """A valid Neuroglancer state whose one layer is named ``name`` (shown in the page's state JSON)."""
    state = {
        "dimensions": {"x": [1e-9, "m"], "y": [1e-9, "m"], "z": [1e-9, "m"]},
        "position": [1, 2, 3],
        "layers": [{"type": "annotation", "name": name, "annotations": []}],
        "layout": "xy",
    }
    return "#!" + json.dumps(state)


def link_address(app_url: str, load: str, sweep: XssSweep) -> str:
    page = load.split("-")[0]
    fixed, _shown = LINK_LOADS[load]
    pairs = [("page", page)]
    for i, name in enumerate(_ARGUMENTS[load]):
        text = sweep.payload(f"{load}:{name}", PAYLOAD_KINDS[i % 2] if name != "path" else "img")
        pairs.append((name, _layer_state(text) if load == "neuroglancer-layer" else text))
    return app_url + "?" + urlencode(pairs + list(fixed.items()))


def link_sweep(page, app_url: str, sweep: XssSweep | None = None) -> tuple[XssSweep, list[str]]:
    """Every link argument of every page with a payload; returns the sweep and the labels not shown as
    text."""
    sweep = sweep or XssSweep()
    sweep.arm(page)
    missing: list[str] = []
    for load, (_fixed, shown) in LINK_LOADS.items():
        page.goto(link_address(app_url, load, sweep))
        page.get_by_text(re.compile("Neurodeck")).first.wait_for(timeout=60_000)
        if not shown:  # nothing to read on the page (a collapsed card): give it time to run what it would
            page.wait_for_timeout(5_000)
        for i, name in enumerate(shown):  # the first waits for the page to settle; the rest are there by then
            if not sweep.shown(page, f"{load}:{name}", timeout_ms=20_000 if i == 0 else 3_000):
                missing.append(f"{load}:{name}")
        sweep.collect(page)
    return sweep, missing

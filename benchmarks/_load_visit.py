"""The scripted visit of one simulated user, page by page, with what each click waits for.

Every click below names what the person waits to see, as a predicate over the server's answer
(the models it defines or changes after the click was sent; ``Tab.find(fresh=True)``):

NWB browser (``?page=nwb``, the bundled demo file)
  open         the page loads and the object tree shows rows
  raster       click ``units`` in the tree: a new plot (the units raster)
  expand       click ``acquisition``: the tree shows its children
  series       click ``acquisition/experiment_ids``: a new plot (its first view)
  traces       the view tab "Traces": a new plot
  zoom         zoom the traces out to ten times the window (range + ``rangesupdate``, as Bokeh's wheel zoom
               sends them): plotted data from beyond the old window arrives (read for the new window)
Neuroglancer + chat
  tab          switch to the tab: its chat input is on the page (the page is built on first view)
  chat         send ``go to <x> 40 20 and zoom in`` (offline planner): the state JSON shows position x, 40, 20
               (set in the same session-thread step that moves the viewer). The viewer's own page is fetched
               through the app's proxy too (a failure is an error, not a click).
Curation review (the generated demo analyzer)
  tab          switch to the tab: the review grid and a group's detail are shown
  accept       the "Accept (a)" button: the detail of the next group is shown
  next         the ``→`` key (the page's keyboard shortcuts): the detail is redrawn for the focused group
Training
  tab          switch to the tab: the run list counts at least one run
  open run     click the run in the list: its header names it and its loss curves are drawn

A click that gets no such answer within the timeout, a page that shows an error (a "danger"
alert), a lost connection or a failed page load is an error; the rest of that page's clicks
are skipped and the visit goes on with the next page, as a person would.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from benchmarks._load_client import Model, Tab, TabError

__all__ = ["Outcome", "Visit", "gather_visits", "RUN_NAME"]

RUN_NAME = "load-benchmark"
"""The training run the benchmark's workspace holds (made before the server starts)."""
_HEADING = re.compile(r"Group (\d+): units")
_RUN_COUNT = re.compile(r"(\d+) of (\d+) runs?")
_VIEWER = re.compile(r"ngv/v/([\w-]+)/")


@dataclass
class Outcome:
    """What one visit measured: page loads and clicks (page, click, seconds) and errors (page, click, why)."""

    opens: list[float] = field(default_factory=list)
    clicks: list[tuple[str, str, float]] = field(default_factory=list)
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    received_bytes: int = 0


class Visit:
    """One user's visit on one tab; ``run`` leaves the tab open (the caller closes it)."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        user: int,
        timeout_s: float,
        think_s: tuple[float, float],
        seed: int,
    ) -> None:
        self.tab = Tab(base_url, headers)
        self.outcome = Outcome()
        self._base_url = base_url.rstrip("/") + "/"
        self._headers = headers
        self._user = user
        self._timeout_s = timeout_s
        self._think_s = think_s
        self._random = random.Random(seed * 1000 + user)
        self._page = ""
        self._click = ""

    async def run(self) -> Outcome:
        try:
            return await self._pages()
        finally:
            self.outcome.received_bytes = self.tab.received_bytes

    async def _pages(self) -> Outcome:
        for page, section in (
            ("nwb", self._nwb),
            ("neuroglancer", self._neuroglancer),
            ("curation", self._curation),
            ("training", self._training),
        ):
            self._page = page
            try:
                await section()
            except Exception as exc:  # a TabError, or a page not as the visit knows it: an error, not a crash
                why = str(exc) if isinstance(exc, TabError) else f"{type(exc).__name__}: {exc}"
                self.outcome.errors.append((page, self._click, why))
                if not self.tab.opened:
                    return self.outcome  # no page, no tabs to switch to
        return self.outcome

    # --- the pages --------------------------------------------------------------------------------
    async def _nwb(self) -> None:
        tab = self.tab
        self._click = "open"
        self.outcome.opens.append(
            await tab.open("?page=nwb", lambda: self._tree() is not None, self._timeout_s)
        )
        await self._do(
            "raster", lambda: self._tree_click("/units"), lambda: bool(tab.find("Figure", fresh=True))
        )
        await self._do(
            "expand",
            lambda: self._tree_click("/acquisition"),
            lambda: "/acquisition/experiment_ids" in self._tree_paths(fresh=True),
        )
        await self._do(
            "series",
            lambda: self._tree_click("/acquisition/experiment_ids"),
            lambda: bool(tab.find("Figure", fresh=True)),
        )
        views = self._one("RadioButtonGroup")
        await self._do(
            "traces",
            lambda: tab.change(views, active=tab.attr(views, "labels").index("Traces")),
            lambda: bool(tab.find("Figure", fresh=True)),
        )
        figure = self._newest("Figure")
        x_range = tab.ref(tab.attr(figure, "x_range"))
        start, end = tab.attr(x_range, "start", 0.0), tab.attr(x_range, "end")  # Bokeh leaves out a 0 start
        new_end = start + 10 * (end - start)
        y_range = tab.ref(tab.attr(figure, "y_range"))
        zoom = tab.change(x_range, start=start, end=new_end) + tab.event(
            "rangesupdate",
            figure,
            x0=start,
            x1=new_end,
            y0=tab.attr(y_range, "start", 0.0),
            y1=tab.attr(y_range, "end"),
        )
        sources = {tab.attr(tab.ref(r), "data_source", {}).get("id") for r in tab.attr(figure, "renderers")}
        await self._do("zoom", lambda: zoom, lambda: self._plotted_beyond(sources, end))

    async def _neuroglancer(self) -> None:
        tab = self.tab
        await self._switch("Neuroglancer", lambda: bool(self._chat_input(fresh=True)))
        await self._viewer_page()
        x = 10 + self._user % 50
        await self._do(
            "chat",
            lambda: tab.event(
                "chat_message_event", self._chat_input()[0], value=f"go to {x} 40 20 and zoom in"
            ),
            lambda: self._position(fresh=True) == [x, 40, 20],
        )

    async def _curation(self) -> None:
        tab = self.tab
        await self._switch(
            "Curation",
            lambda: self._heading(fresh=True) is not None and any("groups shown" in t for t in tab.texts()),
        )
        await self._do(
            "accept",
            lambda: tab.event("button_click", self._one("Button", label="Accept (a)")),
            lambda: self._heading(fresh=True) is not None,
        )
        keys = [m for m in tab.find("ReactiveESM") if tab.attr(m, "class_name") == "KeyboardShortcuts"]
        if not keys:
            raise TabError("the curation page has no keyboard shortcuts")
        await self._do(
            "next",
            lambda: tab.event("data_event", keys[-1], data={"key": "ArrowRight"}),
            lambda: self._heading(fresh=True) is not None,
        )

    async def _training(self) -> None:
        tab = self.tab
        await self._switch(
            "Training",
            lambda: any(int(m.group(1)) >= 1 for t in tab.texts(fresh=True) for m in _RUN_COUNT.finditer(t)),
        )
        runs = [m for m in tab.find("DataTabulator") if RUN_NAME in self._column(m, "name")]
        if not runs:
            raise TabError(f"the run list does not show {RUN_NAME}")
        row = self._column(runs[-1], "name").index(RUN_NAME)
        await self._do(
            "open run",
            lambda: tab.event("cell-click", runs[-1], column="name", row=row),
            lambda: (
                any(RUN_NAME in t and "font-weight:600" in t for t in tab.texts(fresh=True))
                and any(len(data.get("step", [])) for i, data in tab.data.items() if i in tab.touched)
            ),
        )

    # --- clicks -----------------------------------------------------------------------------------
    async def _do(self, click: str, events: Callable[[], list], expect: Callable[[], bool]) -> None:
        """Think, then click and time it (``events`` is built after the pause, from the page as it is
        then)."""
        self._click = click
        await asyncio.sleep(self._random.uniform(*self._think_s))
        seconds = await self.tab.act(events(), expect, self._timeout_s)
        self.outcome.clicks.append((self._page, click, seconds))

    async def _switch(self, title: str, expect: Callable[[], bool]) -> None:
        self._click = "open"
        tabs = next(
            (
                m
                for m in self.tab.find("panel.models.tabs.Tabs")
                if "nd-pages" in self.tab.attr(m, "css_classes", [])
            ),
            None,
        )
        if tabs is None:
            raise TabError("the app's page tabs are not on the page")
        titles = [self.tab.attr(self.tab.ref(panel), "title") or "" for panel in self.tab.attr(tabs, "tabs")]
        index = next(i for i, text in enumerate(titles) if title in text)
        await self._do("tab", lambda: self.tab.change(tabs, active=index), expect)

    async def _viewer_page(self) -> None:
        """The viewer's own page, as the iframe loads it (through the app's proxy)."""
        self._click = "viewer page"
        found = [m.group(1) for t in self.tab.texts() for m in _VIEWER.finditer(t)]
        if not found:
            raise TabError("the Neuroglancer page has no viewer frame")
        answer = await AsyncHTTPClient().fetch(
            HTTPRequest(
                f"{self._base_url}ngv/v/{found[-1]}/", headers=self._headers, request_timeout=self._timeout_s
            ),
            raise_error=False,
        )
        if answer.code != 200:
            raise TabError(f"the viewer page answered {answer.code}")

    # --- reading the page -------------------------------------------------------------------------
    def _one(self, name: str, **attributes) -> Model:
        found = self.tab.find(name, **attributes)
        if not found:
            raise TabError(f"no {name} {attributes or ''} on the page")
        return found[-1]

    def _newest(self, name: str) -> Model:
        """The model of that type the server defined most recently (ids grow: ``p1234``)."""
        found = self.tab.find(name)
        if not found:
            raise TabError(f"no {name} on the page")
        return max(found, key=lambda m: int(re.sub(r"\D", "", m["id"]) or 0))

    def _tree(self) -> tuple[Model, list[str]] | None:
        """The object tree's table and its rows' paths (a Tabulator whose source has a ``path`` column)."""
        for table in self.tab.find("DataTabulator"):
            paths = self._column(table, "path")
            if len(paths) >= 3 and all(isinstance(p, str) and p.startswith("/") for p in paths):
                return table, paths
        return None

    def _tree_paths(self, fresh: bool = False) -> list[str]:
        tree = self._tree()
        if tree is None:
            return []
        source = self.tab.attr(tree[0], "source", {}).get("id")
        return tree[1] if not fresh or source in self.tab.touched else []

    def _tree_click(self, path: str) -> list:
        tree = self._tree()
        if tree is None or path not in tree[1]:
            raise TabError(f"the object tree does not show {path}")
        return self.tab.event("cell-click", tree[0], column="name", row=tree[1].index(path))

    def _column(self, table: Model, name: str) -> list:
        source = self.tab.attr(table, "source", {}).get("id")
        return list(self.tab.data.get(source, {}).get(name, []))

    def _plotted_beyond(self, sources: set, end: float) -> bool:
        """Some plotted time (x) of these sources lies past ``end``: data read for the new window arrived."""
        for source in sources & self.tab.touched:
            for name, values in self.tab.data.get(source, {}).items():
                if "time" not in name:
                    continue
                arrays = (
                    values
                    if isinstance(values, list) and values and hasattr(values[0], "__len__")
                    else [values]
                )
                if any(len(a) and max(a) > end for a in arrays):
                    return True
        return False

    def _chat_input(self, fresh: bool = False) -> list[Model]:
        return [
            m
            for m in self.tab.find("ChatAreaInput", fresh=fresh)
            if "go to" in (self.tab.attr(m, "placeholder") or "")
        ]

    def _position(self, fresh: bool = False) -> list[float] | None:
        for model in self.tab.find("panel.models.markup.JSON", fresh=fresh):
            try:
                return [
                    round(v) for v in json.loads(self.tab.attr(model, "text") or "{}").get("position", [])
                ]
            except (ValueError, TypeError):
                continue
        return None

    def _heading(self, fresh: bool = False) -> int | None:
        for text in self.tab.texts(fresh=fresh):
            found = _HEADING.search(text)
            if found:
                return int(found.group(1))
        return None


def gather_visits(visits: list[Visit], start_spread_s: float) -> Awaitable[list[Outcome]]:
    """Run the visits at once, each starting at a random moment within ``start_spread_s`` (people arrive)."""

    async def staggered(visit: Visit) -> Outcome:
        await asyncio.sleep(visit._random.uniform(0, start_spread_s))
        return await visit.run()

    return asyncio.gather(*(staggered(v) for v in visits))

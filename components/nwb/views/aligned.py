"""Several series of one file stacked on one time axis: traces, events, intervals and spikes together.

Pick objects from the file's time-based ones (grouped by kind; the selected object is picked
first) and each gets a compact panel, one above the other, all showing the file's shared
window (the controller's ``time_window``): zooming one panel moves them all, and the other
time-based views' zooms arrive here too. Each panel reads only the window, through the same
extraction function as the object's own view (``engines.nwb.extract.stacked``), off the
session's thread; a panel that cannot be read says why and the others still draw. The picked
objects are the controller's ``series``, so a link (``series=/acquisition/a,/units``) reopens them.
"""

from __future__ import annotations

import functools
import logging

import panel as pn

from components.nwb.views.aligned_draw import PANEL_HEIGHTS, draw_panel
from components.nwb.views.base import NwbView
from components.safe_text import escape_text, safe_choices
from components.windowed_plot import Window, WindowedPlot, as_window
from engines.errors import NeurodeckError
from engines.nwb.extract.stacked import (
    KINDS,
    StackedWindow,
    StackItem,
    default_stacked_window,
    read_stacked,
    stack_item,
    stackable_objects,
    stacked_extent,
)
from engines.nwb.index import NwbIndex
from engines.nwb.nwbfile import NwbFile

__all__ = ["AlignedSeriesView"]

log = logging.getLogger(__name__)

MAX_PANELS = 12
"""More panels than this would each be too small to read; the picker says so."""
_KIND_TITLES = {"traces": "Traces", "events": "Events", "intervals": "Intervals", "units": "Units"}
_FIRST_PICKS = 4


def _reason(exc: BaseException) -> str:
    """What a person reads in the panel: the engine's message, or the error's class for a surprise."""
    if isinstance(exc, NeurodeckError):
        return str(exc)
    log.error("Reading a stacked panel failed", exc_info=exc)
    return f"{type(exc).__name__}: {str(exc)[:200]}"


class _Panel:
    """One object's panel: its title line and its plot, or why it cannot be shown."""

    def __init__(self, view: AlignedSeriesView, item: StackItem) -> None:
        self.view, self.item = view, item
        self.requested: Window | None = None
        self.plot: WindowedPlot | None = None
        self.title = pn.pane.Markdown(self._title(None), margin=(4, 10, 0, 10))
        self.body = pn.Column(sizing_mode="stretch_width", height=PANEL_HEIGHTS[item.kind])
        self.layout = pn.Column(self.title, self.body, sizing_mode="stretch_width", margin=(0, 0, 6, 0))

    def read_now(self, window: Window) -> None:
        """The first read, on the thread that builds the view (never the session's)."""
        self.requested = window
        try:
            self.show(read_stacked(self.view.nwbfile, self.item, *window), window)
        except Exception as exc:  # one object that cannot be read must not hide the others
            self.fail(exc)

    def _title(self, data: StackedWindow | None) -> str:
        """The object's path and type, then what its window holds (escaped: names come from the file)."""
        kind = _KIND_TITLES[self.item.kind]
        what = f"{self.item.neurodata_type} · {kind}" if self.item.neurodata_type else kind
        extra = f" · {data.summary()}" if data is not None else ""
        return f"**{escape_text(self.item.path)}** &nbsp; {escape_text(what + extra)}"

    def show(self, data: StackedWindow, window: Window) -> None:
        self.body.loading = False
        self.title.object = self._title(data)
        if self.plot is None:
            self.plot = WindowedPlot(draw_panel, data, window, on_zoom=self.view.controller.set_window)
            height = PANEL_HEIGHTS[self.item.kind]  # the pane's: an overlay's own height gives way to it
            self.body[:] = [pn.pane.HoloViews(self.plot.dmap, sizing_mode="stretch_width", height=height)]
        else:
            self.plot.show(data, window)

    def fail(self, exc: BaseException) -> None:
        self.body.loading = False
        self.plot = None
        self.body[:] = [
            pn.pane.Alert(
                escape_text(f"{self.item.path} could not be read: {_reason(exc)}"),
                alert_type="warning",
                sizing_mode="stretch_width",
            )
        ]

    def request(self, window: Window) -> None:
        """Read ``window`` off the session's thread; the newest request per panel wins."""
        if window == self.requested:
            return
        self.requested = window
        self.body.loading = True
        view, item = self.view, self.item
        view.work.run(
            view.work_key(f"panel-{item.path}"),
            lambda: read_stacked(view.nwbfile, item, *window),
            apply=lambda data: self.show(data, window),
            failed=self.fail,
        )


class AlignedSeriesView(NwbView):
    id = "align"
    title = "Aligned"
    time_based = True

    @classmethod
    def applies(cls, index: NwbIndex, path: str) -> bool:
        """The file root when it has any time-based object, and every time-based object."""
        if path in ("", "/"):
            return bool(stackable_objects(index))
        return path in index and stack_item(index, path) is not None

    def __init__(self, nwbfile: NwbFile, path: str, jobs=None, controller=None, work=None, **params) -> None:
        super().__init__(nwbfile, path, jobs, controller, work, **params)
        self._items = {item.path: item for item in stackable_objects(nwbfile.index)}
        picked = self._picked()
        window = self.controller.time_window
        self._window = as_window(window) if window else self._default_window(picked)
        self._panels: dict[str, _Panel] = {p: _Panel(self, self._items[p]) for p in picked}
        for panel in self._panels.values():
            panel.read_now(self._window)
        self._stack = pn.Column(*(p.layout for p in self._panels.values()), sizing_mode="stretch_width")
        self._picker = pn.widgets.MultiChoice(
            label="Series on the shared time axis",
            options=safe_choices(self._choices()),
            value=picked,
            max_items=MAX_PANELS,
            sizing_mode="stretch_width",
        )
        self._picker.param.watch(self._on_pick, "value")
        self._status = pn.pane.Markdown(self._describe(), css_classes=["nd-muted"], margin=(0, 10))
        self.watch_controller(self._on_shared, ["time_window", "series"])

    # --- what is picked ------------------------------------------------------------------------
    def _choices(self) -> dict[str, str]:
        """Labels to paths, grouped by kind (traces, events, intervals, units), file order within each."""
        ordered = sorted(self._items.values(), key=lambda item: KINDS.index(item.kind))
        return {f"{_KIND_TITLES[item.kind]} · {item.path}": item.path for item in ordered}

    def _picked(self) -> list[str]:
        """The controller's series that this file has; else the defaults."""
        picked = [p for p in dict.fromkeys(self.controller.series) if p in self._items][:MAX_PANELS]
        return picked or self._defaults()

    def _defaults(self) -> list[str]:
        """The selected object when it is time-based, else the first object of each kind."""
        own = stack_item(self.nwbfile.index, self.path) if self.path not in ("", "/") else None
        if own is not None:
            return [own.path]
        kinds: dict[str, str] = {}
        for item in self._items.values():
            kinds.setdefault(item.kind, item.path)
        return [kinds[k] for k in KINDS if k in kinds][:_FIRST_PICKS]

    def _default_window(self, picked: list[str]) -> Window:
        extents = []
        for path in picked:
            try:
                extents.append(stacked_extent(self.nwbfile, self._items[path]))
            except Exception as exc:  # its panel will say why; the window comes from the others
                log.debug("no extent for %s: %s", path, exc)
        return default_stacked_window(extents)

    def _on_pick(self, event) -> None:
        picked = [str(p) for p in event.new]
        self.controller.series = [] if picked == self._defaults() else picked

    # --- the shared state ----------------------------------------------------------------------
    def _on_shared(self, *_events) -> None:
        window = self.controller.time_window
        if window is not None:
            self._window = as_window(window)
        picked = self._picked()
        if list(self._picker.value) != picked:
            self._picker.value = picked
        for path in list(self._panels):
            if path not in picked:
                self._panels.pop(path)
                self.work.cancel(self.work_key(f"panel-{path}"))
        for path in picked:
            if path not in self._panels:
                self._panels[path] = self._new_panel(path)
            else:
                self._panels[path].request(self._window)
        self._stack[:] = [self._panels[p].layout for p in picked]
        self._status.object = self._describe()

    def _new_panel(self, path: str) -> _Panel:
        """A panel added by a pick: shown at once with a spinner, its first read off the session's thread."""
        panel = _Panel(self, self._items[path])
        panel.request(self._window)
        return panel

    def _describe(self) -> str:
        t0, t1 = self._window
        return (
            f"Window **{t0:.3f} – {t1:.3f} s** · {len(self._panels)} of {len(self._items)} time-based "
            "objects · zoom or pan any panel (mouse wheel, drag) and all follow"
        )

    def _shift(self, fraction: float, zoom: float = 1.0) -> None:
        t0, t1 = self._window
        centre, half = (t0 + t1) / 2 + fraction * (t1 - t0), (t1 - t0) / 2 * zoom
        self.controller.set_window(centre - half, centre + half)

    def _on_button(self, fraction: float, zoom: float, _event: object) -> None:
        self._shift(fraction, zoom)

    def __panel__(self) -> pn.viewable.Viewable:
        buttons = []
        for label, fraction, zoom in (
            ("◀", -0.5, 1.0),
            ("Zoom in", 0.0, 0.5),
            ("Zoom out", 0.0, 2.0),
            ("▶", 0.5, 1.0),
        ):
            button = pn.widgets.Button(label=label, width=80 if len(label) > 1 else 45)
            button.on_click(functools.partial(self._on_button, fraction, zoom))
            buttons.append(button)
        return pn.Column(
            self._picker, pn.Row(*buttons), self._status, self._stack, sizing_mode="stretch_width"
        )

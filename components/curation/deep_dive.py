"""The deep dive: spikeinterface-gui's own web views of the analyzer under review, following the grid's group.

"Open in spikeinterface-gui" builds its controller on a read-only copy of the review's analyzer (off the
session's thread: about a second on the demo) and its views for this page: units (merge, labels), waveforms
of the group's units overlaid, the probe map, the spike list, PCA when the analyzer has principal
components, and traces when the recording is attached. The group in focus is the set of visible units, and
follows the grid. Merges and labels made in the views are saved to the decision store as they are made
(``engines.curation.deep_dive.save_changes``), under the signed-in person, and the grid is refreshed.

spikeinterface-gui is an optional extra: without it the button says how to install it.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import panel as pn
import param

from components.background import BackgroundWork, run_on_session_thread
from components.curation.sigui_shortcuts import use_offline_shortcuts
from components.safe_text import escape_text, text_alert
from engines.curation import CurationReview
from engines.curation.data import plain_unit_id
from engines.curation.deep_dive import (
    SIGUI_INSTALL,
    check_deep_dive,
    read_only_analyzer,
    save_changes,
    sigui_missing,
    starting_curation,
)
from engines.errors import NeurodeckError

__all__ = ["DeepDive"]

log = logging.getLogger(__name__)

_VIEWS = (
    ("unitlist", "Units: tick to show, Merge / ctrl+m merges the selected, g / m / n label"),
    ("waveform", "Waveforms"),
    ("probe", "Probe map"),
    ("spikelist", "Spike list"),
    ("ndscatter", "PCA"),
    ("trace", "Traces"),
)
"""spikeinterface-gui's view ids shown here, in reading order (two a row), with their titles."""
_WHY_NOT = {
    "ndscatter": "PCA needs the principal_components extension, which this analyzer lacks.",
    "trace": "Traces need the recording, which is not attached to this analyzer.",
}
_ROW_HEIGHT = 440


@dataclass
class _Built:
    """One controller and its views, built off the session's thread."""

    controller: Any
    views: dict[str, Any]
    seconds: float
    absent: list[str] = field(default_factory=list)


def _build(review: CurationReview) -> _Built:
    """Off the session's thread: spikeinterface-gui's controller and the views this page shows."""
    started = time.perf_counter()
    check_deep_dive(review)
    from spikeinterface_gui.controller import Controller
    from spikeinterface_gui.viewlist import get_all_possible_views

    use_offline_shortcuts()
    controller = Controller(
        read_only_analyzer(review.analyzer),
        backend="panel",
        curation=True,
        curation_data=starting_curation(review),
        with_traces=review.status.has_recording,
        disable_save_settings_button=True,  # it writes to the home folder's config
        # colours by visibility: the group's units get distinct colours, and the per-unit palette (glasbey,
        # which compiles with numba for about 15 s on first use) is never needed
        user_main_settings={"color_mode": "color_by_visibility"},
    )
    classes = get_all_possible_views()
    views, absent = {}, []
    for name, _title in _VIEWS:
        if controller.check_is_view_possible(name) and (name != "trace" or review.status.has_recording):
            views[name] = classes[name](controller=controller, parent=None, backend="panel")
        else:
            absent.append(name)
    return _Built(controller, views, time.perf_counter() - started, absent)


class DeepDive(pn.viewable.Viewer):
    """``group`` is the grid's focused group; ``on_saved`` runs after each change saved from the views."""

    group = param.Integer(default=None, allow_None=True, doc="The group whose units are shown.")

    def __init__(
        self,
        review: CurationReview,
        work: BackgroundWork,
        on_saved: Callable[[], None] | None = None,
        **params: Any,
    ) -> None:
        super().__init__(**params)
        self._review = review
        self._work = work
        self._on_saved = on_saved
        self._built: _Built | None = None
        self._synced: dict[str, Any] = {}
        self._doc = pn.state.curdoc
        self._open = pn.widgets.Button(
            name="Open in spikeinterface-gui", button_type="primary", width=260, disabled=True
        )
        self._open.on_click(lambda _e: self.open())
        self._status = pn.pane.Markdown("Checking for spikeinterface-gui…", margin=(0, 10))
        self._message = pn.Column(sizing_mode="stretch_width")
        self._views = pn.Column(sizing_mode="stretch_width")
        work.on_close(self._release)
        work.run("deep-dive-check", sigui_missing, apply=self._checked)

    # --- opening ---------------------------------------------------------------------------------------
    def _checked(self, missing: str) -> None:
        if missing:
            self._unavailable(missing)
            return
        self._open.disabled = False
        self._status.object = (
            "spikeinterface-gui's views of this group's units: waveforms, probe, spikes, PCA, traces. "
            "Merges and labels made there are saved as your verdicts and labels."
        )

    def _unavailable(self, why: str) -> None:
        self._open.param.update(name=f"Deep dive needs {SIGUI_INSTALL}", disabled=True, width=420)
        self._status.object = ""
        self._message[:] = [text_alert(why, alert_type="warning", sizing_mode="stretch_width")]

    def open(self) -> None:
        """Build spikeinterface-gui's views off the session's thread, then show them."""
        self._open.disabled = True
        self._message[:] = []
        self._status.object = "Building spikeinterface-gui's views…"
        self._views.loading = True
        self._work.run("deep-dive", lambda: _build(self._review), apply=self._show, failed=self._failed)

    def _failed(self, exc: BaseException) -> None:
        self._views.loading = False
        text = str(exc) if isinstance(exc, NeurodeckError) else f"{type(exc).__name__}: {exc}"
        if sigui_missing():
            self._unavailable(text)
            return
        self._open.disabled = False
        self._status.object = ""
        self._message[:] = [text_alert(text, alert_type="danger", sizing_mode="stretch_width")]

    def _show(self, built: _Built) -> None:
        self._release()
        self._built = built
        self._synced = copy.deepcopy(built.controller.curation_data)
        for view in built.views.values():
            view.notifier.param.watch(self._curation_changed, "manual_curation_updated")
        side_by_side = [self._box(name, title, built) for name, title in _VIEWS if name in built.views]
        wide = [box for box in side_by_side if "nd-sigui-trace" in box.css_classes]  # traces want the width
        paired = [box for box in side_by_side if box not in wide]
        absent = " ".join(_WHY_NOT.get(name, f"{name} is not available here.") for name in built.absent)
        self._views[:] = [
            *([pn.pane.Alert(absent, alert_type="light", margin=(4, 4))] if absent else []),
            *(pn.Row(*paired[i : i + 2], sizing_mode="stretch_width") for i in range(0, len(paired), 2)),
            *wide,
        ]
        self._views.loading = False
        self._open.param.update(name="Rebuild the views", disabled=False)
        self._show_group()
        for view in built.views.values():
            view.refresh()

    @staticmethod
    def _box(name: str, title: str, built: _Built) -> pn.Column:
        return pn.Column(
            pn.pane.Markdown(f"**{title}**", margin=(4, 10, 0, 10)),
            built.views[name].layout,
            height=_ROW_HEIGHT,
            sizing_mode="stretch_width",
            css_classes=[f"nd-sigui-{name}"],
            styles={"border": "1px solid #ddd", "border-radius": "4px"},
            margin=(4, 4),
        )

    def _release(self) -> None:
        """Let go of the controller and its views (a rebuild or the session's end): their watchers go with
        them, and the page's widgets are left alone (at the session's end there is no page)."""
        self._built = None

    # --- following the grid ----------------------------------------------------------------------------
    @param.depends("group", watch=True)
    def _show_group(self) -> None:
        built = self._built
        if built is None or self.group is None:
            return
        try:
            units = set(self._review.group(self.group).unit_ids)
        except NeurodeckError as exc:
            self._message[:] = [text_alert(exc, alert_type="warning")]
            return
        controller = built.controller
        controller.set_visible_unit_ids([u for u in controller.unit_ids if plain_unit_id(u) in units])
        unitlist = built.views.get("unitlist")
        if unitlist is not None:  # tells every other view, as a tick in its table would
            unitlist.notify_unit_and_channel_visibility_changed()
            unitlist.refresh()
        pn.state.execute(lambda: self._present_group(built), schedule=True)  # after the views' own refreshes
        shown = ", ".join(escape_text(u) for u in controller.get_visible_unit_ids())
        self._status.object = (
            f"**Group {self.group}**: units {shown} · built in {built.seconds:.1f} s · merges and labels "
            "made below are saved as your verdicts and labels."
        )

    @staticmethod
    def _present_group(built: _Built) -> None:
        """The group's units at the top of the unit table and their spikes listed (spikeinterface-gui empties
        its spike list when the visible units change, until its refresh button is pressed). Calls the two
        views' own refresh steps (private in spikeinterface-gui 0.14) in this order, now: scheduled apart,
        the sort ran before the new group's ticks were set, and put the wrong rows on top."""
        unitlist, spikelist = built.views.get("unitlist"), built.views.get("spikelist")
        if unitlist is not None and getattr(unitlist.table, "sort_dropdown", None) is not None:
            unitlist._panel_refresh()  # its visible column first: a sort must not see the previous group's
            table = unitlist.table
            table.selection = []  # a selection kept across the new order left the browser's rows stale
            table.direction_dropdown.value = "↓"
            if table.sort_dropdown.value == "visible":
                table.sort_dropdown.param.trigger("value")
            else:
                table.sort_dropdown.value = "visible"
        if spikelist is not None:
            spikelist._panel_refresh_label()
            spikelist._panel_refresh_table()

    # --- curation made in spikeinterface-gui ------------------------------------------------------------
    def _curation_changed(self, _event: Any) -> None:
        """A view changed spikeinterface-gui's curation (in a callback it scheduled itself): save what is new
        with the page's other changes, on the session's thread."""
        run_on_session_thread(self._doc, self._save_curation)

    def _save_curation(self) -> None:
        built = self._built
        if built is None:
            return
        after = copy.deepcopy(built.controller.curation_data)
        try:
            saved = save_changes(self._review, self.group, self._synced, after)
        except NeurodeckError as exc:
            self._message[:] = [text_alert(exc, alert_type="danger", sizing_mode="stretch_width")]
            return
        self._synced = after
        if not saved:
            return
        self._message[:] = [
            text_alert("Saved: " + "; ".join(saved) + ".", alert_type="success", sizing_mode="stretch_width")
        ]
        if self._on_saved is not None:
            self._on_saved()

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown("### Deep dive with spikeinterface-gui", margin=(10, 10, 0, 10)),
            pn.Row(self._open, self._status, sizing_mode="stretch_width"),
            self._message,
            self._views,
            sizing_mode="stretch_width",
            min_height=200,
        )

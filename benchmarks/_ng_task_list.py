"""The Neuroglancer agent task suite: what a user types, what a good model calls, how to tell it worked.

Each ``NgTask`` starts from the page's demo state (``build_demo_state``) and its ROI table
(``assets/demo_rois.csv`` as ``rois``), after its ``setup`` calls (made through the same tool
registry, not timed: an undo needs something to undo). ``rounds`` are the tool calls a good
model returns for the command, round by round (a later round may use what an earlier one
read, so its arguments are what that read gives on the demo table). ``check`` looks only at
the outcome a user would look at: the viewer state after the turn, the tables, and the tool
results shown in the chat; it never looks at which tool was called, so the offline planner
and the model are judged alike.

Expected values come from the CSV itself (polars), not from the tools under test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from engines.agent.events import ToolFinished
from engines.agent.toolsets import MultiViewArtifact
from engines.ngstate import NgState, list_annotations, lut_range
from engines.ngstate.view import ORIENTATIONS
from engines.tables import TableWorkspace

__all__ = ["CATEGORIES", "DEMO_ROIS", "NgTask", "Outcome", "Step", "TASKS"]

DEMO_ROIS = Path(__file__).resolve().parents[1] / "assets" / "demo_rois.csv"
ROIS = pl.read_csv(DEMO_ROIS)
CENTRE = (64.0, 64.0, 24.0)
"""The demo state's position: the middle of the 128 x 128 x 48 volume."""
START_LUT = (15.0, 200.0)
CATEGORIES = (
    "navigate",
    "zoom",
    "visibility",
    "contrast",
    "segments",
    "annotations",
    "layout",
    "ranking",
    "join",
    "undo",
)


@dataclass(frozen=True)
class Step:
    """One tool call (a model's, or a task's setup)."""

    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What a user sees after the turn: the state before the setup, before the turn and after it; the tool
    results shown in the chat; the session's tables."""

    initial: NgState
    before: NgState
    state: NgState
    finished: Sequence[ToolFinished]
    tables: TableWorkspace

    def views(self) -> MultiViewArtifact | None:
        """The ranked table the turn made (the last one), if any."""
        found = [f.artifact for f in self.finished if isinstance(f.artifact, MultiViewArtifact)]
        return found[-1] if found else None


@dataclass(frozen=True)
class NgTask:
    id: str
    category: str
    command: str
    rounds: tuple[tuple[Step, ...], ...]
    check: Callable[[Outcome], bool]
    setup: tuple[Step, ...] = ()


# --- expected values, from the CSV -------------------------------------------------------------------
def _ranked(metric: str, n: int, descending: bool = True) -> pl.DataFrame:
    return ROIS.sort(metric, descending=descending).head(n)


def _centroid(row: dict[str, Any]) -> list[float]:
    return [float(row["x"]), float(row["y"]), float(row["z"])]


def _ids_where(expression: pl.Expr) -> list[int]:
    return ROIS.filter(expression)["id"].to_list()


BIGGEST = _ranked("volume_um3", 1).row(0, named=True)
MOST_ELONGATED = _ranked("elongation", 3).to_dicts()
BRIGHT_IDS = _ids_where(pl.col("brightness") == "bright")
LARGE_IDS = _ids_where(pl.col("volume_um3") > 300)


# --- predicates ---------------------------------------------------------------------------------------
def _near(values: Sequence[float] | None, expected: Sequence[float], tolerance: float = 0.01) -> bool:
    return (
        values is not None
        and len(values) == len(expected)
        and all(math.isclose(v, e, abs_tol=tolerance) for v, e in zip(values, expected))
    )


def at(*expected: float) -> Callable[[Outcome], bool]:
    """The view is centred on ``expected`` (x, y, z)."""
    return lambda o: _near(list((o.state.position or {}).values()), expected)


def scaled(ratio: float) -> Callable[[Outcome], bool]:
    """The 2-D zoom is ``ratio`` times the one before (0.5: twice as close)."""
    return lambda o: math.isclose(
        o.state.cross_section_scale or 0, (o.before.cross_section_scale or 0) * ratio, rel_tol=1e-6
    )


def closer_by_at_least(factor: float) -> Callable[[Outcome], bool]:
    return lambda o: (o.state.cross_section_scale or 0) <= (o.before.cross_section_scale or 0) / factor


def fitted(o: Outcome) -> bool:
    """Centred on the volume with a new zoom (the fit reads the volume's bounds)."""
    return at(*CENTRE)(o) and o.state.cross_section_scale != o.before.cross_section_scale


def visible(layer: str, shown: bool) -> Callable[[Outcome], bool]:
    return lambda o: o.state.layer(layer).get("visible", True) is shown


def contrast(low: float, high: float) -> Callable[[Outcome], bool]:
    return lambda o: lut_range(o.state, "image") == (low, high)


def auto_contrasted(o: Outcome) -> bool:
    """A range inside the uint8 values that is not the one before."""
    found = lut_range(o.state, "image")
    return found is not None and 0 <= found[0] < found[1] <= 255 and found != lut_range(o.before, "image")


def segments(*ids: int) -> Callable[[Outcome], bool]:
    """Exactly these segments are selected (in any order)."""
    return lambda o: sorted(int(s) for s in o.state.layer("segmentation").get("segments", [])) == sorted(ids)


def annotated(
    kind: str, *expected: tuple[Sequence[float], ...], description: str | None = None
) -> Callable[[Outcome], bool]:
    """The annotation layer holds exactly these annotations of ``kind`` (points, or pairs of corners)."""
    keys = ("point",) if kind == "point" else ("pointA", "pointB")

    def check(o: Outcome) -> bool:
        if "annotations" not in o.state.layer_names:
            return False
        found = list_annotations(o.state, "annotations")
        if len(found) != len(expected) or any(a.get("type") != kind for a in found):
            return False
        if description is not None and any(a.get("description") != description for a in found):
            return False
        remaining = [list(e) for e in expected]
        for annotation in found:
            coordinates = [annotation[k] for k in keys]
            match = next((e for e in remaining if all(_near(c, p) for c, p in zip(coordinates, e))), None)
            if match is None:
                return False
            remaining.remove(match)
        return True

    return check


def layout(expected: str) -> Callable[[Outcome], bool]:
    return lambda o: o.state.layout == expected


def oriented(plane: str) -> Callable[[Outcome], bool]:
    return lambda o: _near(o.state.get("crossSectionOrientation"), ORIENTATIONS[plane], 1e-6)


def ranked(metric: str, n: int, descending: bool = True) -> Callable[[Outcome], bool]:
    """The ranked table lists the ``n`` rows with the highest (lowest) ``metric``, in order, and its first
    row's view is centred on that cell with its segment selected."""
    expected = _ranked(metric, n, descending)

    def check(o: Outcome) -> bool:
        views = o.views()
        if views is None or views.views.table[metric].to_list() != expected[metric].to_list():
            return False
        first, row = views.views.states[0], expected.row(0, named=True)
        return _near(list((first.position or {}).values()), _centroid(row)) and first.layer(
            "segmentation"
        ).get("segments") == [str(row["id"])]

    return check


def joined_with(table: str, column: str) -> Callable[[Outcome], bool]:
    """A new table holds every ROI with ``column`` from ``table`` beside it."""

    def check(o: Outcome) -> bool:
        newest = o.tables.list_tables()[-1]
        if newest.name in ("rois", table) or column not in newest.columns:
            return False
        return sorted(o.tables.frame(newest.name)["id"].to_list()) == sorted(ROIS["id"].to_list())

    return check


def restored(o: Outcome) -> bool:
    """Back to the state before the setup."""
    return o.state == o.initial


def said(text: str) -> Callable[[Outcome], bool]:
    return lambda o: any(text in f.summary for f in o.finished)


def both(*checks: Callable[[Outcome], bool]) -> Callable[[Outcome], bool]:
    return lambda o: all(check(o) for check in checks)


# --- the tasks ------------------------------------------------------------------------------------------
def _one(tool: str, **arguments: Any) -> tuple[tuple[Step, ...], ...]:
    """One round with one call."""
    return ((Step(tool, arguments),),)


def _task(
    id: str,
    category: str,
    command: str,
    rounds: tuple[tuple[Step, ...], ...],
    check: Callable[[Outcome], bool],
    setup: Sequence[Step] = (),
) -> NgTask:
    return NgTask(id, category, command, rounds, check, tuple(setup))


_SELECT_37 = Step("select_segment_ids", {"segments": [3, 7]})
_BIG = _centroid(BIGGEST)

TASKS: tuple[NgTask, ...] = (
    # navigate
    _task("go-to", "navigate", "go to 60 40 20", _one("go_to", coordinates=[60, 40, 20]), at(60, 40, 20)),
    _task(
        "move-commas",
        "navigate",
        "move to 100, 80, 5",
        _one("go_to", coordinates=[100, 80, 5]),
        at(100, 80, 5),
    ),
    _task(
        "centre-on", "navigate", "center on 30 30 10", _one("go_to", coordinates=[30, 30, 10]), at(30, 30, 10)
    ),
    _task(
        "jump-decimal",
        "navigate",
        "jump to 12.5 99 47",
        _one("go_to", coordinates=[12.5, 99, 47]),
        at(12.5, 99, 47),
    ),
    _task(
        "go-named-axes",
        "navigate",
        "go to x 20 y 30",
        _one("go_to", position={"x": 20, "y": 30}),
        at(20, 30, CENTRE[2]),
    ),
    _task(
        "go-back-to-middle",
        "navigate",
        "take me back to the middle of the volume",
        _one("go_to", coordinates=list(CENTRE)),
        at(*CENTRE),
        setup=[Step("go_to", {"coordinates": [5, 5, 5]})],
    ),
    _task(
        "go-and-zoom",
        "navigate",
        "go to 60 40 20 and zoom in",
        ((Step("go_to", {"coordinates": [60, 40, 20]}), Step("zoom", {"factor": 2})),),
        both(at(60, 40, 20), scaled(0.5)),
    ),
    # zoom
    _task("zoom-in", "zoom", "zoom in", _one("zoom", factor=2), scaled(0.5)),
    _task("zoom-out", "zoom", "zoom out", _one("zoom", factor=0.5), scaled(2)),
    _task("zoom-in-by", "zoom", "zoom in by 4", _one("zoom", factor=4), scaled(0.25)),
    _task("zoom-out-by", "zoom", "zoom out by 2", _one("zoom", factor=0.5), scaled(2)),
    _task("zoom-a-lot", "zoom", "zoom in a lot closer", _one("zoom", factor=4), closer_by_at_least(3)),
    _task("zoom-fit", "zoom", "zoom to fit", _one("zoom", fit=True), fitted),
    _task(
        "fit-volume",
        "zoom",
        "fit the volume",
        _one("zoom", fit=True),
        fitted,
        setup=[Step("go_to", {"coordinates": [5, 5, 5]})],
    ),
    # layer visibility
    _task(
        "hide-seg",
        "visibility",
        "hide the segmentation",
        _one("set_layer_visibility", layer="segmentation", visible=False),
        visible("segmentation", False),
    ),
    _task(
        "hide-image",
        "visibility",
        "hide image",
        _one("set_layer_visibility", layer="image", visible=False),
        visible("image", False),
    ),
    _task(
        "turn-off-image",
        "visibility",
        "turn off the image layer",
        _one("set_layer_visibility", layer="image", visible=False),
        visible("image", False),
    ),
    _task(
        "show-seg",
        "visibility",
        "show the segmentation",
        _one("set_layer_visibility", layer="segmentation", visible=True),
        visible("segmentation", True),
        setup=[Step("set_layer_visibility", {"layer": "segmentation", "visible": False})],
    ),
    _task(
        "hide-all",
        "visibility",
        "hide all layers",
        (
            (
                Step("set_layer_visibility", {"layer": "image", "visible": False}),
                Step("set_layer_visibility", {"layer": "segmentation", "visible": False}),
            ),
        ),
        both(visible("image", False), visible("segmentation", False)),
    ),
    # contrast
    _task(
        "contrast-of",
        "contrast",
        "set the contrast of image to 20-180",
        _one("set_contrast", layer="image", limits=[20, 180]),
        contrast(20, 180),
    ),
    _task(
        "contrast-to",
        "contrast",
        "set contrast to 30 to 150",
        _one("set_contrast", limits=[30, 150]),
        contrast(30, 150),
    ),
    _task(
        "contrast-short",
        "contrast",
        "contrast image 10-200",
        _one("set_contrast", layer="image", limits=[10, 200]),
        contrast(10, 200),
    ),
    _task(
        "contrast-free",
        "contrast",
        "set the image contrast range from 25 to 175",
        _one("set_contrast", layer="image", limits=[25, 175]),
        contrast(25, 175),
    ),
    _task("auto-contrast", "contrast", "auto contrast", _one("auto_contrast"), auto_contrasted),
    _task(
        "auto-contrast-of",
        "contrast",
        "auto contrast of image",
        _one("auto_contrast", layer="image"),
        auto_contrasted,
    ),
    # segment selection
    _task(
        "select-two",
        "segments",
        "select segments 3 7",
        _one("select_segment_ids", segments=[3, 7]),
        segments(3, 7),
    ),
    _task(
        "select-one",
        "segments",
        "select segment 5",
        _one("select_segment_ids", segment=5),
        segments(5),
        setup=[_SELECT_37],
    ),
    _task(
        "select-commas",
        "segments",
        "select segments 1, 2, 3",
        _one("select_segment_ids", segments=[1, 2, 3]),
        segments(1, 2, 3),
    ),
    _task(
        "add-segment",
        "segments",
        "add segment 4",
        _one("select_segment_ids", segments=[4], mode="add"),
        segments(3, 4, 7),
        setup=[_SELECT_37],
    ),
    _task(
        "deselect-segment",
        "segments",
        "deselect segment 3",
        _one("select_segment_ids", segments=[3], mode="remove"),
        segments(7),
        setup=[_SELECT_37],
    ),
    _task(
        "clear-segments",
        "segments",
        "clear the segments",
        _one("select_segment_ids", segments=[]),
        segments(),
        setup=[_SELECT_37],
    ),
    # annotations
    _task(
        "point",
        "annotations",
        "add a point at 10 20 30",
        _one("annotate_point", point=[10, 20, 30]),
        annotated("point", ([10, 20, 30],)),
    ),
    _task(
        "mark",
        "annotations",
        "mark 40 50 10",
        _one("annotate_point", point=[40, 50, 10]),
        annotated("point", ([40, 50, 10],)),
    ),
    _task(
        "box",
        "annotations",
        "add a box from 10 10 10 to 20 20 20",
        _one("annotate_box_or_line", corner_a=[10, 10, 10], corner_b=[20, 20, 20]),
        annotated("axis_aligned_bounding_box", ([10, 10, 10], [20, 20, 20])),
    ),
    _task(
        "line",
        "annotations",
        "add a line from 0 0 0 to 50 50 20",
        _one("annotate_box_or_line", start=[0, 0, 0], end=[50, 50, 20]),
        annotated("line", ([0, 0, 0], [50, 50, 20])),
    ),
    _task(
        "two-points",
        "annotations",
        "add points at 10 10 10 and 20 20 20",
        (
            (
                Step("annotate_point", {"point": [10, 10, 10]}),
                Step("annotate_point", {"point": [20, 20, 20]}),
            ),
        ),
        annotated("point", ([10, 10, 10],), ([20, 20, 20],)),
    ),
    _task(
        "labelled-point",
        "annotations",
        "put a point labelled centre at 64 64 24",
        _one("annotate_point", point=list(CENTRE), description="centre"),
        annotated("point", (list(CENTRE),), description="centre"),
    ),
    # layouts
    _task(
        "layout-4panel",
        "layout",
        "layout 4panel",
        _one("set_orientation_or_layout", layout="4panel"),
        layout("4panel"),
    ),
    _task(
        "set-layout",
        "layout",
        "set the layout to xy",
        _one("set_orientation_or_layout", layout="xy"),
        layout("xy"),
    ),
    _task(
        "switch-3d",
        "layout",
        "switch to the 3d layout",
        _one("set_orientation_or_layout", layout="3d"),
        layout("3d"),
    ),
    _task(
        "layout-back",
        "layout",
        "layout xy-3d",
        _one("set_orientation_or_layout", layout="xy-3d"),
        layout("xy-3d"),
        setup=[Step("set_orientation_or_layout", {"layout": "4panel"})],
    ),
    _task(
        "orient-xz",
        "layout",
        "orient xz",
        _one("set_orientation_or_layout", orientation="xz"),
        oriented("xz"),
    ),
    _task(
        "only-3d",
        "layout",
        "show only the 3d view",
        _one("set_orientation_or_layout", layout="3d"),
        layout("3d"),
    ),
    # table rankings
    _task(
        "top-volume",
        "ranking",
        "top 5 cells by volume_um3",
        _one("top_views", metric="volume_um3", n=5),
        ranked("volume_um3", 5),
    ),
    _task(
        "top-intensity",
        "ranking",
        "top 3 by mean_intensity",
        _one("top_views", metric="mean_intensity", n=3),
        ranked("mean_intensity", 3),
    ),
    _task(
        "bottom-sphericity",
        "ranking",
        "bottom 3 cells by sphericity",
        _one("top_views", metric="sphericity", n=3, descending=False),
        ranked("sphericity", 3, descending=False),
    ),
    _task(
        "top-one",
        "ranking",
        "top 1 rois by elongation",
        _one("top_views", metric="elongation", n=1),
        ranked("elongation", 1),
    ),
    _task(
        "largest-question",
        "ranking",
        "which 4 cells are the largest?",
        _one("top_views", metric="volume_um3", n=4),
        ranked("volume_um3", 4),
    ),
    _task(
        "smallest-free",
        "ranking",
        "rank the cells from smallest to largest volume and show me the first 2",
        _one("top_views", metric="volume_um3", n=2, descending=False),
        ranked("volume_um3", 2, descending=False),
    ),
    # joins of a table with the viewer
    _task(
        "select-bright",
        "join",
        "select the segments of the bright cells",
        (
            (Step("run_sql", {"query": "select id from rois where brightness = 'bright'"}),),
            (Step("select_segment_ids", {"segments": BRIGHT_IDS}),),
        ),
        segments(*BRIGHT_IDS),
    ),
    _task(
        "select-large",
        "join",
        "show only the cells larger than 300 cubic microns in the viewer",
        (
            (Step("filter_rows", {"table": "rois", "column": "volume_um3", "op": ">", "value": 300}),),
            (Step("select_segment_ids", {"segments": LARGE_IDS}),),
        ),
        segments(*LARGE_IDS),
    ),
    _task(
        "go-to-biggest",
        "join",
        "go to the cell with the largest volume",
        (
            (Step("run_sql", {"query": "select id, x, y, z from rois order by volume_um3 desc limit 1"}),),
            (Step("go_to", {"coordinates": _BIG}),),
        ),
        at(*_BIG),
    ),
    _task(
        "mark-elongated",
        "join",
        "mark the 3 most elongated cells",
        (
            (Step("run_sql", {"query": "select id, x, y, z from rois order by elongation desc limit 3"}),),
            tuple(Step("annotate_point", {"point": _centroid(row)}) for row in MOST_ELONGATED),
        ),
        annotated("point", *((_centroid(row),) for row in MOST_ELONGATED)),
    ),
    _task(
        "top-opens-cell",
        "join",
        "top 3 cells by volume_um3",
        _one("top_views", metric="volume_um3", n=3),
        ranked("volume_um3", 3),
    ),
    _task(
        "join-tables",
        "join",
        "join rois and tones on id",
        _one("join_tables", left="rois", right="tones", on="id"),
        joined_with("tones", "tone"),
        setup=[Step("run_sql", {"query": "select id, brightness as tone from rois", "save_as": "tones"})],
    ),
    # undo
    _task(
        "undo-move",
        "undo",
        "undo",
        _one("undo"),
        restored,
        setup=[Step("go_to", {"coordinates": [1, 2, 3]})],
    ),
    _task(
        "undo-hide",
        "undo",
        "undo that",
        _one("undo"),
        both(restored, visible("segmentation", True)),
        setup=[Step("set_layer_visibility", {"layer": "segmentation", "visible": False})],
    ),
    _task(
        "undo-contrast",
        "undo",
        "undo the last change",
        _one("undo"),
        both(restored, contrast(*START_LUT)),
        setup=[Step("set_contrast", {"layer": "image", "limits": [20, 180]})],
    ),
    _task(
        "undo-one-of-two",
        "undo",
        "undo",
        _one("undo"),
        both(layout("4panel"), scaled(2)),
        setup=[Step("set_orientation_or_layout", {"layout": "4panel"}), Step("zoom", {"factor": 2})],
    ),
    _task(
        "undo-nothing",
        "undo",
        "undo",
        _one("undo"),
        both(restored, said("Nothing to undo")),
    ),
    _task(
        "undo-twice",
        "undo",
        "undo the last two changes",
        ((Step("undo"), Step("undo")),),
        restored,
        setup=[Step("go_to", {"coordinates": [1, 2, 3]}), Step("zoom", {"factor": 2})],
    ),
)

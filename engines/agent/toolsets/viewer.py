"""Tools that move and style one session's Neuroglancer viewer, for a model or the offline planner.

Every tool edits the session's ``ViewerSession`` (named dimensions, the state's own key
order) and says in one line what changed; the page shows the new state in the real viewer
at once. Reads of volume data (fit-to-volume, histograms, auto-contrast) go through the
URL policy, with the app's own demo volume read from disk through ``aliases``. ``screenshot``
asks the page's camera (the browser's own viewer) for the picture on screen: the chat shows
it, the model reads its statistics (and sees it too, if it reads images).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from engines.agent.planner import Command
from engines.agent.results import PlotArtifact, ToolResult, ViewerLinkArtifact
from engines.agent.tools import Toolset
from engines.agent.toolsets.annotations import add_annotation_tools
from engines.agent.toolsets.screenshot import Camera, add_screenshot_tool
from engines.agent.toolsets.table_layer import add_table_layer_tool
from engines.io.policy import SourcePolicy
from engines.ngstate import (
    NgState,
    StateStore,
    add_layer,
    auto_contrast_range,
    compute_histogram,
    layer_bounds,
    open_layer_volume,
    select_segments,
    set_lut_range,
    set_view,
    set_visibility,
    summarize_state,
    zoom_by,
)
from engines.ngstate.errors import NgStateError
from engines.ngstate.session import ViewerSession
from engines.ngstate.urls import MAX_LINK_CHARS
from engines.tables import TableWorkspace

__all__ = ["ViewerTools", "build_viewer_tools"]


@dataclass
class ViewerTools:
    """What the viewer tools of one session work on."""

    session: ViewerSession
    store: StateStore
    policy: SourcePolicy
    aliases: Mapping[str, Path] = field(default_factory=dict)
    """URL prefixes the app serves itself (the demo volume) -> their local folders."""
    share_link: Callable[[NgState], str] | None = None
    """An address that reopens a state in this app (the page's deep link)."""
    viewport: tuple[float, float] = (1200, 800)
    camera: Camera | None = None
    """The picture the session's viewer shows now, as PNG bytes (the page's browser viewer takes it); raises
    ``NgStateError`` when it cannot. None: no viewer is drawn anywhere (scripts, tests)."""
    tables: TableWorkspace | None = None
    """The session's tables, whose rows ``show_table_in_viewer`` draws (None: no table tool)."""

    def image_layer(self, name: str | None) -> str:
        """``name``, or the state's first image layer."""
        state = self.session.state
        if name:
            state.layer(name)  # raises LayerNotFound with the layer names
            return name
        images = state.layers_of_type("image")
        if not images:
            raise NgStateError("This view has no image layer; add one first.")
        return images[0]


def _where(state: NgState) -> str:
    position = state.position or {}
    return ", ".join(f"{name}={value:g}" for name, value in position.items()) or "no position"


def build_viewer_tools(tools_of: ViewerTools) -> Toolset:
    """The viewer tools of one session (closures over its ``ViewerTools``)."""
    tools = Toolset("viewer", "Move, zoom and style the Neuroglancer viewer; annotate; save and share views.")
    session = tools_of.session

    @tools.tool(
        mutates=True,
        commands=[
            "go to {coordinates:numbers}",
            "(move|jump|center|centre) to {coordinates:numbers}",
            "(center|centre) [the view] on {coordinates:numbers}",
        ],
    )
    def go_to(coordinates: list[float] | None = None, position: dict[str, float] | None = None) -> str:
        """Centre the view on a point.

        Args:
            coordinates: values in the order of the state's dimensions (e.g. x, y, z), leaving out trailing
                ones
            position: values by dimension name, e.g. {"x": 1200, "t": 3}; other dimensions stay where they are
        """
        if coordinates is None and not position:
            raise NgStateError("Give coordinates (in the dimensions' order) or a position by dimension name.")
        state = session.update(lambda s: set_view(s, center=position or list(coordinates or [])), "go to")
        return f"Moved to {_where(state)}."

    @tools.tool(
        mutates=True,
        commands=[
            Command("zoom in", {"factor": 2.0}),
            Command("zoom out", {"factor": 0.5}),
            "zoom [in] by {factor}",
            Command("zoom to fit", {"fit": True}),
            Command("fit [the] (view|volume)", {"fit": True}),
        ],
    )
    def zoom(
        factor: Annotated[float, Field(gt=0, le=1e6)] = 2.0, fit: bool = False, layer: str | None = None
    ) -> str:
        """Zoom by a factor (2 closer, 0.5 farther), or fit the whole volume of a layer in the panels.

        Args:
            factor: how much closer; ignored with fit
            fit: show the whole volume of the layer (read from its data source's info)
            layer: the layer whose volume to fit (default: the first image layer)
        """
        if fit:
            name = tools_of.image_layer(layer)
            volume = open_layer_volume(session.state, name, tools_of.policy, tools_of.aliases)
            bounds = layer_bounds(session.state, volume)
            session.update(
                lambda s: set_view(s, zoom="fit", bounds=bounds, viewport=tools_of.viewport), "fit"
            )
            return f"Fitted the view to the volume of '{name}' (centre {_where(session.state)})."
        state = session.update(lambda s: zoom_by(s, factor), "zoom")
        return f"Zoomed by {factor:g}; cross-section scale is now {state.cross_section_scale or 1:g}."

    @tools.tool(
        mutates=True,
        commands=[
            "(orient|turn) [to] {orientation:xy|xz|yz}",
            "layout {layout:xy|xz|yz|3d|4panel|xy-3d|xz-3d|yz-3d}",
            "[set|switch|change] [the] layout to {layout:xy|xz|yz|3d|4panel|xy-3d|xz-3d|yz-3d}",
            "(switch|change|go) to [the|a] {layout:xy|xz|yz|3d|4panel|xy-3d|xz-3d|yz-3d} layout",
        ],
    )
    def set_orientation_or_layout(
        orientation: Literal["xy", "xz", "yz"] | None = None,
        layout: Literal["xy", "xz", "yz", "3d", "4panel", "xy-3d", "xz-3d", "yz-3d"] | None = None,
    ) -> str:
        """Turn the cross-section to a plane and/or change the panel layout.

        Args:
            orientation: the plane the cross-section shows
            layout: which panels are shown
        """
        session.update(lambda s: set_view(s, orientation=orientation, layout=layout), "orientation/layout")
        parts = [f"orientation {orientation}" if orientation else "", f"layout {layout}" if layout else ""]
        return "Set " + " and ".join(p for p in parts if p) + "." if any(parts) else "Nothing to change."

    @tools.tool(
        mutates=True,
        commands=[
            "set [the] contrast of {layer:name} to {limits:range}",
            "contrast [of] {layer:name} {limits:range}",
            "set [the] contrast to {limits:range}",
        ],
    )
    def set_contrast(limits: tuple[float, float], layer: str | None = None) -> str:
        """Set the display range (LUT) of an image layer: values at or below the first are black, above the
        second white.

        Args:
            limits: lowest and highest value shown
            layer: the image layer (default: the first one)
        """
        low, high = limits
        if not low < high:
            raise NgStateError(f"The lower limit {low:g} must be below the upper one {high:g}.")
        name = tools_of.image_layer(layer)
        session.update(lambda s: set_lut_range(s, name, low, high), "contrast")
        return f"Contrast of '{name}' set to {low:g}-{high:g}."

    @tools.tool(
        mutates=True, commands=["auto[-]contrast [of] [{layer:name}]", "auto contrast [of] [{layer:name}]"]
    )
    def auto_contrast(
        layer: str | None = None,
        low_percentile: Annotated[float, Field(ge=0, le=50)] = 1.0,
        high_percentile: Annotated[float, Field(ge=50, le=100)] = 99.0,
    ) -> str:
        """Set an image layer's contrast from percentiles of its voxel values (read at a coarse resolution).

        Args:
            layer: the image layer (default: the first one)
            low_percentile: shown as black
            high_percentile: shown as white
        """
        name = tools_of.image_layer(layer)
        volume = open_layer_volume(session.state, name, tools_of.policy, tools_of.aliases)
        low, high = auto_contrast_range(volume, low_percentile, high_percentile)
        session.update(lambda s: set_lut_range(s, name, low, high), "auto contrast")
        return (
            f"Contrast of '{name}' set to {low:g}-{high:g} (the {low_percentile:g} and {high_percentile:g} "
            f"percentiles of its values)."
        )

    @tools.tool(commands=["histogram [of] [{layer:name}]", "histogram [of] {layer:name} at mip {mip:int}"])
    def histogram(layer: str | None = None, mip: Annotated[int, Field(ge=0)] | None = None) -> ToolResult:
        """The histogram of an image layer's voxel values (a whole coarse level, or ``mip``).

        Args:
            layer: the image layer (default: the first one)
            mip: resolution level, 0 the finest (default: the finest level that is small enough)
        """
        name = tools_of.image_layer(layer)
        volume = open_layer_volume(session.state, name, tools_of.policy, tools_of.aliases)
        result = compute_histogram(volume, mip=mip)
        facts = result.summary()
        title = f"{name} at mip {result.mip}"
        spec = {
            "type": "histogram_counts",
            "frame": result.to_frame(),
            "x": "value",
            "y": "count",
            "title": title,
        }
        return ToolResult(
            f"Histogram of '{name}' at mip {result.mip}: {facts}",
            artifact=PlotArtifact(spec=spec, title=title),
            data=facts,
        )

    @tools.tool(
        mutates=True,
        commands=[
            Command("hide [the] {layer:name} [layer]", {"visible": False}),
            Command("show [the] {layer:name} [layer]", {"visible": True}),
            Command("turn off [the] {layer:name} [layer]", {"visible": False}),
            Command("turn on [the] {layer:name} [layer]", {"visible": True}),
        ],
    )
    def set_layer_visibility(layer: str, visible: bool) -> str:
        """Show or hide a layer.

        Args:
            layer: the layer's name
            visible: true to show it, false to hide it
        """
        session.update(lambda s: set_visibility(s, layer, visible), "visibility")
        return f"'{layer}' is now {'visible' if visible else 'hidden'}."

    @tools.tool(
        mutates=True,
        commands=[
            "select segment[s] {segments:numbers}",
            "select segment {segment:int}",
            Command("clear [the] segments", {"segments": [], "mode": "replace"}),
            Command("(deselect|unselect) all segments", {"segments": [], "mode": "replace"}),
            Command("add segment[s] {segments:numbers} [to the selection]", {"mode": "add"}),
            Command("add segment {segment:int} [to the selection]", {"mode": "add"}),
            Command("(deselect|unselect) segment[s] {segments:numbers}", {"mode": "remove"}),
            Command("(deselect|unselect) segment {segment:int}", {"mode": "remove"}),
        ],
    )
    def select_segment_ids(
        segments: list[int] | None = None,
        segment: int | None = None,
        layer: str | None = None,
        mode: Literal["replace", "add", "remove"] = "replace",
    ) -> str:
        """Select (show) segments of a segmentation layer by id.

        Args:
            segments: segment ids
            segment: one segment id
            layer: the segmentation layer (default: the first one)
            mode: replace the selection, add to it or remove from it
        """
        ids = [int(s) for s in (segments or [])] + ([segment] if segment is not None else [])
        names = session.state.layers_of_type("segmentation")
        name = layer or (names[0] if names else None)
        if name is None:
            raise NgStateError("This view has no segmentation layer.")
        session.update(lambda s: select_segments(s, name, ids, mode=mode), "segments")
        return f"Segments of '{name}' ({mode}): {ids or 'none'}."

    add_annotation_tools(tools, session)
    if tools_of.tables is not None:
        add_table_layer_tool(tools, session, tools_of.tables)

    @tools.tool(
        mutates=True,
        commands=["add [an] {layer_type:image|segmentation|annotation} layer {name:name} from {source:name}"],
    )
    def add_data_layer(
        name: str, layer_type: Literal["image", "segmentation", "annotation"], source: str | None = None
    ) -> str:
        """Add a layer (nothing happens if a layer of that name and type exists).

        Args:
            name: the new layer's name
            layer_type: image, segmentation or annotation
            source: the data source, e.g. precomputed://gs://bucket/path (annotation layers need none)
        """
        session.update(lambda s: add_layer(s, name, layer_type, source=source), "add layer")
        return f"Layer '{name}' ({layer_type}) is in the view."

    @tools.tool(commands=["describe [the] view", "where am i", "what is shown"])
    def describe_view() -> str:
        """Dimensions, position, zoom and layers of the current view."""
        return summarize_state(session.state).text

    add_screenshot_tool(tools, session, tools_of.camera)

    @tools.tool(mutates=True, commands=["undo [that|it|the last change|the last step|the last edit]"])
    def undo() -> str:
        """Go back to the view before the last change."""
        return "Undone." if session.undo() is not None else "Nothing to undo."

    @tools.tool(commands=["save [the] (view|state) as {name:name}"])
    def save_view(name: str) -> str:
        """Save the current view under a name (kept in the workspace; private to you until you share it)."""
        saved = tools_of.store.save(name, session.state)
        privacy = (
            "shared with everyone"
            if saved.shared
            else f"private; 'share the saved view {saved.name}' lets others open it"
        )
        return f"Saved the view as '{saved.name}' ({privacy})."

    @tools.tool(commands=["share [the] saved (view|state) {name:name}"])
    def share_saved_view(name: str, shared: bool = True) -> str:
        """Let everyone open a view you saved (by name, or its &saved= link); shared=false makes it private
        again."""
        saved = tools_of.store.share(name, shared)
        return f"'{saved.name}' is now {'shared: anyone can open it' if saved.shared else 'private to you'}."

    @tools.tool(
        mutates=True,
        commands=["load [the] (view|state) {name:name}", "open [the] saved (view|state) {name:name}"],
    )
    def load_view(name: str) -> str:
        """Open a saved view."""
        session.set(tools_of.store.load(name), "load")
        return f"Opened the saved view '{name}'."

    @tools.tool(commands=["list [the] saved (views|states)"])
    def list_saved_views() -> str:
        """The saved views' names and dates."""
        saved = tools_of.store.list()
        return (
            "\n".join(f"{s.name} (saved {s.saved_at:%Y-%m-%d %H:%M})" for s in saved) or "No saved views yet."
        )

    @tools.tool(commands=["share [the] view", "link [to] [the|this] view"])
    def share_view() -> ToolResult:
        """A link that reopens the current view."""
        if tools_of.share_link is None:
            raise NgStateError("Sharing needs the page's address; it is not available here.")
        url = tools_of.share_link(session.state)
        if len(url) > MAX_LINK_CHARS:
            raise NgStateError(
                f"This view's link would be {len(url) // 1000} kB, longer than the "
                f"{MAX_LINK_CHARS // 1000} kB a server opens (tables drawn in the view make it long). "
                "Save the view and share it by name."
            )
        return ToolResult(
            f"This link reopens the view: {url}", artifact=ViewerLinkArtifact(url=url, title="this view")
        )

    return tools

"""Tools over the open NWB file, for the NWB page's assistant (a model or the offline planner).

They answer from the file's index where they can (no reads), read only small bounded pieces
otherwise, and reach the page through two callbacks: ``navigate`` opens a view of an object
at a time window (through the file's controller, so the address bar follows), and the
``NwbViewArtifact`` a tool returns is drawn by the page as a live, interactive view inside
the chat. Code is never run by a tool: ``propose_code`` returns a ``CodeProposal`` that the
page shows with a Run button, so nothing runs before a person approves it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import Field

from engines.agent.errors import ToolFailed
from engines.agent.results import Artifact, TableArtifact, ToolResult
from engines.agent.tools import Toolset
from engines.errors import NeurodeckError
from engines.nwb.extract import (
    file_overview,
    read_intervals,
    read_table_page,
    read_units_table,
    robust_time_range,
    table_columns,
)
from engines.nwb.nwbfile import NwbFile

__all__ = ["CodeProposal", "NwbViewArtifact", "NwbAssistantTools", "build_nwb_tools"]

_MAX_VALUES = 200


@dataclass(frozen=True, kw_only=True)
class NwbViewArtifact(Artifact):
    """A live view of an object of the open file, drawn inside the chat (the page builds the view)."""

    kind: ClassVar[str] = "nwb_view"
    path: str
    view: str
    window: tuple[float, float] | None = None
    channels: tuple[int, ...] = ()
    units: tuple[int, ...] = ()

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "path": self.path,
            "view": self.view,
            "window": self.window,
            "channels": list(self.channels),
            "units": list(self.units),
        }


@dataclass(frozen=True, kw_only=True)
class CodeProposal(Artifact):
    """Python the assistant proposes; it runs only when the person presses Run."""

    kind: ClassVar[str] = "code"
    code: str
    explanation: str = ""

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "code": self.code, "explanation": self.explanation}


@dataclass
class NwbAssistantTools:
    """What the tools work on: the open file (a callable, since the user may open another) and the page."""

    current_file: Callable[[], NwbFile | None]
    navigate: Callable[[dict[str, Any]], None]
    """Open a view: keys object_path, view, time_window, channels, units (the controller's)."""
    source: Callable[[], str] = field(default=lambda: "")
    """What the code the assistant writes should open (a path or URL the kernel can read)."""
    opening: Callable[[], bool] = field(default=lambda: False)
    """Whether the page is opening a file now: a question asked meanwhile waits for it."""
    wait_for_open_s: float = 30.0

    def file(self) -> NwbFile:
        """The open file; one still opening (a question typed as the page loads) is waited for."""
        nwb, deadline = self.current_file(), time.monotonic() + self.wait_for_open_s
        while nwb is None and self.opening() and time.monotonic() < deadline:
            time.sleep(0.1)  # on the turn's own thread
            nwb = self.current_file()
        if nwb is None:
            still = self.opening()
            raise ToolFailed(
                f"The file is still opening after {self.wait_for_open_s:g} s; ask again once it is listed."
                if still
                else "No file is open yet: open an NWB file first."
            )
        return nwb

    def object(self, path: str):
        nwb = self.file()
        path = path if path.startswith("/") else "/" + path
        if path not in nwb.index:
            matches = [p for p in nwb.index.objects if p.rstrip("/").endswith("/" + path.strip("/"))]
            if len(matches) == 1:
                return nwb, nwb.resolve(matches[0])
            hint = (
                f" Did you mean {', '.join(matches[:5])}?"
                if matches
                else " List the objects to see the paths."
            )
            raise ToolFailed(f"This file has no object at '{path}'.{hint}")
        return nwb, nwb.resolve(path)


def _first_of_type(nwb: NwbFile, neurodata_type: str) -> str:
    found = nwb.index.find_by_type(neurodata_type)
    if not found:
        raise ToolFailed(f"This file has no {neurodata_type} object.")
    return found[0].path


def build_nwb_tools(tools_of: NwbAssistantTools) -> Toolset:
    """The assistant's tools for one session."""
    tools = Toolset(
        "nwb", "Answer questions about the open NWB file, open and embed its views, propose code."
    )

    @tools.tool(commands=["what is in (this|the) file", "describe [the] file", "overview"])
    def describe_file() -> str:
        """Session, subject, devices and the file's contents by neurodata type (from the index, no reads)."""
        sections = file_overview(tools_of.file())
        lines = []
        for title, values in sections.items():
            if values:
                lines.append(f"{title}: " + "; ".join(f"{k}: {v}" for k, v in list(values.items())[:30]))
        return "\n".join(lines) or "The file is empty."

    @tools.tool(
        commands=[
            "list [the|all] {neurodata_type:name} objects",
            "list [the] objects",
            "(which|what) {neurodata_type:name} objects",
        ]
    )
    def list_objects(neurodata_type: str | None = None, under: str = "/") -> str:
        """Objects of the file with their neurodata types and shapes (all, or of one type and its subtypes).

        Args:
            neurodata_type: e.g. TimeSeries, ElectricalSeries, Units, TimeIntervals (subtypes included)
            under: only objects below this path
        """
        nwb = tools_of.file()
        rows = []
        for info in nwb.index.walk(under):
            if neurodata_type and not nwb.index.is_a(info.path, neurodata_type):
                continue
            if not neurodata_type and not info.neurodata_type:
                continue
            shape = f" {'x'.join(map(str, info.shape))}" if info.shape else ""
            rows.append(f"{info.path} ({info.neurodata_type or info.kind}{shape})")
        return "\n".join(rows[:300]) or f"No {neurodata_type or 'typed'} objects under {under}."

    @tools.tool(commands=["describe {path:name}", "what is {path:name}"])
    def describe_object(path: str) -> str:
        """An object's type, attributes (description, unit, rate, ...), shape, dtype and children (no data
        read)."""
        nwb, info = tools_of.object(path)
        attrs = {k: v for k, v in info.attrs.items() if not k.startswith(("namespace", "object_id"))}
        lines = [f"{info.path}: {info.neurodata_type or info.kind}"]
        if info.shape is not None:
            lines.append(f"shape {info.shape}, dtype {info.dtype}")
        lines += [f"{k}: {str(v)[:200]}" for k, v in list(attrs.items())[:25]]
        if info.children:
            lines.append("children: " + ", ".join(c.rsplit("/", 1)[-1] for c in info.children[:40]))
        if nwb.index.is_a(info.path, "TimeSeries"):
            span = robust_time_range(nwb, info.path)
            lines.append(
                f"time range {span.start:.6g}–{span.stop:.6g} s"
                + (f" ({span.describe()})" if span.describe() else "")
            )
        return "\n".join(lines)

    @tools.tool(commands=["read {path:name}", "show [the] values of {path:name}"])
    def read_values(
        path: str,
        start: Annotated[int, Field(ge=0)] = 0,
        count: Annotated[int, Field(ge=1, le=_MAX_VALUES)] = 20,
    ) -> str:
        """A few values of a dataset (at most 200 along its first axis; one read)."""
        nwb, info = tools_of.object(path)
        if info.kind != "dataset":
            raise ToolFailed(
                f"'{info.path}' is a group; read one of its datasets ({', '.join(info.children[:8])})."
            )
        if info.has_value:
            return f"{info.path} = {info.value!r}"
        total = info.shape[0] if info.shape else 1
        stop = min(total, start + count)
        dataset = nwb.dataset(info.path)
        values = np.asarray(dataset[start:stop] if info.shape else dataset[()])
        return (
            f"{info.path}[{start}:{stop}] of {total}: {np.array2string(values, threshold=400, precision=6)}"
        )

    @tools.tool(commands=["summari[sz]e [the] table {path:name}", "show [the] table {path:name}"])
    def summarize_table(path: str, rows: Annotated[int, Field(ge=1, le=100)] = 10) -> ToolResult:
        """A table's columns, row count and first rows (one read per column, sized by the rows)."""
        nwb, info = tools_of.object(path)
        page = read_table_page(nwb, info.path, 0, rows)
        text = (
            f"{info.path}: {page.total_rows:,} rows; columns {', '.join(table_columns(nwb, info.path))}\n"
            f"{page.frame.head(rows).to_csv(index=False)[:2500]}"
        )
        return ToolResult(
            text, artifact=TableArtifact(frame=page.frame, title=f"{info.path} (first {rows} rows)")
        )

    @tools.tool(commands=["how many trials", "count [the] trials", "how many {path:name} intervals"])
    def count_trials(path: str | None = None) -> str:
        """The number of trials (or intervals of a TimeIntervals table) and their durations."""
        nwb = tools_of.file()
        target = path or (
            "/intervals/trials" if "/intervals/trials" in nwb.index else _first_of_type(nwb, "TimeIntervals")
        )
        _nwb, info = tools_of.object(target)
        intervals = read_intervals(nwb, info.path, 0, 1)
        durations = intervals.stop - intervals.start
        return (
            f"{info.path}: {intervals.page.total_rows:,} intervals from {np.nanmin(intervals.start):.6g} to "
            f"{np.nanmax(intervals.stop):.6g} s; duration median {np.nanmedian(durations):.4g} s "
            f"(min {np.nanmin(durations):.4g}, max {np.nanmax(durations):.4g})."
        )

    @tools.tool(commands=["firing rates", "[what are the] firing rates [of {path:name}]", "how many units"])
    def firing_rates(path: str | None = None, top: Annotated[int, Field(ge=1, le=1000)] = 20) -> ToolResult:
        """Spike counts and mean firing rates of the units (the fastest first)."""
        nwb = tools_of.file()
        units = read_units_table(nwb, path or _first_of_type(nwb, "Units"))
        frame = units.frame.sort_values("rate_hz", ascending=False)
        rates = frame["rate_hz"].to_numpy(dtype=float)
        text = (
            f"{len(frame)} units over {units.t_start:.6g}–{units.t_stop:.6g} s; "
            f"rate median {np.nanmedian(rates):.3g} Hz "
            f"(range {np.nanmin(rates):.3g}–{np.nanmax(rates):.3g}); top {top}:\n"
            f"{frame.head(top)[['unit', 'n_spikes', 'rate_hz']].to_csv(index=False)}"
        )
        return ToolResult(text, artifact=TableArtifact(frame=frame.head(top), title="firing rates"))

    @tools.tool(commands=["how long is the recording", "duration", "what time range"])
    def recording_span() -> str:
        """When the file's time series and units start and stop (the bulk of their timestamps)."""
        nwb = tools_of.file()
        spans = []
        for info in nwb.index.find_by_type("TimeSeries")[:50]:
            try:
                span = robust_time_range(nwb, info.path)
            except NeurodeckError:  # image stacks and other series without one time axis per sample
                continue
            spans.append((info.path, span.start, span.stop))
        if not spans:
            return "This file has no time series."
        start, stop = min(s[1] for s in spans), max(s[2] for s in spans)
        detail = "\n".join(f"{p}: {a:.6g}–{b:.6g} s" for p, a, b in spans[:20])
        return f"Time series span {start:.6g}–{stop:.6g} s ({stop - start:.6g} s).\n{detail}"

    @tools.tool(
        mutates=True,
        commands=["open {path:name}", "go to {path:name}", "open {path:name} (at|from) {window:range}"],
    )
    def open_view(
        path: str,
        view: str | None = None,
        window: tuple[float, float] | None = None,
        channels: list[int] | None = None,
        units: list[int] | None = None,
    ) -> str:
        """Show an object in the page's main view (the address bar follows, so it can be shared).

        Args:
            path: the object's path
            view: traces, raster, events, intervals, table, frames, ... (default: the best for the object)
            window: start and end time in seconds, for time-based views
            channels: channel indices for traces
            units: unit ids for the raster
        """
        _nwb, info = tools_of.object(path)
        tools_of.navigate(
            {
                "object_path": info.path,
                "view": view or "",
                **({"time_window": tuple(window)} if window else {}),
                **({"channels": list(channels)} if channels else {}),
                **({"units": list(units)} if units else {}),
            }
        )
        where = f" at {window[0]:g}–{window[1]:g} s" if window else ""
        return f"Opened {info.path}{where} in the page."

    def embed(path: str, view: str, window: tuple[float, float] | None, channels=(), units=()) -> ToolResult:
        nwb, info = tools_of.object(path)
        if window is not None and not window[1] > window[0]:
            raise ToolFailed(
                f"The window {window[0]:g}–{window[1]:g} s is empty: give a start before the end."
            )
        artifact = NwbViewArtifact(
            path=info.path,
            view=view,
            window=(window[0], window[1]) if window else None,
            channels=tuple(channels),
            units=tuple(units),
            title=f"{view} of {info.path}",
        )
        where = f" from {window[0]:g} to {window[1]:g} s" if window else ""
        return ToolResult(f"Showing the {view} of {info.path}{where} below.", artifact=artifact)

    @tools.tool(
        commands=[
            "plot the first {seconds:number} s of {path:name}",
            "plot {path:name} from {window:range}",
            "show [the] traces of {path:name}",
            "plot {path:name}",
        ]
    )
    def show_traces(
        path: str,
        window: tuple[float, float] | None = None,
        seconds: float | None = None,
        channels: list[int] | None = None,
    ) -> ToolResult:
        """Embed an interactive traces plot of a time series in the chat.

        Args:
            path: the series' path
            window: start and end time in seconds
            seconds: show the first this many seconds (of the bulk of the timestamps)
            channels: channel indices (default: the first ones)
        """
        nwb, info = tools_of.object(path)
        if seconds is not None and window is None:
            start = robust_time_range(nwb, info.path).start
            window = (start, start + seconds)
        return embed(info.path, "traces", window, channels or ())

    @tools.tool(
        commands=[
            "show [the] raster of units {units:range}",
            "show [the] raster [of {path:name}]",
            "raster [of] units {units:range} [from {window:range}]",
        ]
    )
    def show_raster(
        path: str | None = None,
        units: tuple[int, int] | list[int] | None = None,
        window: tuple[float, float] | None = None,
    ) -> ToolResult:
        """Embed an interactive spike raster in the chat.

        Args:
            path: the Units table (default: the file's first)
            units: unit ids to show: a list, or a range given as [first, last]
            window: start and end time in seconds
        """
        nwb = tools_of.file()
        picked = (
            list(range(int(units[0]), int(units[1]) + 1)) if isinstance(units, tuple) else list(units or [])
        )
        return embed(path or _first_of_type(nwb, "Units"), "raster", window, units=picked)

    @tools.tool(
        commands=["show [the] (trials|intervals) [of {path:name}]", "show [the] timeline of {path:name}"]
    )
    def show_intervals(path: str | None = None, window: tuple[float, float] | None = None) -> ToolResult:
        """Embed an interactive timeline of a TimeIntervals table (trials, epochs) in the chat."""
        nwb = tools_of.file()
        target = path or (
            "/intervals/trials" if "/intervals/trials" in nwb.index else _first_of_type(nwb, "TimeIntervals")
        )
        return embed(target, "intervals", window)

    @tools.tool()
    def propose_code(code: str, explanation: str = "") -> ToolResult:
        """Propose Python for the person to run (pynwb, remfile, h5py, numpy, matplotlib, hvPlot). It runs
        only when they press Run, in their own Jupyter kernel; the variable NWB_SOURCE holds the open file's
        path or URL.

        Args:
            code: the complete Python code
            explanation: one or two sentences on what it does
        """
        if not code.strip():
            raise ToolFailed("The proposed code is empty.")
        return ToolResult(
            "The code is shown to the person with a Run button; it has not run.",
            artifact=CodeProposal(code=code, explanation=explanation, title="proposed code"),
        )

    return tools

"""What running a cell gives back: its outputs in Jupyter's own shapes, and how the run ended.

Outputs keep the notebook format's fields (``output_type``, ``name``/``text`` for streams,
``data``/``metadata`` mime bundles for displays, ``ename``/``evalue``/``traceback`` for
errors), so a chat shows them and a notebook export writes them without translation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["CellOutput", "CellResult", "RunStatus", "BOKEH_MIME", "strip_ansi"]

RunStatus = Literal["ok", "error", "timeout", "stopped", "died"]
BOKEH_MIME = "application/vnd.bokeh.json_item+json"
"""A Bokeh/HoloViews/hvPlot figure as ``bokeh.embed.json_item`` (embed it where BokehJS is loaded)."""

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """Terminal colour codes removed (IPython colours its tracebacks)."""
    return _ANSI.sub("", text)


@dataclass
class CellOutput:
    """One output of a cell, as the notebook format stores it."""

    output_type: Literal["stream", "display_data", "execute_result", "error"]
    name: str = ""
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    ename: str = ""
    evalue: str = ""
    traceback: list[str] = field(default_factory=list)

    @property
    def mime_types(self) -> list[str]:
        return list(self.data)

    def to_json(self) -> dict[str, Any]:
        """The nbformat v4 output dict (what ``nbformat.v4.output_from_msg`` would build)."""
        if self.output_type == "stream":
            return {"output_type": "stream", "name": self.name, "text": self.text}
        if self.output_type == "error":
            return {
                "output_type": "error",
                "ename": self.ename,
                "evalue": self.evalue,
                "traceback": self.traceback,
            }
        out: dict[str, Any] = {"output_type": self.output_type, "data": self.data, "metadata": self.metadata}
        if self.output_type == "execute_result":
            out["execution_count"] = None
        return out


@dataclass
class CellResult:
    """How a run ended and what it showed.

    ``status``: "ok"; "error" (the code raised: ``error`` holds it); "timeout" (stopped at the
    time limit); "stopped" (the user pressed Stop); "died" (the kernel process ended, e.g. at
    its memory limit: it was restarted and the session's variables are gone).
    ``limit_hit`` names the limit that ended the run ("time" or "memory"), ``message`` says
    in a sentence what happened when it was not "ok".
    """

    status: RunStatus
    outputs: list[CellOutput]
    duration_s: float
    execution_count: int | None = None
    limit_hit: Literal["time", "memory"] | None = None
    kernel_restarted: bool = False
    outputs_truncated: bool = False
    message: str = ""

    @property
    def error(self) -> CellOutput | None:
        return next((o for o in self.outputs if o.output_type == "error"), None)

    @property
    def stdout(self) -> str:
        return "".join(o.text for o in self.outputs if o.output_type == "stream" and o.name == "stdout")

    @property
    def stderr(self) -> str:
        return "".join(o.text for o in self.outputs if o.output_type == "stream" and o.name == "stderr")

    @property
    def traceback_text(self) -> str:
        """The error's traceback as plain text (no colour codes), or ""."""
        error = self.error
        return strip_ansi("\n".join(error.traceback)) if error else ""

    @property
    def images(self) -> list[str]:
        """PNG images (base64 text, as Jupyter sends them), e.g. matplotlib figures, in order."""
        return [o.data["image/png"] for o in self.outputs if "image/png" in o.data]

    @property
    def figures(self) -> list[dict[str, Any]]:
        """Bokeh/HoloViews/hvPlot figures as Bokeh JSON items, in order (see ``BOKEH_MIME``)."""
        return [o.data[BOKEH_MIME] for o in self.outputs if BOKEH_MIME in o.data]

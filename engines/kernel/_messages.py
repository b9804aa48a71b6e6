"""Turn Jupyter IOPub messages of one cell into ``CellOutput``s, as a notebook would keep them.

Shared by the local and the remote kernel: both receive the same messages (over ZeroMQ or a
WebSocket). Consecutive stream text of one name is joined, ``clear_output`` empties the list,
and the whole is capped in bytes so a cell printing in a loop cannot fill the server's memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from engines.kernel.results import CellOutput

__all__ = ["OutputCollector", "MAX_OUTPUT_BYTES"]

MAX_OUTPUT_BYTES = 20 << 20
"""Outputs kept per cell; later ones are dropped and the result says so."""


_NOTEBOOK_ONLY = ("application/vnd.holoviews_load.v0+json", "application/vnd.holoviews_exec.v0+json")
"""HoloViews/Panel notebook loaders (comms, JS bundles): they only work inside Jupyter's page."""


def _is_notebook_plumbing(output: CellOutput) -> bool:
    """What ``hv.extension``/``pn.extension`` display to set up a notebook page (hvPlot calls them on
    import): scripts for Jupyter's front end, not results. Figures come as their own bundles
    (``_kernel_setup``)."""
    if any(mime in output.data for mime in _NOTEBOOK_ONLY):
        return True
    html = output.data.get("text/html")
    return (
        set(output.data) == {"text/html"}
        and isinstance(html, str)
        and html.lstrip().startswith('<script type="esms-options">')
    )


class OutputCollector:
    """The outputs of one cell so far; ``on_output`` hears of each new or grown output at once."""

    def __init__(
        self, on_output: Callable[[CellOutput], None] | None = None, max_bytes: int = MAX_OUTPUT_BYTES
    ) -> None:
        self.outputs: list[CellOutput] = []
        self.truncated = False
        self._on_output = on_output
        self._max_bytes = max_bytes
        self._bytes = 0

    def add(self, msg_type: str, content: dict[str, Any]) -> None:
        if msg_type == "clear_output":
            self.outputs.clear()
            self._bytes = 0
            return
        output = self._output(msg_type, content)
        if output is None or _is_notebook_plumbing(output):
            return
        size = len(output.text) + sum(
            len(v) if isinstance(v, str) else len(json.dumps(v)) for v in output.data.values()
        )
        if self._bytes + size > self._max_bytes and output.output_type != "error":
            self.truncated = True
            return
        self._bytes += size
        last = self.outputs[-1] if self.outputs else None
        if (
            output.output_type == "stream"
            and last is not None
            and last.output_type == "stream"
            and last.name == output.name
        ):
            last.text += output.text
            output = last
        else:
            self.outputs.append(output)
        if self._on_output is not None:
            self._on_output(output)

    @staticmethod
    def _output(msg_type: str, content: dict[str, Any]) -> CellOutput | None:
        if msg_type == "stream":
            return CellOutput("stream", name=content.get("name", "stdout"), text=content.get("text", ""))
        if msg_type in ("display_data", "execute_result", "update_display_data"):
            kind: Literal["execute_result", "display_data"] = (
                "execute_result" if msg_type == "execute_result" else "display_data"
            )
            return CellOutput(
                kind, data=dict(content.get("data", {})), metadata=dict(content.get("metadata", {}))
            )
        if msg_type == "error":
            return CellOutput(
                "error",
                ename=content.get("ename", ""),
                evalue=content.get("evalue", ""),
                traceback=list(content.get("traceback", [])),
            )
        return None

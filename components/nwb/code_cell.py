"""Proposed code shown with Run and Stop: nothing runs until a person presses Run.

The code runs in the session's own Jupyter kernel (``engines.kernel``: a time limit per run, a
memory limit per kernel, a temporary working folder) on a thread of its own; its outputs
(printed text, errors, matplotlib PNGs, Bokeh/HoloViews/hvPlot figures) appear below the
code as they come. Stop interrupts the kernel.
"""

from __future__ import annotations

import base64
import html
import logging
import threading
from collections.abc import Callable
from typing import Any

import panel as pn
import param
from panel.custom import JSComponent

from components.background import run_on_session_thread
from components.safe_text import escape_text, model_markdown
from engines.kernel import BOKEH_MIME, CellOutput, CellResult, CodeRunner
from engines.kernel.results import strip_ansi

__all__ = ["CodeCell", "BokehItem"]

log = logging.getLogger(__name__)


class BokehItem(JSComponent):
    """A Bokeh figure made elsewhere (a kernel's ``json_item``), drawn with the BokehJS already on the
    page."""

    item = param.Dict(default={}, doc="bokeh.embed.json_item(...) output.")

    _esm = """
    export function render({ model, el }) {
      const target = document.createElement("div")
      const draw = () => { target.innerHTML = ""; window.Bokeh.embed.embed_item(model.item, target) }
      draw()
      model.on("item", draw)
      return target
    }
    """


def output_view(output: CellOutput) -> pn.viewable.Viewable | None:
    """One kernel output as a Panel object (None for outputs with nothing to show here)."""
    if output.output_type == "stream":
        color = "#b71c1c" if output.name == "stderr" else "#222"
        return pn.pane.HTML(
            f"<pre style='margin:0;color:{color};white-space:pre-wrap'>{html.escape(output.text)}</pre>",
            sizing_mode="stretch_width",
        )
    if output.output_type == "error":
        text = strip_ansi("\n".join(output.traceback)) or f"{output.ename}: {output.evalue}"
        return pn.pane.HTML(
            f"<pre style='margin:0;color:#b71c1c;white-space:pre-wrap'>{html.escape(text)}</pre>",
            sizing_mode="stretch_width",
        )
    if "image/png" in output.data:
        return pn.pane.PNG(
            base64.b64decode(output.data["image/png"]), sizing_mode="scale_width", max_width=700
        )
    if BOKEH_MIME in output.data:
        return BokehItem(item=output.data[BOKEH_MIME], sizing_mode="stretch_width", min_height=300)
    if "text/plain" in output.data:
        return pn.pane.HTML(
            f"<pre style='margin:0'>{html.escape(str(output.data['text/plain']))}</pre>",
            sizing_mode="stretch_width",
        )
    return None


class CodeCell(pn.viewable.Viewer):
    """The proposed code (editable), Run and Stop, and the outputs of the last run."""

    def __init__(
        self,
        code: str,
        explanation: str,
        runner: Callable[[], CodeRunner] | None,
        disabled_reason: str = "",
        on_result: Callable[[str, CellResult], Any] | None = None,
    ) -> None:
        super().__init__()
        self._runner = runner
        self._on_result = on_result
        self._doc = pn.state.curdoc
        self._editor = pn.widgets.CodeEditor(
            value=code,
            language="python",
            sizing_mode="stretch_width",
            height=min(60 + 18 * code.count("\n"), 320),
            theme="chrome",
        )
        self._run = pn.widgets.Button(
            name="Run code", button_type="primary", width=100, disabled=runner is None
        )
        self._stop = pn.widgets.Button(name="Stop code", button_type="warning", width=100, disabled=True)
        self._run.on_click(lambda _e: self._start())
        self._stop.on_click(lambda _e: self._halt())
        self._status = pn.pane.Markdown(
            escape_text(disabled_reason) or "Not run yet: read it, then press Run code.",
            css_classes=["nd-muted"],
            margin=(0, 5),
        )
        self._outputs = pn.Column(sizing_mode="stretch_width", css_classes=["nd-code-outputs"])
        self._explanation = explanation

    def _start(self) -> None:
        runner = self._runner
        if runner is None:  # Run is disabled where code may not run
            return
        code = self._editor.value
        self._run.disabled, self._stop.disabled = True, False
        self._outputs[:] = []
        self._status.object = "Running…"
        threading.Thread(target=self._execute, args=(runner, code), name="code-cell", daemon=True).start()

    def _execute(self, runner: Callable[[], CodeRunner], code: str) -> None:
        try:
            result = runner().run(code, on_output=self._queue_output)
        except Exception as exc:  # the kernel could not start, or was busy
            log.warning("code run failed: %s", exc)
            problem = str(exc)
            run_on_session_thread(self._doc, lambda: self._finished(None, problem))
            return
        run_on_session_thread(self._doc, lambda: self._finished(result, ""))

    def _queue_output(self, output: CellOutput) -> None:
        view = None
        try:
            view = output_view(output)
        except Exception:
            log.exception("an output could not be shown")
        if view is not None:
            run_on_session_thread(self._doc, lambda: self._outputs.append(view))

    def _finished(self, result: CellResult | None, problem: str) -> None:
        self._run.disabled, self._stop.disabled = False, True
        if result is None:
            self._status.object = f"**Could not run:** {escape_text(problem)}"
            return
        took = f"{result.duration_s:.1f} s"
        self._status.object = (
            f"Finished in {took}."
            if result.status == "ok"
            else f"**{escape_text(result.status)}:** {escape_text(result.message)}"
        )
        if self._on_result is not None:
            self._on_result(self._editor.value, result)

    def _halt(self) -> None:
        if self._runner is not None:
            self._runner().stop()

    def __panel__(self) -> pn.viewable.Viewable:
        header = model_markdown(self._explanation or "Proposed code:", margin=(0, 5))
        return pn.Column(
            header,
            self._editor,
            pn.Row(self._run, self._stop, self._status),
            self._outputs,
            sizing_mode="stretch_width",
            css_classes=["nd-code-cell"],
        )

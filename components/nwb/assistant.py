"""The NWB page's assistant: a chat over the open file that answers, opens views, embeds live views, and
proposes code a person can run in their own Jupyter kernel.

The chat is the one agent engine's (``engines.agent``) with the NWB toolset; offline, its
planner answers the common asks ("what is in this file", "plot the first 10 s of X", "show the
raster of units 1-20", "how many trials"). Code runs only after the person presses Run, and
only where the operator allows it (on by default when the server listens on loopback only;
``--allow-code`` otherwise). Each chat's code cells and outputs are kept as a notebook in the
workspace and can be downloaded as ``.ipynb``.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import panel as pn

from components.agent_chat import AgentChat
from components.background import BackgroundWork
from components.nwb.code_cell import CodeCell
from components.nwb.controller import NwbFileController
from components.nwb.views import view_by_id, views_for
from components.safe_text import escape_text, text_alert
from engines.agent import ChatSession, LlmConfig
from engines.agent.results import Artifact
from engines.agent.toolsets import CodeProposal, NwbAssistantTools, NwbViewArtifact, build_nwb_tools
from engines.kernel import (
    CellResult,
    CodeRunner,
    KernelLimits,
    KernelStartError,
    LocalKernel,
    RemoteKernel,
    code_entry,
    export_notebook,
    markdown_entry,
    notebook_bytes,
)
from engines.limits import Budget
from engines.nwb.nwbfile import NwbFile
from engines.people import Person

__all__ = ["NwbAssistant", "CodePolicy"]

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You are the assistant of an NWB file browser. Answer questions about the open file with the tools: "
    "they read the file's index and small pieces of data. Open views in the page, or embed views in the "
    "chat, when a picture answers better than words. For analyses the tools cannot do, propose Python with "
    "propose_code (pynwb with remfile or h5py, numpy, matplotlib, hvPlot; the variable NWB_SOURCE holds the "
    "file's path or URL); it runs only when the person presses Run. Be brief and concrete."
)

# KernelLimits is frozen, so one shared default is safe
_DEFAULT_LIMITS = KernelLimits()


class CodePolicy:
    """Whether and where approved code runs: a local kernel, a remote Jupyter server, or nowhere."""

    def __init__(
        self,
        allowed: bool,
        reason: str = "",
        limits: KernelLimits = _DEFAULT_LIMITS,
        jupyter_url: str | None = None,
        jupyter_token: str | None = None,
    ) -> None:
        self.allowed = allowed
        self.reason = reason
        self.limits = limits
        self.jupyter_url = jupyter_url
        self.jupyter_token = jupyter_token

    def new_runner(self) -> CodeRunner:
        if self.jupyter_url:
            return RemoteKernel(self.jupyter_url, self.jupyter_token or "", limits=self.limits)
        return LocalKernel(limits=self.limits)


class NwbAssistant(pn.viewable.Viewer):
    """One per session; ``current_file`` and ``navigate`` come from the page's browser."""

    def __init__(
        self,
        current_file: Callable[[], NwbFile | None],
        current_source: Callable[[], str],
        navigate: Callable[[dict[str, Any]], None],
        llm: LlmConfig | None,
        workspace: Path,
        code: CodePolicy,
        jobs=None,
        person: Person | None = None,
        budget: Budget | None = None,
        opening: Callable[[], bool] = lambda: False,
    ) -> None:
        super().__init__()
        self._current_file = current_file
        self._current_source = current_source
        self._code = code
        self._jobs = jobs
        self._workspace = workspace
        self._work = BackgroundWork(name="assistant")
        self._runner: CodeRunner | None = None
        self._runner_lock = threading.Lock()
        self._ended = False  # the session ended: no new kernel
        self._entries: list = []
        tools = NwbAssistantTools(
            current_file=current_file, navigate=navigate, source=current_source, opening=opening
        )
        self._session = ChatSession(
            [build_nwb_tools(tools)],
            llm,
            workspace,
            page="nwb",
            system_prompt=SYSTEM_PROMPT,
            state_summary=self._file_summary,
            person=person,
            budget=budget,
        )
        self.chat = AgentChat(
            self._session,
            render_artifact=self._render,
            observer=self._observe,
            height=560,
            placeholder="Ask about this file · what is in this file · show the raster of units 1-20",
        )
        self._download = pn.widgets.FileDownload(
            callback=self._notebook_file,
            filename="nwb-chat.ipynb",
            label="Export notebook",
            width=150,
            button_type="light",
        )
        self._work.on_close(self._shutdown_kernel)

    def _file_summary(self) -> str:
        nwb = self._current_file()
        if nwb is None:
            return "No file is open."
        types: dict[str, int] = {}
        for info in nwb.index.objects.values():
            if info.neurodata_type:
                types[info.neurodata_type] = types.get(info.neurodata_type, 0) + 1
        listed = ", ".join(f"{t} x{n}" for t, n in sorted(types.items())[:40])
        return f"Open file: {nwb.label} ({self._current_source() or 'the default file'}); objects: {listed}."

    # --- artifacts ----------------------------------------------------------------------------------
    def _render(self, artifact: Artifact) -> pn.viewable.Viewable | pn.viewable.Viewer | None:
        if isinstance(artifact, NwbViewArtifact):
            return self._embedded_view(artifact)
        if isinstance(artifact, CodeProposal):
            reason = "" if self._code.allowed else self._code.reason
            return CodeCell(
                artifact.code,
                artifact.explanation,
                self._kernel if self._code.allowed else None,
                disabled_reason=reason,
                on_result=self._ran,
            )
        return None

    def _embedded_view(self, artifact: NwbViewArtifact) -> pn.viewable.Viewable:
        holder = pn.Column(sizing_mode="stretch_width", min_height=120)
        holder.loading = True
        nwb = self._current_file()

        def build():
            view_cls = view_by_id(artifact.view)
            if view_cls not in views_for(nwb.index, artifact.path):
                view_cls = views_for(nwb.index, artifact.path)[0]
            controller = NwbFileController(
                object_path=artifact.path,
                time_window=artifact.window,
                channels=list(artifact.channels),
                units=list(artifact.units),
            )
            view = view_cls(nwb, artifact.path, self._jobs, controller, self._work)
            return pn.panel(view.__panel__())

        def show(content) -> None:
            holder.loading = False
            holder[:] = [content]

        def failed(exc: BaseException) -> None:
            holder.loading = False
            holder[:] = [text_alert(exc, alert_type="warning")]

        self._work.run(f"embed-{id(holder)}", build, apply=show, failed=failed)
        return holder

    # --- code ---------------------------------------------------------------------------------------
    def _kernel(self) -> CodeRunner:
        """The session's kernel, started on the first Run, with NWB_SOURCE set to the open file."""
        with self._runner_lock:
            if self._ended:
                raise KernelStartError("This page's session has ended; reload the page to run code.")
            if self._runner is None:
                runner = self._code.new_runner()
                try:
                    runner.run(f"NWB_SOURCE = {self._nwb_source()!r}")
                except BaseException:  # a kernel that did not start still holds its temporary folder
                    runner.shutdown()
                    raise
                self._runner = runner
            return self._runner

    def _nwb_source(self) -> str | None:
        """The open file's path or URL for NWB_SOURCE; None when no file is open (code can still run)."""
        source = self._current_source()
        if source:
            return source
        nwb = self._current_file()
        return None if nwb is None else str(nwb.source.location)

    def _ran(self, code: str, result: CellResult) -> None:
        self._entries.append(code_entry(code, result))
        self._save_notebook()

    def _shutdown_kernel(self) -> None:
        """At session end: interrupt a running cell now, end the kernel on a thread of its own.

        Session ends run on the server's event loop, and ending a kernel takes seconds (a running
        cell is interrupted first, a kernel still starting is waited for): every user would wait.
        """
        self._ended = True
        runner = self._runner
        if runner is None and not self._runner_lock.locked():
            return  # no kernel, none starting (and none will: _ended is set)
        if runner is not None:
            runner.stop()
        threading.Thread(target=self._end_kernel, name="kernel-shutdown", daemon=True).start()

    def _end_kernel(self) -> None:
        with self._runner_lock:
            runner, self._runner = self._runner, None
        if runner is not None:
            runner.shutdown()

    # --- notebook -----------------------------------------------------------------------------------
    def _observe(self, what: str, item: Any) -> None:
        if what == "user":
            self._entries.append(markdown_entry(item, "You"))
        elif getattr(item, "kind", "") == "final" and item.text:
            self._entries.append(markdown_entry(item.text, "Assistant"))
            self._save_notebook()

    def _notebook_path(self) -> Path | None:
        conversation = self._session.conversation_id
        return self._workspace / "agent" / "notebooks" / f"{conversation}.ipynb" if conversation else None

    def _save_notebook(self) -> None:
        path = self._notebook_path()
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            export_notebook(self._entries, path, title="NWB assistant")
        except Exception:  # saving the notebook must never break the chat
            log.exception("saving the chat's notebook failed")

    def _notebook_file(self) -> io.BytesIO:
        """The Export notebook download: this chat's notebook built in memory, never through a shared file."""
        return io.BytesIO(notebook_bytes(list(self._entries), title="NWB assistant"))

    def __panel__(self) -> pn.viewable.Viewable:
        note = "" if self._code.allowed else f" · code execution off: {escape_text(self._code.reason)}"
        return pn.Column(
            self.chat,
            pn.Row(self._download, pn.pane.Markdown(note, css_classes=["nd-muted"])),
            sizing_mode="stretch_width",
        )

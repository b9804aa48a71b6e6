"""A chat over one session's ``engines.agent.ChatSession``, for any page that gives its chat tools.

A turn runs on its own thread (never on Panel's callback threads, which every user shares);
each event it yields is rendered on the session's thread as it comes: streamed text, one
card per tool step (name, arguments, result), and the step's artifact (a table, a plot, a
link, an image, or whatever the page's renderer draws) even when the reply streams. Stop
cancels the turn; the tool trace can be downloaded. Conversations are saved in the workspace;
``conversation`` is the id of this one (the page puts it in its address, so a reload or a
bookmark reopens it), and the chat lists the conversations of this browser session and, when
the session belongs to a signed-in person, that person's saved ones: another user's chats are
never offered, and their ids open as "no such chat".
"""

from __future__ import annotations

import io
import json
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import pandas as pd
import panel as pn
import param

from components.background import is_served, run_on_session_thread
from components.safe_text import (
    code_span,
    escape_text,
    model_markdown,
    model_renderer,
    safe_table,
    text_alert,
)
from engines.agent import ChatRun, ChatSession
from engines.agent.events import AgentEvent
from engines.agent.results import Artifact, ImageArtifact, PlotArtifact, TableArtifact, ViewerLinkArtifact

__all__ = ["AgentChat", "frame_to_pandas"]

log = logging.getLogger(__name__)

ArtifactRenderer = Callable[[Artifact], "pn.viewable.Viewable | pn.viewable.Viewer | None"]
_SUMMARY_CHARS = 800
_TOOL_AVATAR = "T"  # letters: headless and minimal systems lack emoji fonts


def frame_to_pandas(frame: Any) -> pd.DataFrame:
    """A polars or pandas frame as pandas (polars' own converter needs pyarrow, which the app does
    without)."""
    if isinstance(frame, pd.DataFrame):
        return frame
    return pd.DataFrame({name: frame[name].to_list() for name in frame.columns})


def default_artifact_view(artifact: Artifact) -> pn.viewable.Viewable | None:
    """Tables, links and images; plots and page-specific artifacts are drawn by the page's renderer."""
    if isinstance(artifact, TableArtifact):
        return safe_table(
            frame_to_pandas(artifact.frame),
            show_index=False,
            disabled=True,
            height=260,
            sizing_mode="stretch_width",
            pagination="local",
            page_size=50,
        )
    if isinstance(artifact, ViewerLinkArtifact):
        return model_markdown(
            f"[{escape_text(artifact.title or 'open')}](<{artifact.url}>)", css_classes=["nd-chat-link"]
        )
    if isinstance(artifact, ImageArtifact):
        return pn.pane.Image(
            io.BytesIO(artifact.data), sizing_mode="stretch_width", css_classes=["nd-chat-image"]
        )
    if isinstance(artifact, PlotArtifact):
        return pn.pane.Markdown(f"*Plot: {escape_text(artifact.title)}*")
    return None


class AgentChat(pn.viewable.Viewer):
    """The chat column: messages, input, Stop, trace download and this session's conversations."""

    conversation = param.String(
        default="", doc="Id of the saved conversation shown ('' before the first message)."
    )

    def __init__(
        self,
        session: ChatSession,
        render_artifact: ArtifactRenderer | None = None,
        placeholder: str = "Type a command or a question…",
        height: int = 640,
        observer: Callable[[str, Any], None] | None = None,
    ) -> None:
        super().__init__()
        self._session = session
        self._render_artifact = render_artifact
        self._observer = observer  # ("user", text) and ("event", AgentEvent), on the session's thread
        self._doc = pn.state.curdoc
        self._run: ChatRun | None = None
        self._reply: pn.pane.Markdown | None = None
        self._reply_text = ""
        self._steps: dict[str, pn.Column] = {}
        self._pending: queue.SimpleQueue[AgentEvent] = queue.SimpleQueue()  # events not yet shown, in order
        self._pending_lock = threading.Lock()
        self._drain_scheduled = False
        self._known: dict[
            str, str
        ] = {}  # this session's conversations and its person's saved ones: id -> title
        if session.person is not None:
            self._known.update((c.id, c.title or "chat") for c in reversed(session.conversations()))
        self._title = "chat"
        self._build_widgets(session, placeholder, height)
        if is_served(self._doc):
            pn.state.on_session_destroyed(lambda _ctx: self.close())

    def _build_widgets(self, session: ChatSession, placeholder: str, height: int) -> None:
        """The feed (typed, replayed and streamed text is never markup), the header and the controls."""
        self._feed = pn.chat.ChatInterface(
            callback=self._on_send,
            show_rerun=False,
            show_undo=False,
            show_clear=False,
            show_stop=False,
            callback_user="Assistant",
            sizing_mode="stretch_width",
            height=height,
            default_avatars={"You": "U", "User": "U", "Assistant": "A", "Tool": _TOOL_AVATAR},
            widgets=[pn.chat.ChatAreaInput(placeholder=placeholder)],
            css_classes=["nd-chat"],
            renderers=[model_renderer],
        )  # typed, replayed and streamed text: never markup
        self._stop = pn.widgets.Button(label="Stop", button_type="warning", width=70, disabled=True)
        self._stop.on_click(lambda _: self.stop())
        self._trace = pn.widgets.FileDownload(
            callback=self._trace_file,
            filename="tool-trace.json",
            label="Tool trace",
            width=110,
            button_type="light",
        )
        self._history = pn.widgets.Select(name="", options=self._conversation_options(), width=220)
        self._history.param.watch(lambda e: self.open_conversation(e.new), "value")
        self._problem = pn.Column(sizing_mode="stretch_width")
        new_chat = pn.widgets.Button(label="New chat", width=90)
        new_chat.on_click(self._on_new_chat)
        mode = "offline commands (type 'help')" if session.offline else session.describe()
        self._header = pn.Row(
            pn.pane.Markdown(f"**Chat** · {escape_text(mode)}", css_classes=["nd-muted"], margin=(8, 5)),
            sizing_mode="stretch_width",
        )
        self._controls = pn.FlexBox(
            self._stop, self._trace, new_chat, self._history, sizing_mode="stretch_width"
        )

    # --- a turn ------------------------------------------------------------------------------------
    def send(self, text: str) -> None:
        """Send ``text`` as the user (what typing it and pressing Enter does)."""
        self._feed.send(text, user="You", respond=True)

    def _on_send(self, contents: str, _user: str, _instance) -> None:
        """Panel calls this on a callback thread: start the turn on its own thread and return at once."""
        text = str(contents).strip()
        if not text:
            return
        self._reply, self._reply_text, self._steps = None, "", {}
        if not self._session.conversation_id:
            self._title = text  # a new conversation is named after its first message
        if self._observer is not None:
            self._observer("user", text)
        # Widgets change on the session's thread, queued before the turn's own events: set from this thread,
        # the enabled Stop could reach the page after the turn had already disabled it.
        run_on_session_thread(self._doc, lambda: setattr(self._stop, "disabled", False))
        try:
            self._run = self._session.start(text, on_event=self._queue_event)
        except Exception as exc:  # AgentError: a turn is still running
            refusal = str(exc)
            run_on_session_thread(self._doc, lambda: self._refused(refusal))

    def _refused(self, text: str) -> None:
        self._stop.disabled = self._run is None
        self._feed.send(text, user="Assistant", respond=False)

    def notice(self, text: str, user: str = "Viewer") -> None:
        """On the session's thread: a message from the page itself (not the model), e.g. a layer the viewer
        cannot load; shown as text (the feed's renderer shows raw HTML as written), not sent to the model."""
        self._feed.send(text, user=user, respond=False)

    def stop(self) -> None:
        if self._run is not None:
            self._run.cancel()

    def _queue_event(self, event: AgentEvent) -> None:
        """On the turn's thread: render on the session's thread, the events that came meanwhile in one go.

        A turn sends several events within milliseconds (each tool's start and end, the text): one
        callback for all that arrived before it ran makes one change of the page instead of one each.
        """
        self._pending.put(event)
        with self._pending_lock:
            if self._drain_scheduled:
                return
            self._drain_scheduled = True
        run_on_session_thread(self._doc, self._render_pending)

    def _render_pending(self) -> None:
        with self._pending_lock:
            self._drain_scheduled = False  # an event queued from here on asks for another drain
        while True:
            try:
                event = self._pending.get_nowait()
            except queue.Empty:
                return
            self._render(event)

    def _render(self, event: AgentEvent) -> None:
        try:
            getattr(self, f"_on_{event.kind}", self._on_other)(event)
            if self._observer is not None:
                self._observer("event", event)
        except Exception:  # one event that cannot be shown must not end the chat
            log.exception("showing chat event %s failed", event.kind)

    def _on_text(self, event) -> None:
        self._reply_text += event.text
        if self._reply is None:
            self._reply = model_markdown(self._reply_text, sizing_mode="stretch_width")
            self._feed.send(self._reply, user="Assistant", respond=False)
        else:
            self._reply.object = self._reply_text

    def _on_tool_started(self, event) -> None:
        arguments = ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in event.arguments.items())
        step = pn.Column(
            pn.pane.Markdown(
                code_span(f"{event.tool}({arguments})"), css_classes=["nd-tool-step"], margin=(0, 5)
            ),
            sizing_mode="stretch_width",
        )
        self._steps[event.call_id] = step
        self._feed.send(step, user="Tool", avatar=_TOOL_AVATAR, respond=False)
        self._reply = None  # text after a tool step starts a new message

    def _on_tool_finished(self, event) -> None:
        step = self._steps.get(event.call_id)
        summary = (
            event.summary if len(event.summary) <= _SUMMARY_CHARS else event.summary[:_SUMMARY_CHARS] + " …"
        )
        parts: list[Any] = [
            model_markdown(
                summary, css_classes=["nd-tool-result"], margin=(0, 5), sizing_mode="stretch_width"
            )
        ]
        if event.artifact is not None:
            view = self._render_artifact(event.artifact) if self._render_artifact else None
            if view is None:  # (not falsiness: an empty layout the page fills later is a view)
                view = default_artifact_view(event.artifact)
            if view is not None:
                parts.append(view)
        if step is None:
            self._feed.send(
                pn.Column(*parts, sizing_mode="stretch_width"),
                user="Tool",
                avatar=_TOOL_AVATAR,
                respond=False,
            )
        else:
            step.extend(parts)

    def _on_tool_error(self, event) -> None:
        text = pn.pane.Markdown(
            f"**Failed:** {escape_text(event.message)}", css_classes=["nd-tool-error"], margin=(0, 5)
        )
        step = self._steps.get(event.call_id)
        if step is None:
            self._feed.send(text, user="Tool", avatar=_TOOL_AVATAR, respond=False)
        else:
            step.append(text)

    def _on_retrying(self, event) -> None:
        self._feed.send(f"Retrying: {event.message}", user="Assistant", respond=False)

    def _on_error(self, event) -> None:
        self._feed.send(
            text_alert(event.message, alert_type="danger", sizing_mode="stretch_width"),
            user="Assistant",
            respond=False,
        )

    def _on_final(self, event) -> None:
        if self._reply is None and event.text and not self._reply_text.endswith(event.text):
            self._feed.send(
                model_markdown(event.text, sizing_mode="stretch_width"), user="Assistant", respond=False
            )
        if event.stopped == "cancelled":
            self._feed.send("Stopped.", user="Assistant", respond=False)
        self._when_input_ready(lambda: setattr(self._stop, "disabled", True))
        self._run = None
        if self._session.conversation_id:
            self._known.setdefault(self._session.conversation_id, self._title)
            self.conversation = self._session.conversation_id
        self._history.options = self._conversation_options()

    def _when_input_ready(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the input takes Enter again (now, or when Panel's feed re-enables it).

        The feed blocks Enter until its callback's clean-up, which can come after a fast turn's
        last event: a Stop greyed out first would tell the user (and the tests) that the chat is
        ready while their next Enter is still ignored.
        """
        if not self._feed.disabled:
            action()
            return

        def once(event: param.parameterized.Event) -> None:
            if not event.new:
                self._feed.param.unwatch(watcher)
                action()

        watcher = self._feed.param.watch(once, "disabled")

    def _on_other(self, event) -> None:
        log.debug("chat event %s not shown", event.kind)

    # --- trace and conversations -----------------------------------------------------------------
    def _trace_file(self) -> io.StringIO:
        return io.StringIO(self._session.trace_json())

    def _conversation_options(self) -> dict[str, str]:
        options = {"Your chats…": ""}
        for conversation_id, title in self._known.items():
            options[f"{title[:40]} ({conversation_id[:6]})"] = conversation_id
        return options

    def open_conversation(self, conversation_id: str) -> None:
        """Show and continue a saved conversation (from this session's list or a link's id)."""
        if not conversation_id or conversation_id == self._session.conversation_id or self._run is not None:
            return
        try:
            conversation = self._session.load_conversation(conversation_id)
        except Exception as exc:  # an unknown id in a link: say so, keep the chat as it is
            self._problem[:] = [
                text_alert(
                    f"That chat could not be opened: {exc}", alert_type="warning", sizing_mode="stretch_width"
                )
            ]
            return
        self._problem[:] = []
        self._known.setdefault(conversation_id, conversation.info.title or "chat")
        self._history.options = self._conversation_options()
        self.conversation = conversation_id
        self._feed.clear()
        for turn in conversation.turns:
            self._feed.send(turn.user, user="You", respond=False)
            for step in turn.steps:
                self._feed.send(
                    f"{code_span(step.tool)} → {step.summary[:300]}",
                    user="Tool",
                    avatar=_TOOL_AVATAR,
                    respond=False,
                )
            if turn.answer:
                self._feed.send(turn.answer, user="Assistant", respond=False)

    def _on_new_chat(self, _event) -> None:
        if self._run is None:
            self._session.new_conversation()
            self._feed.clear()
            self._history.value = ""
            self.conversation = ""

    def close(self) -> None:
        self.stop()
        self._session.close()

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self._header, self._problem, self._feed, self._controls, sizing_mode="stretch_width")

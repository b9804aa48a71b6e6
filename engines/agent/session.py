"""One chat per browser session: toolsets + an endpoint (or none: the offline planner) + memory + saved
history.

The page creates a ``ChatSession`` when a browser session starts and ``close()``s it when
the session ends. ``send(text, cancel)`` returns the turn's events as a generator, to be
iterated on a worker thread (never the UI thread: a model turn takes seconds); ``start``
does that on a thread of its own and hands each event to a callback. One turn at a time:
a second ``send`` while one runs raises ``AgentError``. Every turn is saved in
``<workspace>/agent/`` as it starts and as it ends, whatever happens in between.

A session belongs to one ``person`` (the signed-in user): the conversations it saves are theirs,
it lists only theirs, and it opens no one else's (admins: any). A turn that goes to the model
spends one call of the person's ``budget`` first; when that is used up the turn ends with the
limit's message and nothing is sent. Offline planner turns cost nothing and never count.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from engines._progress import Cancel
from engines.agent.base import ChatModel
from engines.agent.config import LlmConfig
from engines.agent.context import DEFAULT_SYSTEM_PROMPT, TurnContext
from engines.agent.errors import AgentError, ConversationNotFound
from engines.agent.events import AgentEvent, ErrorEvent, FinalAnswer
from engines.agent.loop import TurnLimits, run_model_turn, run_planned_turn
from engines.agent.memory import Exchange, InteractionMemory
from engines.agent.openai_compatible import OpenAICompatibleModel
from engines.agent.planner import Plan
from engines.agent.registry import ToolRegistry
from engines.agent.replies import TokenUsage
from engines.agent.store import Conversation, ConversationInfo, ConversationStore
from engines.agent.tools import Toolset
from engines.agent.trace import ToolTrace
from engines.limits import Budget
from engines.people import LimitReached, Person

__all__ = ["ChatRun", "ChatSession"]

log = logging.getLogger(__name__)

_DEFAULT_LIMITS = TurnLimits()
"""The limits a session gets when none are given (frozen, so one instance serves every session)."""

OFFLINE_HINT = (
    "For free-form requests, connect a model: set OPENAI_API_KEY, or OPENAI_BASE_URL for a local "
    "server (Ollama, vLLM, llama.cpp), and NEURODECK_LLM_MODEL."
)


class ChatSession:
    """See the module docstring.

    ``toolsets``: the page's tools (built over this session's state). ``llm``: the endpoint,
    or None for the offline planner (``model`` overrides it with any ``ChatModel``).
    ``workspace``: where conversations are saved (None: not saved). ``state_summary`` and
    ``table_summaries``: callables the model's context is built from each turn.
    ``commands_first``: with a model, run input that is wholly offline commands ("zoom in")
    through the planner: instant, free, and the same tools and events.
    ``person``: whose chat this is (None: the server's own, e.g. a script: owner '', sees every saved
    conversation). ``budget``: the person's model calls (None: unlimited).
    """

    def __init__(
        self,
        toolsets: Toolset | Sequence[Toolset],
        llm: LlmConfig | None = None,
        workspace: Path | None = None,
        *,
        page: str = "chat",
        system_prompt: str = DEFAULT_SYSTEM_PROMPT,
        state_summary: Callable[[], str] | None = None,
        table_summaries: Callable[[], str] | None = None,
        limits: TurnLimits = _DEFAULT_LIMITS,
        memory: InteractionMemory | None = None,
        model: ChatModel | None = None,
        commands_first: bool = False,
        person: Person | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.registry = ToolRegistry([toolsets] if isinstance(toolsets, Toolset) else toolsets)
        self.model = model if model is not None else (OpenAICompatibleModel(llm) if llm is not None else None)
        self.page = page
        self.context = TurnContext(system_prompt, state_summary, table_summaries)
        self.limits = limits
        self.commands_first = commands_first
        self.person = person
        self.budget = budget
        self.memory = memory if memory is not None else InteractionMemory()
        self.trace = ToolTrace()
        self.usage = TokenUsage()
        self.store = ConversationStore(workspace) if workspace is not None else None
        self.conversation_id: str | None = None
        self._turn = 0
        self._busy = threading.Lock()

    # --- what the page shows -------------------------------------------------------------------
    @property
    def offline(self) -> bool:
        return self.model is None

    def describe(self) -> str:
        """The model and host ("gpt-4o-mini at api.openai.com") or "offline command planner"; never the
        key."""
        return self.model.describe() if self.model is not None else "offline command planner"

    def commands(self) -> list[str]:
        """The offline commands, one line each (for a help panel)."""
        return self.registry.planner.help_lines()

    def trace_json(self) -> str:
        """Every tool step of this session, whole, as JSON text (for a download button)."""
        return self.trace.to_json()

    # --- a turn ----------------------------------------------------------------------------------
    def send(self, text: str, cancel: Cancel = None) -> Iterator[AgentEvent]:
        """The events of one turn (see ``engines.agent.events``); the last is always a ``FinalAnswer``.

        Iterate on a worker thread. Closing the generator early counts as cancelling; the
        turn is still saved and remembered.
        """
        if not self._busy.acquire(blocking=False):
            raise AgentError("A reply is still being written: wait for it, or press Stop first.")
        return _TurnEvents(self._turn_events(text.strip(), cancel), self._busy.release)

    def start(
        self,
        text: str,
        on_event: Callable[[AgentEvent], None],
        on_done: Callable[[FinalAnswer | None], None] | None = None,
    ) -> ChatRun:
        """Run a turn on a daemon thread, calling ``on_event`` there for each event (schedule UI work from
        it)."""
        return ChatRun(self, text, on_event, on_done)

    def _turn_events(self, text: str, cancel: Cancel) -> Generator[AgentEvent, None, None]:
        final: FinalAnswer | None = None
        turn = self._begin(text)
        first_step = len(self.trace)
        try:
            for event in self._events(text, turn, cancel):
                if isinstance(event, FinalAnswer):
                    final = event
                yield event
        finally:
            self._finish(text, turn, first_step, final)
            self._busy.release()

    def _events(self, text: str, turn: int, cancel: Cancel) -> Iterator[AgentEvent]:
        if not text:
            return run_planned_turn(
                Plan((), ()),
                self.registry,
                self.trace,
                turn=turn,
                not_understood_answer=lambda _plan: "Type a message or a command.",
            )
        if self.model is None:
            return self._planned(text, turn, cancel)
        if self.commands_first:
            plan = self.registry.planner.plan(text)
            if plan.calls and not plan.not_understood:
                return run_planned_turn(
                    plan,
                    self.registry,
                    self.trace,
                    turn=turn,
                    not_understood_answer=self._offline_answer,
                    cancel=cancel,
                )
        if self.budget is not None:
            try:
                self.budget.take()
            except LimitReached as exc:
                return _refused(str(exc))
        messages = self.context.messages(self.memory, text)
        return run_model_turn(
            self.model,
            self.registry,
            messages,
            self.trace,
            turn=turn,
            limits=self.limits,
            cancel=cancel,
            refresh_context=self.context.system_message,
        )

    def _planned(self, text: str, turn: int, cancel: Cancel) -> Iterator[AgentEvent]:
        planner = self.registry.planner
        if planner.is_help_request(text):
            return run_planned_turn(
                Plan((), ()),
                self.registry,
                self.trace,
                turn=turn,
                not_understood_answer=self._offline_help,
                cancel=cancel,
            )
        return run_planned_turn(
            planner.plan(text),
            self.registry,
            self.trace,
            turn=turn,
            not_understood_answer=self._offline_answer,
            cancel=cancel,
        )

    def _offline_answer(self, plan: Plan) -> str:
        return f"{self.registry.planner.explain(plan)}\n\n{OFFLINE_HINT}"

    def _offline_help(self, _plan: Plan) -> str:
        lines = self.commands() or ["(no offline commands)"]
        return (
            "Offline, I understand these commands:\n"
            + "\n".join(f"- {line}" for line in lines)
            + f'\n\nJoin several with "and". {OFFLINE_HINT}'
        )

    def _begin(self, text: str) -> int:
        self._turn += 1
        if self.store is not None and text:
            try:
                if self.conversation_id is None:
                    self.conversation_id = self.store.create(
                        self.page, model=self.describe(), owner=self._owner
                    )
                self._turn = self.store.begin_turn(self.conversation_id, self._turn, text)
            except Exception:  # saving must never block the chat itself; the log says why
                log.exception("could not save the start of a chat turn")
        return self._turn

    def _finish(self, text: str, turn: int, first_step: int, final: FinalAnswer | None) -> None:
        steps = self.trace.steps[first_step:]
        answer = final.text if final is not None else "(stopped before the reply was finished)"
        stopped = final.stopped if final is not None else "cancelled"
        if final is not None:
            self.usage.add(final.usage)
        if text:
            self.memory.add(Exchange(text, answer, tuple(step.line() for step in steps)))
        if self.store is not None and self.conversation_id is not None and text:
            try:
                self.store.finish_turn(
                    self.conversation_id, turn, answer, stopped, steps, final.usage.to_dict() if final else {}
                )
            except Exception:
                log.exception("could not save the end of a chat turn")

    # --- saved conversations ------------------------------------------------------------------
    @property
    def _owner(self) -> str:
        return self.person.name if self.person is not None else ""

    def conversations(self) -> list[ConversationInfo]:
        """This person's saved conversations of this page, newest first (empty without a workspace)."""
        if self.store is None:
            return []
        return self.store.list_conversations(self.page, owner=None if self.person is None else self._owner)

    def new_conversation(self) -> None:
        """Start afresh: empty memory and trace; the next message opens a new saved conversation."""
        with self._held():
            self.conversation_id = None
            self.memory.clear()
            self.trace.replace([])
            self._turn = 0

    def load_conversation(self, conversation_id: str) -> Conversation:
        """Continue a saved conversation: its turns refill memory and trace; returns it for the page to
        redraw."""
        if self.store is None:
            raise ConversationNotFound(
                "This chat has no workspace, so it has no saved conversations to load."
            )
        conversation = self.store.load(conversation_id, self.person)
        with self._held():
            self.conversation_id = conversation_id
            self.memory.clear()
            self.memory.extend(
                Exchange(t.user, t.answer or "", tuple(s.line() for s in t.steps)) for t in conversation.turns
            )
            self.trace.replace([step for t in conversation.turns for step in t.steps])
            self._turn = max((t.turn for t in conversation.turns), default=0)
        return conversation

    @contextmanager
    def _held(self) -> Iterator[None]:
        if not self._busy.acquire(blocking=False):
            raise AgentError("A reply is still being written: wait for it, or press Stop first.")
        try:
            yield
        finally:
            self._busy.release()

    def close(self) -> None:
        """Release the endpoint's connections (call when the browser session ends)."""
        if self.model is not None:
            self.model.close()


def _refused(message: str) -> Iterator[AgentEvent]:
    """A turn that never reached the model: why (a limit), as an error and as the answer."""
    yield ErrorEvent(message=message, error_type="LimitReached", retryable=False)
    yield FinalAnswer(text=message, stopped="error")


class _TurnEvents(Iterator[AgentEvent]):
    """A turn's event generator that also frees the session if it is closed (or dropped) before it started."""

    def __init__(self, events: Generator[AgentEvent, None, None], release: Callable[[], None]) -> None:
        self._events = events
        self._release: Callable[[], None] | None = release

    def __next__(self) -> AgentEvent:
        self._release = None  # from now on the generator's own ``finally`` frees the session
        return next(self._events)

    def close(self) -> None:
        self._events.close()
        release, self._release = self._release, None
        if release is not None:
            release()

    def __del__(self) -> None:
        self.close()


class ChatRun:
    """A turn running on its own daemon thread. ``cancel()`` stops it between steps; ``final`` when done."""

    def __init__(
        self,
        session: ChatSession,
        text: str,
        on_event: Callable[[AgentEvent], None],
        on_done: Callable[[FinalAnswer | None], None] | None = None,
    ) -> None:
        self.cancelled = threading.Event()
        self.final: FinalAnswer | None = None
        self._events = session.send(text, self.cancelled)
        self._on_event = on_event
        self._on_done = on_done
        self.thread = threading.Thread(target=self._run, name="chat-turn", daemon=True)
        self.thread.start()

    def cancel(self) -> None:
        self.cancelled.set()

    def join(self, timeout: float | None = None) -> FinalAnswer | None:
        self.thread.join(timeout)
        return self.final

    @property
    def done(self) -> bool:
        return not self.thread.is_alive()

    def _run(self) -> None:
        try:
            for event in self._events:
                if isinstance(event, FinalAnswer):
                    self.final = event
                try:
                    self._on_event(event)
                except Exception:  # a rendering bug must not stop the turn (or leave the session busy)
                    log.exception("chat event handler failed on %s", event.kind)
        finally:
            if self._on_done is not None:
                self._on_done(self.final)

"""What the model is told each turn: the system prompt, the page's state and tables, memory, the message.

The page gives callables (``state_summary() -> str``, ``table_summaries() -> str``) that are
called on the chat's worker thread at the start of a turn and after any round whose tools
changed state; they must be quick and thread-safe (read a snapshot). A callable that raises
does not stop the chat: its section says it is unavailable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from engines.agent.base import Message
from engines.agent.memory import InteractionMemory
from engines.agent.results import truncate_for_model

__all__ = ["DEFAULT_SYSTEM_PROMPT", "TurnContext"]

log = logging.getLogger(__name__)

DEFAULT_SYSTEM_PROMPT = (
    "You are the assistant of a neuroscience workbench. Act through the tools you are given; never invent "
    "results. Call several tools in one round when they are independent. When a tool reports an error, read "
    "it, correct the call, or tell the user what is needed. Answer briefly, in plain language."
)


@dataclass(frozen=True)
class TurnContext:
    """How a turn's messages are built; ``section_chars`` caps each summary the page provides."""

    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    state_summary: Callable[[], str] | None = None
    table_summaries: Callable[[], str] | None = None
    section_chars: int = 6000

    def system_message(self) -> Message:
        sections = [self.system_prompt.strip()]
        for title, source in (("Current state", self.state_summary), ("Tables", self.table_summaries)):
            if source is not None:
                sections.append(f"## {title}\n{self._section(title, source)}")
        return {"role": "system", "content": "\n\n".join(sections)}

    def messages(self, memory: InteractionMemory, user_text: str) -> list[Message]:
        """System message (with fresh summaries), remembered exchanges, then the new message."""
        return [self.system_message(), *memory.messages(), {"role": "user", "content": user_text}]

    def _section(self, title: str, source: Callable[[], str]) -> str:
        try:
            text = str(source()).strip() or "(empty)"
        except Exception as error:  # a page's summary bug must not stop the chat
            log.exception("%s summary failed", title.lower())
            text = f"(unavailable: {type(error).__name__}: {error})"
        return truncate_for_model(text, self.section_chars)

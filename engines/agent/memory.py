"""Rolling interaction memory: the recent exchanges a model sees, bounded by count and by characters.

Each exchange keeps the user's text, the answer and one short line per tool step, so the
model remembers what it did without the full tool results (those are in the trace).
The oldest exchanges go first; one exchange longer than the whole budget is cut to fit.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace

from engines.agent.base import Message
from engines.agent.results import truncate_for_model

__all__ = ["Exchange", "InteractionMemory"]


@dataclass(frozen=True)
class Exchange:
    user: str
    answer: str
    steps: tuple[str, ...] = ()

    @property
    def chars(self) -> int:
        return len(self.user) + len(self.answer) + sum(len(s) for s in self.steps)

    def to_messages(self) -> list[Message]:
        answer = self.answer
        if self.steps:
            answer = "[tool steps: " + "; ".join(self.steps) + "]\n" + answer
        return [{"role": "user", "content": self.user}, {"role": "assistant", "content": answer}]


class InteractionMemory:
    """At most ``max_exchanges`` exchanges and ``max_chars`` characters, newest kept."""

    def __init__(self, max_exchanges: int = 20, max_chars: int = 12_000) -> None:
        if max_exchanges < 0 or max_chars < 0:
            raise ValueError("memory limits must be zero or more")
        self.max_exchanges = max_exchanges
        self.max_chars = max_chars
        self._items: deque[Exchange] = deque()
        self._lock = threading.Lock()

    def add(self, exchange: Exchange) -> None:
        with self._lock:
            self._items.append(self._fitted(exchange))
            while self._items and (len(self._items) > self.max_exchanges or self._chars() > self.max_chars):
                self._items.popleft()

    def extend(self, exchanges: Iterable[Exchange]) -> None:
        for exchange in exchanges:
            self.add(exchange)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    @property
    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self._items)

    @property
    def chars(self) -> int:
        with self._lock:
            return self._chars()

    def __len__(self) -> int:
        return len(self._items)

    def messages(self) -> list[Message]:
        """The remembered exchanges as user/assistant messages, oldest first."""
        return [m for exchange in self.exchanges for m in exchange.to_messages()]

    def _chars(self) -> int:
        return sum(e.chars for e in self._items)

    def _fitted(self, exchange: Exchange) -> Exchange:
        if exchange.chars <= self.max_chars:
            return exchange
        steps_budget = self.max_chars // 4
        steps = (
            tuple(truncate_for_model("; ".join(exchange.steps), steps_budget).split("; "))
            if exchange.steps
            else ()
        )
        user = truncate_for_model(exchange.user, self.max_chars // 4)
        left = max(self.max_chars - len(user) - sum(len(s) for s in steps), 0)
        return replace(exchange, user=user, answer=truncate_for_model(exchange.answer, left), steps=steps)

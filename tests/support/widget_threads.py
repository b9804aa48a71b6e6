"""Records every change of a Panel widget, pane or layout made off the session's thread.

The static scan (tests/app/test_thread_discipline.py) follows the code handed to threads;
this watches what a served session really does. While ``foreign_widget_changes()`` is open,
every parameter set on a ``Reactive`` (widgets, panes, layouts, indicators) that is already on
screen (has a Bokeh model) is checked; building new ones off the session's thread is fine. It is
fine on the server's event loop thread (``serve_page`` names it ``server-loop``) or inside a
callback that ``run_on_session_thread`` runs; anywhere else it is recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import param
from panel.reactive import Reactive

import components.background as background

__all__ = ["foreign_widget_changes", "SESSION_LOOP_THREAD"]

SESSION_LOOP_THREAD = "server-loop"
_HELPER = threading.local()


def _setters() -> list[type]:
    """Every Parameter class whose own ``__set__`` runs when a value is assigned."""
    found, todo = [], [param.Parameter]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if "__set__" in vars(cls):
            found.append(cls)
    return found


@contextmanager
def foreign_widget_changes() -> Iterator[list[str]]:
    """Yields the list that collects ``'<Widget>.<parameter> from <thread>'`` for each change off-thread."""
    foreign: list[str] = []
    originals = {cls: vars(cls)["__set__"] for cls in _setters()}
    run_one = background._run_one

    def checked(original: Any) -> Any:
        def __set__(self: param.Parameter, obj: Any, val: Any) -> None:
            thread = threading.current_thread().name
            on_session = thread == SESSION_LOOP_THREAD or getattr(_HELPER, "depth", 0)
            if isinstance(obj, Reactive) and obj._models and not on_session:
                foreign.append(f"{type(obj).__name__}.{self.name} from {thread}")
            original(self, obj, val)

        return __set__

    def marked_run_one(callback: Any) -> None:
        _HELPER.depth = getattr(_HELPER, "depth", 0) + 1
        try:
            run_one(callback)
        finally:
            _HELPER.depth -= 1

    for cls, original in originals.items():
        cls.__set__ = checked(original)
    background._run_one = marked_run_one
    try:
        yield foreign
    finally:
        for cls, original in originals.items():
            cls.__set__ = original
        background._run_one = run_one

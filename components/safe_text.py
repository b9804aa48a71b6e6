"""Untrusted text into Panel's markup panes, shown as text and never run as code.

Panel's ``HTML``, ``Markdown`` and ``Alert`` panes insert what they are given as HTML, and run
its scripts: a file name, an NWB object name, a link argument, a CSV column or a model's reply
put there as written is code in the browser of whoever opens it. Every such piece goes through
one of these:

- ``escape_text``: plain text inside the app's own Markdown or HTML (a message, a title). Both
  HTML and Markdown syntax become character references, which both languages show literally.
- ``code_span`` / ``code_block``: text shown as code (markdown-it escapes code itself; the fence
  is chosen so the text cannot close it).
- ``model_markdown``: text whose Markdown formatting is wanted (a model's reply, a replayed
  chat): markdown-it's own ``html`` switch off, so raw HTML shows as text, and its link
  validation keeps ``javascript:`` and ``data:`` links from becoming links.
- ``safe_table``: a Tabulator whose column titles (which Tabulator inserts as HTML) are escaped.
- ``safe_choices``: MultiChoice options whose labels (which Choices.js inserts as HTML) are escaped.

Cells of Tabulator tables (plain-text formatter), Bokeh titles, axes and hover values, and the
JSON pane show text as text already.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import panel as pn

__all__ = [
    "escape_text",
    "text_alert",
    "code_span",
    "code_block",
    "model_markdown",
    "model_renderer",
    "safe_titles",
    "safe_table",
    "safe_choices",
    "MODEL_MARKDOWN_OPTIONS",
]

MODEL_MARKDOWN_OPTIONS = {"html": False}
"""markdown-it options for text the app did not write: raw HTML is rendered as text."""

_INLINE = re.compile(r"[&<>\\`*\[\]~|$]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
"""HTML's special characters and Markdown's inline syntax (``_`` only where it can start or end emphasis, so
``start_time`` stays as it is), escaped wherever they appear."""
_LINE_START = re.compile(r"^([ \t]*)(?:([#>+\-=:])|(\d+)([.)])(?=\s|$))?", re.MULTILINE)
"""Block syntax, which only counts at the start of a line: headings, quotes, lists, rules, definitions."""


def _reference(character: str) -> str:
    return f"&#{ord(character)};"


def escape_text(text: Any) -> str:
    """``text`` as it reads, for a Markdown, Alert or HTML pane (also inside the app's own markup).

    Character references work the same in HTML and in Markdown text (CommonMark never reads them as
    syntax), so one escaped string is safe in either pane. Leading spaces are kept as references too,
    so an indented line never becomes a code block, where references would show as written.
    """

    def block(match: re.Match) -> str:
        indent = "".join(_reference(c) for c in match.group(1))
        if match.group(2):
            return indent + _reference(match.group(2))
        if match.group(3):
            return indent + match.group(3) + _reference(match.group(4))
        return indent

    escaped = _INLINE.sub(lambda match: _reference(match.group()), str(text))
    return _LINE_START.sub(block, escaped)


def text_alert(text: Any, **params: Any) -> pn.pane.Alert:
    """An Alert that shows ``text`` (an error, a problem with a link) as written."""
    return pn.pane.Alert(escape_text(text), **params)


def code_span(text: Any) -> str:
    """``text`` as inline code: fenced by more backticks than it holds, so it cannot end the span."""
    text = " ".join(str(text).splitlines())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"


def code_block(text: Any, language: str = "") -> str:
    """``text`` as a fenced code block that no line of it can close."""
    text = str(text)
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def model_markdown(text: str, **params: Any) -> pn.pane.Markdown:
    """A Markdown pane for text the app did not write: formatting kept, raw HTML shown as text."""
    return pn.pane.Markdown(text, renderer_options=dict(MODEL_MARKDOWN_OPTIONS), **params)


def model_renderer(value: Any) -> pn.pane.Markdown:
    """A ``ChatMessage`` renderer: every string message (typed, replayed, streamed) as ``model_markdown``.

    Raises for anything else, so the chat falls back to its own renderers for panes and files.
    """
    if not isinstance(value, str):
        raise TypeError("not text")
    return model_markdown(value, hard_line_break=True)


def safe_titles(frame: pd.DataFrame) -> dict[str, str]:
    """Tabulator ``titles`` for ``frame``'s columns, escaped: Tabulator writes titles into the page as
    HTML."""
    return {str(name): html.escape(str(name)) for name in frame.columns}


def safe_table(frame: pd.DataFrame, **params: Any) -> pn.widgets.Tabulator:
    """A read-only Tabulator of ``frame`` whose column titles cannot carry markup (cells are text already)."""
    return pn.widgets.Tabulator(frame, titles=safe_titles(frame), **params)


def safe_choices(options: Mapping[str, Any] | Sequence[Any]) -> dict[str, Any]:
    """MultiChoice ``options`` (labels to values, or values that are their own labels) with escaped labels.

    Bokeh's MultiChoice leaves Choices.js's ``allowHTML`` on, so a label is written into the page as HTML:
    a channel or unit named like markup would run. The values the widget reports are unchanged.
    """
    pairs = options.items() if isinstance(options, Mapping) else ((str(value), value) for value in options)
    return {html.escape(str(label)): value for label, value in pairs}

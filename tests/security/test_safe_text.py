"""The helpers in components/safe_text.py, through the HTML Panel's own panes send to the browser."""

from __future__ import annotations

import html
from html.parser import HTMLParser

import pandas as pd
import panel as pn
import pytest

from components.safe_text import (
    code_block,
    code_span,
    escape_text,
    model_markdown,
    safe_choices,
    safe_table,
    text_alert,
)

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "**bold** _it_ `code` [link](javascript:alert(1)) ![i](x)",
    "# heading\n- item\n1. first\n> quote\n    indented\n\n    code\n---",
    "a | b\n--|--\n1 | 2",
    "<svg/onload=alert(1)> &amp; &lt;",
    "``` fence ` and `` ticks",
]


class _Page(HTMLParser):
    """What the browser builds from the pane's HTML: its elements and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.text = ""

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)
        self.links += [value for name, value in attrs if name == "href"]

    def handle_data(self, data) -> None:
        self.text += data


def _rendered(pane) -> _Page:
    page = _Page()
    page.feed(
        html.unescape(pane._transform_object(pane.object)["object"])
    )  # Panel escapes once for transport
    return page


def _words(text: str) -> list[str]:
    return text.split()


@pytest.mark.parametrize("text", PAYLOADS)
@pytest.mark.parametrize("pane", [pn.pane.Markdown, pn.pane.HTML, text_alert])
def test_escaped_text_reads_as_written_and_builds_no_elements(text, pane):
    page = _rendered(pane(escape_text(text)) if pane is not text_alert else text_alert(text))
    assert set(page.tags) <= {"p"}, page.tags
    assert _words(page.text) == _words(text)


@pytest.mark.parametrize("text", PAYLOADS)
def test_code_cannot_be_closed_from_inside(text):
    for markdown in (code_span(text), code_block(text)):
        page = _rendered(pn.pane.Markdown(markdown))
        assert not {"img", "script", "svg", "a", "h1", "li", "table"} & set(page.tags)
        assert _words(page.text) == _words(text)


def test_model_replies_keep_markdown_but_no_html_or_script_links():
    reply = (
        "Here is **what I found**:\n\n- <img src=x onerror=alert(1)>\n- <script>alert(2)</script>\n\n"
        "[a link](javascript:alert(3)) and [docs](https://nwb.org)\n\n```python\nprint('<b>')\n```"
    )
    page = _rendered(model_markdown(reply))
    assert {"strong", "li", "code"} <= set(page.tags)
    assert not {"img", "script"} & set(page.tags)
    assert page.links == ["https://nwb.org"]
    assert "<img src=x onerror=alert(1)>" in page.text and "<script>alert(2)</script>" in page.text


def test_table_titles_from_files_are_escaped_for_tabulator():
    frame = pd.DataFrame({"<img src=x onerror=alert(1)>": [1], "plain": [2]})
    table = safe_table(frame)
    assert table.titles == {
        "<img src=x onerror=alert(1)>": "&lt;img src=x onerror=alert(1)&gt;",
        "plain": "plain",
    }


def test_choice_labels_from_files_are_escaped_and_values_kept():
    """Bokeh's MultiChoice writes labels as HTML (Choices.js ``allowHTML``): a unit or channel name must
    not."""
    assert safe_choices(["<img src=x onerror=alert(1)>", "7"]) == {
        "&lt;img src=x onerror=alert(1)&gt;": "<img src=x onerror=alert(1)>",
        "7": "7",
    }
    assert safe_choices({"<b>ch 0</b>": 0}) == {"&lt;b&gt;ch 0&lt;/b&gt;": 0}

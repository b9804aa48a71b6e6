"""A card's text: long reasons end between words with an ellipsis, and every value from a sorting, a judge
or a model reaches the page as text (the card is written as HTML)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import panel as pn

from components.background import BackgroundWork
from components.curation.cards import GroupCard, card_text

PAYLOADS = ['<img src=x onerror="alert(1)">', "<script>alert(2)</script>", '"><svg onload=alert(3)>']


def _row(reasoning: str, **values) -> dict:
    return {
        "group_id": 3,
        "unit_ids": [4, 7],
        "similarity": 0.91,
        "decision": "merge",
        "confidence": 0.8,
        "verdict": "",
        "reasoning": reasoning,
    } | values


def _reasons(text: str) -> str:
    return html.unescape(re.findall(r"<p[^>]*>(.*?)</p>", text)[-1])


def test_long_reasons_are_cut_between_words_with_an_ellipsis():
    reasoning = "cross-correlogram dip of 0.12 at 0-2 ms; " * 12
    last = _reasons(card_text(_row(reasoning)))
    assert last.endswith(" …")
    kept = last.removesuffix(" …")
    assert reasoning.startswith(kept)  # a prefix of the reasons...
    assert reasoning[len(kept)] == " "  # ...that ends where a word ends
    assert len(last) <= 220


def test_short_reasons_are_shown_whole():
    assert _reasons(card_text(_row("waveforms alike; refractory period kept"))) == (
        "waveforms alike; refractory period kept"
    )


class _Elements(HTMLParser):
    """The elements of a piece of HTML and its text, as a browser would read them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text = ""

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text += data


def test_crafted_units_decision_verdict_and_reasons_show_as_text_on_the_card(tmp_path):
    """A sorting's unit ids, a judge's decision and a model's reasons are written into the card's HTML: none
    may become an element or an attribute there."""
    picture = tmp_path / "waveforms.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n")
    card = GroupCard(0, BackgroundWork(), lambda _group: {PAYLOADS[0]: picture}, on_open=lambda _g: None)
    row = _row(PAYLOADS[0], unit_ids=[PAYLOADS[1], 7], decision=PAYLOADS[2], verdict=PAYLOADS[1])
    card.show(row, focused=True)
    body = next(pane for pane in pn.panel(card.view).select(pn.pane.HTML) if "nd-group-card" in pane.object)
    parsed = _Elements()
    parsed.feed(body.object)
    assert {tag for tag, _ in parsed.tags} <= {"div", "p", "strong", "img"}
    assert all(set(attrs) <= {"class", "src", "alt"} for _, attrs in parsed.tags)
    assert [attrs["src"][:22] for tag, attrs in parsed.tags if tag == "img"] == ["data:image/png;base64,"]
    for payload in PAYLOADS:
        assert payload in parsed.text  # shown as written

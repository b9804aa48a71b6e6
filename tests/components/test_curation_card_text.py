"""A card's reasons: long ones end between words with an ellipsis, short ones are shown whole."""

from __future__ import annotations

from components.curation.cards import card_text


def _row(reasoning: str) -> dict:
    return {
        "group_id": 3,
        "unit_ids": [4, 7],
        "similarity": 0.91,
        "decision": "merge",
        "confidence": 0.8,
        "verdict": "",
        "reasoning": reasoning,
    }


def test_long_reasons_are_cut_between_words_with_an_ellipsis():
    reasoning = "cross-correlogram dip of 0.12 at 0-2 ms; " * 12
    last = card_text(_row(reasoning)).split("\n\n")[-1]
    assert last.endswith(" …")
    kept = last.removesuffix(" …")
    assert reasoning.startswith(kept)  # a prefix of the reasons...
    assert reasoning[len(kept)] == " "  # ...that ends where a word ends
    assert len(last) <= 220


def test_short_reasons_are_shown_whole():
    assert card_text(_row("waveforms alike; refractory period kept")).endswith(
        "waveforms alike; refractory period kept"
    )

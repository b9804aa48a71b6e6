"""Short links for long URLs (whole texts and streamed pieces), and what an endpoint config says about
itself."""

from __future__ import annotations

import pickle

import pytest

from engines.agent import LlmConfig, StreamingUrlShortener, shorten_urls

STATE_URL = (
    "https://neuroglancer-demo.appspot.com/#!%7B%22dimensions%22%3A%7B%22x%22%3A%5B8e-9%2C%22m%22%5D%7D%7D"
)
FILE_URL = "https://dandiarchive.s3.amazonaws.com/blobs/ab1/23c/ab123c45-6789-4def-8123-456789abcdef/sub-01_ses-01.nwb"


def test_long_urls_become_short_markdown_links():
    text = f"Open {STATE_URL}. Or read {FILE_URL}, then https://short.org/a."
    assert shorten_urls(text) == (
        f"Open [Neuroglancer view (neuroglancer-demo.appspot.com)]({STATE_URL}). "
        f"Or read [dandiarchive.s3.amazonaws.com/…/sub-01_ses-01.nwb]({FILE_URL}), "
        "then https://short.org/a."
    )


def test_links_already_written_as_markdown_or_code_are_left_alone():
    text = f"[the view]({STATE_URL}) and `{FILE_URL}`"
    assert shorten_urls(text) == text


def test_a_closing_bracket_that_belongs_to_the_url_is_kept():
    url = "https://en.wikipedia.org/wiki/Neuron_(cell)_with_a_really_long_name_to_pass_the_limit"
    assert shorten_urls(f"({url})") == f"([en.wikipedia.org/…/Neuron_(cell)_with_a_really...]({url}))"


@pytest.mark.parametrize("size", [1, 3, 7, 50])
def test_streamed_pieces_give_the_same_text_as_the_whole(size: int):
    text = f"See {STATE_URL} now,\nand {FILE_URL}! Done https://x.org"
    shortener = StreamingUrlShortener()
    shown = "".join(shortener.feed(text[i : i + size]) for i in range(0, len(text), size)) + shortener.flush()
    assert shown == shorten_urls(text)


def test_the_endpoint_defaults_to_openai_and_the_key_is_never_described():
    config = LlmConfig(api_key="sk-secret")
    assert config.endpoint == "https://api.openai.com/v1" and "sk-secret" not in config.describe()
    local = LlmConfig(model="llama3.1", base_url="http://localhost:11434/v1/", vision_model="llava")
    assert local.endpoint == "http://localhost:11434/v1" and local.model_for_images == "llava"
    assert local.describe() == "llama3.1 at http://localhost:11434/v1/"
    assert pickle.loads(pickle.dumps(config)) == config

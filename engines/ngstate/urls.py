"""Neuroglancer URLs: ``<host>#!<state>`` in the plain (percent-encoded JSON) and url-safe forms.

The plain form is byte-for-byte what ``neuroglancer.url_state.to_url`` writes for the same JSON
(same separators, same safe characters). The url-safe form is Neuroglancer's older one: strings
in single quotes and ``_`` between items, so the text survives chat programs and e-mail.
Parsing accepts both, plus a bare ``#!`` fragment or raw JSON; the url-safe conversion is one
linear regular-expression pass (Neuroglancer's own loops over the text once per string).
Apostrophes inside strings (``c'`` local dimensions, titles) are written as ``\u0027`` so
Neuroglancer's own parser reads them too (its writer's ``\'`` becomes invalid JSON on the way
back; we read that form as well).

``#!s3://...``, ``#!gs://...`` and ``#!https://...`` are JSON pointers: ``pointer_of`` finds
them; ``engines.ngstate.pointers.load_state`` fetches them.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote, unquote

from engines.ngstate.errors import StateParseError
from engines.ngstate.state import NgState

__all__ = [
    "DEFAULT_VIEWER_URL",
    "MAX_LINK_CHARS",
    "to_url",
    "to_fragment",
    "parse_url",
    "pointer_of",
    "json_to_url_safe",
    "url_safe_to_json",
]

DEFAULT_VIEWER_URL = "https://neuroglancer-demo.appspot.com"
MAX_LINK_CHARS = 60_000
"""The longest address the app's own server opens (Tornado refuses a request whose headers pass 64 KB,
closing the connection): a longer state (a table drawn as annotations) is shared as a saved view instead."""

_SAFE = "~@#$&()*!+=:;,.?/'"
"""Characters Neuroglancer's Python package leaves unescaped in a fragment (``url_state.to_url_fragment``)."""

_ALWAYS_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
_UNSAFE_ASCII = ["%"] + [chr(code) for code in range(128) if chr(code) not in _ALWAYS_SAFE + _SAFE + "%"]

_POINTER = re.compile(r"^(?:s3|gs|https?)://\S+$", re.IGNORECASE)

_FROM_URL_SAFE = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[_&]""", re.DOTALL)
_TO_URL_SAFE = re.compile(r'"(?:[^"\\]|\\.)*"|,', re.DOTALL)
_ESCAPE_OR_DOUBLE = re.compile(r'\\.|"', re.DOTALL)
_ESCAPE_OR_SINGLE = re.compile(r"\\.|'", re.DOTALL)


_TO_DOUBLE_QUOTED = {'"': '\\"', "\\'": "'"}
_TO_SINGLE_QUOTED = {"'": "\\u0027", '\\"': '"'}


def _single_to_double(match: re.Match[str]) -> str:
    text = match.group(0)
    if text in ("_", "&"):
        return ","
    if text[0] == '"':
        return text
    inner = _ESCAPE_OR_DOUBLE.sub(lambda m: _TO_DOUBLE_QUOTED.get(m.group(0), m.group(0)), text[1:-1])
    return f'"{inner}"'


def _double_to_single(match: re.Match[str]) -> str:
    text = match.group(0)
    if text == ",":
        return "_"
    inner = _ESCAPE_OR_SINGLE.sub(lambda m: _TO_SINGLE_QUOTED.get(m.group(0), m.group(0)), text[1:-1])
    return f"'{inner}'"


def url_safe_to_json(text: str) -> str:
    """Neuroglancer's url-safe JSON (single quotes, ``_`` separators) back to JSON."""
    return _FROM_URL_SAFE.sub(_single_to_double, text)


def json_to_url_safe(text: str) -> str:
    """Compact JSON to Neuroglancer's url-safe form."""
    return _TO_URL_SAFE.sub(_double_to_single, text)


def to_fragment(state: NgState, url_safe: bool = False) -> str:
    """The part after ``#!``: percent-encoded JSON (or url-safe JSON). Costs one JSON dump."""
    text = state.to_json()  # ASCII: json.dumps escapes everything else
    if url_safe:
        text = json_to_url_safe(text)
    return _quote_ascii(text) if text.isascii() else quote(text, safe=_SAFE)


def _quote_ascii(text: str) -> str:
    """``urllib.parse.quote(text, safe=_SAFE)`` for ASCII text, one C-speed ``str.replace`` per unsafe
    character present ('%' first), about ten times faster on a large state."""
    for char in _UNSAFE_ASCII:
        if char in text:
            text = text.replace(char, f"%{ord(char):02X}")
    return text


def to_url(state: NgState, viewer_url: str = DEFAULT_VIEWER_URL, url_safe: bool = False) -> str:
    """A Neuroglancer link: ``<viewer_url>#!<state>``; ``parse_url(to_url(s)) == s``."""
    return f"{viewer_url.split('#', 1)[0]}#!{to_fragment(state, url_safe)}"


def _fragment_text(text: str) -> str:
    """The decoded state text of a URL, ``#!`` fragment, ``!`` fragment or raw JSON."""
    text = text.strip()
    if not text:
        raise StateParseError(
            "No state given. Paste a Neuroglancer URL (…#!{...}), its JSON, or a JSON pointer URL."
        )
    if text.startswith("{"):
        return text
    if "#" in text:
        text = text.split("#", 1)[1]
    elif not text.startswith("!"):
        if _POINTER.match(text) and (
            not text.lower().startswith("http") or text.split("?")[0].endswith(".json")
        ):
            return text  # a bare s3:// or gs:// address, or a link straight to a .json state
        raise StateParseError(
            "This is not a Neuroglancer URL: it has no '#!' part. Paste the whole link from the viewer's "
            "address bar, its JSON, or a JSON pointer URL like https://host/#!gs://bucket/state.json."
        )
    text = unquote(text)
    return text[1:] if text.startswith("!") else text


def pointer_of(text: str) -> str | None:
    """The pointed-to URL when ``text`` is a JSON pointer (``…#!gs://b/s.json``, ``#!s3://…``), else None."""
    try:
        fragment = _fragment_text(text).strip()
    except StateParseError:
        return None
    return fragment if _POINTER.match(fragment) else None


def parse_url(text: str) -> NgState:
    """Parse a Neuroglancer URL, ``#!`` fragment or JSON text (plain or url-safe) into a state.

    Pointer URLs are refused here with a message pointing at ``load_state``, which fetches them.
    Costs one JSON parse (plus one linear conversion pass for the url-safe form).
    """
    fragment = _fragment_text(text)
    if not fragment.strip():
        raise StateParseError("The URL has an empty state after '#!'. Copy the link again from the viewer.")
    if _POINTER.match(fragment.strip()):
        raise StateParseError(
            f"'{fragment.strip()}' points at a state stored elsewhere; it has to be fetched "
            "(load_state does that)."
        )
    try:
        return NgState.from_json(fragment)
    except StateParseError:
        pass
    try:
        data = json.loads(url_safe_to_json(fragment))
    except json.JSONDecodeError as exc:
        raise StateParseError(
            f"The state in this URL is not valid JSON ({exc.msg} at character {exc.pos}). "
            "The link may be cut short: copy it again, whole, from the viewer."
        ) from exc
    if not isinstance(data, dict):
        raise StateParseError("A Neuroglancer state is a JSON object ({...}); this URL holds something else.")
    return NgState._wrap(data)

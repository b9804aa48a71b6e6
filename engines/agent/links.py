"""Long URLs in chat text shown as short markdown links (a Neuroglancer state URL can be 10,000 characters).

``shorten_urls`` rewrites whole texts; ``StreamingUrlShortener`` does the same for streamed
pieces, holding back only the word still being written, so a URL is never shown half raw.
URLs already inside a markdown link or in backticks are left as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

__all__ = ["StreamingUrlShortener", "label_url", "shorten_urls"]

_URL = re.compile(r"(?<!\]\()(?<![<`\w])(?:https?|s3|gs)://[^\s<>`\"]+")
_TRAILING = ".,;:!?)]}'\""


def label_url(url: str) -> str:
    """A short label: "Neuroglancer view (host)" for ``#!`` states, else host and the last path part."""
    parts = urlsplit(url)
    host = parts.netloc or parts.scheme
    if "#!" in url:
        return f"Neuroglancer view ({host})"
    path = parts.path.strip("/")
    if not path:
        return host
    tail = unquote(path.rsplit("/", 1)[-1])
    if len(tail) > 30:
        tail = tail[:27] + "..."
    return f"{host}/…/{tail}" if "/" in path else f"{host}/{tail}"


def shorten_urls(text: str, max_length: int = 60, label: Callable[[str], str] = label_url) -> str:
    """Replace bare URLs longer than ``max_length`` with ``[label](url)``; shorter ones stay as they are."""

    def replace(found: re.Match[str]) -> str:
        url = found.group(0)
        trailing = ""
        while url and url[-1] in _TRAILING and not _balanced(url):
            trailing = url[-1] + trailing
            url = url[:-1]
        if len(url) <= max_length:
            return url + trailing
        return f"[{label(url)}]({url}){trailing}"

    return _URL.sub(replace, text)


def _balanced(url: str) -> bool:
    """A closing bracket that belongs to the URL (``.../Foo_(bar)``) is kept."""
    closing = url[-1]
    opening = {")": "(", "]": "[", "}": "{"}.get(closing)
    return opening is not None and url.count(opening) >= url.count(closing)


class StreamingUrlShortener:
    """Feed streamed text pieces; get back text safe to show, with long URLs shortened. ``flush()`` at the
    end."""

    def __init__(self, max_length: int = 60, label: Callable[[str], str] = label_url) -> None:
        self.max_length = max_length
        self.label = label
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        cut = max(text.rfind(" "), text.rfind("\n"), text.rfind("\t"))
        if cut < 0:
            self._held = text
            return ""
        self._held = text[cut + 1 :]
        return shorten_urls(text[: cut + 1], self.max_length, self.label)

    def flush(self) -> str:
        text, self._held = self._held, ""
        return shorten_urls(text, self.max_length, self.label)

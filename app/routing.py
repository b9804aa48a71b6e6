"""Deep links: the only place that parses query arguments, into a typed ``DeepLink``.

``?page=nwb&url=<path or URL>&path=<object path>&view=<view id>&embedded=1`` opens that
page, file, object and view; the same string is written back as the user navigates, so
back/forward and copy-pasted addresses restore the view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping
from urllib.parse import parse_qs, urlencode

__all__ = ["DeepLink", "parse_deep_link", "to_query"]


@dataclass(frozen=True)
class DeepLink:
    page: str | None = None
    url: str | None = None
    path: str | None = None
    view: str | None = None
    embedded: bool = False


def _first(args: Mapping[str, list], key: str) -> str | None:
    values = args.get(key) or []
    if not values:
        return None
    value = values[0]
    text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)
    return text.strip() or None


def parse_deep_link(args: Mapping[str, list] | str) -> DeepLink:
    """From Panel's ``session_args`` (bytes lists) or a raw ``?a=b`` search string."""
    if isinstance(args, str):
        args = parse_qs(args.lstrip("?"), keep_blank_values=False)
    return DeepLink(
        page=_first(args, "page"),
        url=_first(args, "url"),
        path=_first(args, "path"),
        view=_first(args, "view"),
        embedded=(_first(args, "embedded") or "").lower() in ("1", "true", "yes"),
    )


def to_query(link: DeepLink) -> str:
    """The canonical search string for a link (empty values left out)."""
    pairs = [(k, v) for k, v in (("page", link.page), ("url", link.url), ("path", link.path),
                                  ("view", link.view)) if v]
    if link.embedded:
        pairs.append(("embedded", "1"))
    return "?" + urlencode(pairs, safe="/:@") if pairs else ""

"""Open any state text a user can paste: URL, fragment, JSON, or a JSON pointer fetched server-side.

Pointers (``#!s3://bucket/key``, ``#!gs://bucket/key``, ``#!https://host/state.json``) are
fetched through ``engines.io`` with anonymous access by default, so public buckets need no
credentials at all; the server's own credentials are used only when the operator turns
``use_cloud_credentials`` on. Every fetch has a time limit and a size cap, and every request
(each redirect hop, the S3 and GCS clients' too) connects only to an address the policy checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from engines.io.cloud_objects import fetch_object
from engines.io.errors import DomainErrors, raised_as
from engines.io.fetch import fetch_bytes
from engines.io.policy import SourcePolicy
from engines.ngstate.errors import PointerError, StateParseError
from engines.ngstate.state import NgState
from engines.ngstate.urls import parse_url, pointer_of

__all__ = ["PointerOptions", "load_state", "fetch_pointer"]

_ERRORS = DomainErrors(failed=PointerError)


@dataclass(frozen=True)
class PointerOptions:
    """How pointer states are fetched: a size cap, and whether the server's cloud credentials sign them."""

    max_bytes: int = 10 * 1024 * 1024
    use_cloud_credentials: bool = False
    """False (default): anonymous reads, which is all a public bucket needs. True: the AWS / Google
    credentials found in the server's environment sign the request (private buckets)."""


def load_state(text: str, policy: SourcePolicy, options: PointerOptions | None = None) -> NgState:
    """The state behind any pasted text; a pointer costs one fetch (time-limited, size-capped).

    Raises ``StateParseError`` for text that is no state, ``PointerError`` when a pointer cannot be
    fetched (refused, too large or failed: the message says which).
    """
    pointer = pointer_of(text)
    if pointer is None:
        return parse_url(text)
    body = fetch_pointer(pointer, policy, options or PointerOptions())
    try:
        return NgState.from_json(body)
    except StateParseError as exc:
        raise StateParseError(f"{pointer} does not hold a Neuroglancer state: {exc}") from exc


def fetch_pointer(url: str, policy: SourcePolicy, options: PointerOptions) -> bytes:
    """The bytes at a pointer URL (s3://, gs://, http(s)://), at most ``options.max_bytes``."""
    if urlparse(url).scheme.lower() in ("http", "https"):
        with raised_as(_ERRORS):
            return fetch_bytes(url, policy, options.max_bytes) or b""
    _check_bucket_and_key(url)
    with raised_as(_ERRORS):
        return fetch_object(url, policy, options.max_bytes, options.use_cloud_credentials)


def _check_bucket_and_key(url: str) -> None:
    """A bucket URL without a key is a mistyped state, told as such before any request."""
    parsed = urlparse(url)
    if not parsed.netloc or not parsed.path.lstrip("/"):
        raise StateParseError(
            f"'{url}' needs a bucket and an object key, like {parsed.scheme}://bucket/path/state.json."
        )

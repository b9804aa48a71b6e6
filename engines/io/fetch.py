"""One checked HTTP GET: every redirect hop's address checked, a time limit on the whole read, a size cap.

Every whole-document read of the server (JSON pointer states, precomputed volume chunks,
DANDI API answers) goes through ``fetch_bytes``, so they all follow the source policy the
same way: each connection goes to the address that policy checked (``engines.io.pinned``),
so a DNS answer that changes after the check cannot reach a private address.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urljoin

import requests
import urllib3

from engines.io.errors import (
    ResponseTooLarge,
    SourceError,
    SourceNotFound,
    SourceTimeout,
    SourceUnreachable,
)
from engines.io.pinned import pinned_session
from engines.io.policy import SourcePolicy, url_host_port

__all__ = ["fetch_bytes", "fetch_json"]

_READ_BLOCK = 256 * 1024
_sessions = threading.local()


def _session(policy: SourcePolicy) -> requests.Session:
    """One keep-alive session per thread and policy (requests sessions are not thread-safe)."""
    sessions: dict[tuple[bool, float], requests.Session] = _sessions.__dict__.setdefault("by_policy", {})
    key = (policy.allow_private_urls, policy.request_timeout_s)
    if key not in sessions:
        sessions[key] = pinned_session(policy)
    return sessions[key]


def fetch_bytes(
    url: str,
    policy: SourcePolicy,
    max_bytes: int,
    *,
    missing_ok: bool = False,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> bytes | None:
    """GET ``url`` whole; None for a 404 when ``missing_ok``.

    Costs one request per redirect hop, each hop's address checked before it connects; the
    whole read must finish within ``policy.request_timeout_s`` (a server that drips bytes is
    cut off: ``SourceTimeout``), and more than ``max_bytes`` raises ``ResponseTooLarge``
    without reading the rest. A private address raises ``SourceNotAllowed``, a 404
    ``SourceNotFound``, other failures ``SourceUnreachable``; each message says what to do.
    """
    deadline = time.monotonic() + policy.request_timeout_s
    current = url
    for _ in range(policy.max_redirects + 1):
        response = _get(current, policy, deadline, {**policy.extra_headers, **(headers or {})}, params)
        params = None  # a redirect's Location is the whole next address
        with response:
            if response.is_redirect and "Location" in response.headers:
                current = urljoin(current, response.headers["Location"])
                continue
            if response.status_code == 404 and missing_ok:
                return None
            if response.status_code != 200:
                raise _status_error(url, response.status_code)
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise ResponseTooLarge(
                    f"{url} is {int(declared):,} bytes, over the limit of {max_bytes:,} bytes."
                )
            return _read_capped(response, url, max_bytes, deadline)
    raise SourceUnreachable(f"{url} redirects more than {policy.max_redirects} times (a redirect loop?).")


def fetch_json(
    url: str,
    policy: SourcePolicy,
    max_bytes: int,
    *,
    params: Mapping[str, Any] | None = None,
    missing_ok: bool = False,
) -> Any:
    """``fetch_bytes`` parsed as JSON (one request per hop); None for a 404 when ``missing_ok``.

    ``SourceUnreachable`` when the answer is not JSON. A name that does not resolve is a
    ``SourceNotFound`` even with ``missing_ok``: only the server's own 404 is "missing".
    """
    body = fetch_bytes(
        url, policy, max_bytes, params=params, headers={"Accept": "application/json"}, missing_ok=missing_ok
    )
    if body is None:
        return None
    try:
        return json.loads(body)
    except ValueError as exc:
        raise SourceUnreachable(f"{url} did not answer with JSON. Check the address.") from exc


def _get(
    url: str,
    policy: SourcePolicy,
    deadline: float,
    headers: dict[str, str],
    params: Mapping[str, Any] | None,
) -> requests.Response:
    """One request for this hop, its address checked; the policy's refusals pass through as they are."""
    url_host_port(url)
    try:
        return _session(policy).get(
            url,
            params=params,
            headers=headers,
            timeout=policy.request_timeout_s,
            allow_redirects=False,
            stream=True,
        )
    except requests.RequestException as exc:
        if isinstance(exc, requests.Timeout) or time.monotonic() >= deadline:  # or cut off at the deadline
            raise SourceTimeout(
                f"{url} did not answer within {policy.request_timeout_s:g} s. Try again later."
            ) from exc
        raise SourceUnreachable(
            f"Cannot connect to {url} ({exc.__class__.__name__}). Check the address."
        ) from exc


def read_within(
    response: requests.Response,
    max_bytes: int,
    deadline: float,
    too_large: Callable[[], SourceError],
    too_slow: Callable[[], SourceError],
) -> bytes:
    """The body as it arrives (``read1``: never waits to fill a block), raising ``too_large()`` past
    ``max_bytes`` and ``too_slow()`` past ``deadline`` (a server that drips is cut off)."""
    body = bytearray()
    while block := response.raw.read1(_READ_BLOCK, decode_content=True):  # empty only at the end
        body += block
        if len(body) > max_bytes:
            raise too_large()
        if time.monotonic() > deadline:
            raise too_slow()
    return bytes(body)


def _read_capped(response: requests.Response, url: str, max_bytes: int, deadline: float) -> bytes:
    """``read_within`` with this module's messages; a connection that fails mid-body is typed too."""
    try:
        body = read_within(
            response,
            max_bytes,
            deadline,
            lambda: ResponseTooLarge(f"{url} is larger than the limit of {max_bytes:,} bytes."),
            lambda: _too_long(url),
        )
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        if isinstance(exc, SourceError):
            raise
        if time.monotonic() > deadline:  # the connection was cut off at its deadline (``engines.io.pinned``)
            raise _too_long(url) from exc
        raise SourceUnreachable(f"Reading {url} failed ({exc.__class__.__name__}). Try again later.") from exc
    if time.monotonic() > deadline:  # cut off mid-body: what came may look complete but is not
        raise _too_long(url)
    return body


def _too_long(url: str) -> SourceTimeout:
    return SourceTimeout(f"Reading {url} took too long (over the time limit). Try again later.")


def _status_error(url: str, status: int) -> SourceError:
    if status in (404, 410):
        return SourceNotFound(f"Nothing at {url} (HTTP {status}). Check the address.")
    if status in (401, 403):
        return SourceUnreachable(
            f"The server refused access to {url} (HTTP {status}): it is private or the link expired."
        )
    return SourceUnreachable(f"The server answered HTTP {status} for {url}. Try again later.")

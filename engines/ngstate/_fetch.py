"""One checked HTTP GET: every redirect hop's address checked, a time limit on the whole read, a size cap.

Used for JSON pointer states and for precomputed volumes served over HTTP, so both follow
the server's URL policy the same way: each connection goes to the address that policy
checked (``engines.nwb.safe_http``), so a DNS answer that changes after the check cannot
reach a private address.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urljoin

import requests
import urllib3

from engines.errors import NeurodeckError
from engines.nwb.errors import NwbOpenError, SourceNotAllowed
from engines.nwb.safe_http import pinned_session
from engines.nwb.sources import SourcePolicy, url_host_port

__all__ = ["FetchErrors", "fetch_bytes", "policy_errors"]

_READ_BLOCK = 256 * 1024
_sessions = threading.local()


def _session(policy: SourcePolicy) -> requests.Session:
    """One keep-alive session per thread and policy (requests sessions are not thread-safe)."""
    sessions = _sessions.__dict__.setdefault("by_policy", {})
    key = (policy.allow_private_urls, policy.request_timeout_s)
    if key not in sessions:
        sessions[key] = pinned_session(policy)
    return sessions[key]


@dataclass(frozen=True)
class FetchErrors:
    """Which error types a caller's domain raises for a failed read, an oversized one and a refused address."""

    failed: type[NeurodeckError]
    too_large: type[NeurodeckError]
    not_allowed: type[NeurodeckError]


@contextmanager
def policy_errors(errors: FetchErrors) -> Iterator[None]:
    """The policy's refusals in the caller's own error types."""
    try:
        yield
    except SourceNotAllowed as exc:
        raise errors.not_allowed(str(exc)) from exc
    except NwbOpenError as exc:
        raise errors.failed(str(exc)) from exc


def fetch_bytes(
    url: str,
    policy: SourcePolicy,
    max_bytes: int,
    errors: FetchErrors,
    *,
    missing_ok: bool = False,
) -> bytes | None:
    """GET ``url`` whole; None for a 404 when ``missing_ok``.

    Costs one request per redirect hop. The whole read must finish within
    ``policy.request_timeout_s`` (a server that drips bytes is cut off), and more than
    ``max_bytes`` raises ``errors.too_large`` without reading the rest; a private address
    ``errors.not_allowed``; other failures ``errors.failed``, each with a message that says what to do.
    """
    deadline = time.monotonic() + policy.request_timeout_s
    current = url
    for _ in range(policy.max_redirects + 1):
        try:
            with policy_errors(errors):
                url_host_port(current)
                response = _session(policy).get(
                    current,
                    headers=dict(policy.extra_headers),
                    timeout=policy.request_timeout_s,
                    allow_redirects=False,
                    stream=True,
                )
        except requests.RequestException as exc:
            if (
                isinstance(exc, requests.Timeout) or time.monotonic() >= deadline
            ):  # or cut off at the deadline
                raise errors.failed(
                    f"{current} did not answer within {policy.request_timeout_s:g} s. Try again later."
                ) from exc
            raise errors.failed(
                f"Cannot connect to {current} ({exc.__class__.__name__}). Check the address."
            ) from exc
        with response:
            if response.is_redirect and "Location" in response.headers:
                current = urljoin(current, response.headers["Location"])
                continue
            if response.status_code == 404 and missing_ok:
                return None
            if response.status_code != 200:
                raise errors.failed(_status_message(url, response.status_code))
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise errors.too_large(
                    f"{url} is {int(declared):,} bytes, over the limit of {max_bytes:,} bytes."
                )
            return _read_capped(response, url, max_bytes, deadline, errors)
    raise errors.failed(f"{url} redirects more than {policy.max_redirects} times (a redirect loop?).")


def _read_capped(
    response: requests.Response, url: str, max_bytes: int, deadline: float, errors: FetchErrors
) -> bytes:
    """Read what arrives (``read1``: never waits to fill a block) until the end, the cap or the deadline."""
    body = bytearray()
    try:
        while True:
            block = response.raw.read1(_READ_BLOCK, decode_content=True)
            if not block:  # read1 returns nothing only at the end of the body
                break
            body += block
            if len(body) > max_bytes:
                raise errors.too_large(f"{url} is larger than the limit of {max_bytes:,} bytes.")
            if time.monotonic() > deadline:
                raise _too_long(url, errors)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        if isinstance(exc, NeurodeckError):
            raise
        if (
            time.monotonic() > deadline
        ):  # the connection was cut off at its deadline (``engines.nwb.safe_http``)
            raise _too_long(url, errors) from exc
        raise errors.failed(f"Reading {url} failed ({exc.__class__.__name__}). Try again later.") from exc
    if time.monotonic() > deadline:  # cut off mid-body: what came may look complete but is not
        raise _too_long(url, errors)
    return bytes(body)


def _too_long(url: str, errors: FetchErrors) -> NeurodeckError:
    return errors.failed(f"Reading {url} took too long (over the time limit). Try again later.")


def _status_message(url: str, status: int) -> str:
    if status in (404, 410):
        return f"Nothing at {url} (HTTP {status}). Check the address."
    if status in (401, 403):
        return f"The server refused access to {url} (HTTP {status}): it is private or the link expired."
    return f"The server answered HTTP {status} for {url}. Try again later."

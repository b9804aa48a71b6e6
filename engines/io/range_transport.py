"""HTTP range requests with the server's safety rules: a one-request probe, counted and bounded reads.

The probe follows redirects itself, reads the file's size and version (ETag / Last-Modified)
and its first ``PROBE_SIZE`` bytes in one request. Every connection goes to an address the
policy checked, resolved once (``engines.io.pinned``: no DNS rebinding, each redirect hop
checked as it connects); every request reads at most the bytes it asked for and ends within
``policy.request_timeout_s`` as a whole, is counted in ``RequestStats``, and gives up for good
once the server stalls. Fetch threads and their keep-alive connections are shared by every open
file; range reads go through ``http.client`` on one keep-alive connection per thread and host
(a quarter of the CPU of a ``requests`` call, half of urllib3's: a walk makes hundreds of them,
and on a busy server their CPU is the first open's).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from remfile.RemFile import _PermanentHTTPError

from engines.io.errors import SourceError, SourceNotAllowed, SourceNotFound, SourceTimeout, SourceUnreachable
from engines.io.pinned import PinnedHTTPConnection, PinnedHTTPSConnection, pinned_session
from engines.io.policy import SourcePolicy, url_host_port

__all__ = [
    "PROBE_SIZE",
    "RequestStats",
    "HttpProbe",
    "RangeSession",
    "probe_http",
    "get_range",
    "fetch_range",
]

PROBE_SIZE = 100 * 1024
"""The probe's one request reads this much: superblock, root group and usually the first levels of the tree.
Every reopen pays it too (the probe is what validates the cached index), so it is not larger: 192 KB
would open a file whose headers spill past 100 KB in one round trip instead of two or three, but it made
the open benchmark's tree_speedup 14.1 instead of 16.6 and its first-open bytes 0.69x pynwb's instead of
0.54x."""

_T = TypeVar("_T")
_R = TypeVar("_R")

_FETCH_THREADS = 128
"""Concurrent range requests per process: a tree level of a few hundred scattered objects takes a
few waves of requests, not dozens, and a window across 96 channels chunked one channel per chunk
(Neurosift issue #52) is one wave, not two. Threads start only when needed. Archives (S3, DANDI)
serve many connections per client."""


@dataclass
class RequestStats:
    """Requests and bytes one open file has cost; shared by the probe and every read."""

    requests: int = 0
    bytes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, nbytes: int) -> None:
        with self._lock:
            self.requests += 1
            self.bytes += nbytes


@dataclass(frozen=True)
class HttpProbe:
    """What one range request tells about a remote file."""

    url: str
    final_url: str
    size: int
    etag: str | None
    last_modified: str | None
    first_chunk: bytes

    @property
    def version_key(self) -> str:
        """Identity of this exact file version: URL + size + ETag/Last-Modified."""
        text = f"{self.url}|{self.size}|{self.etag or ''}|{self.last_modified or ''}"
        return hashlib.sha256(text.encode()).hexdigest()


def _http_error(url: str, status: int, reason: str) -> SourceError:
    if status == 404 or status == 410:
        return SourceNotFound(f"No file at {url} (HTTP {status}). Check the address.")
    if status in (401, 403):
        return SourceNotAllowed(
            f"The server refused access to {url} (HTTP {status}). "
            "The file may be private or the link expired."
        )
    return SourceUnreachable(f"The server answered HTTP {status} {reason} for {url}. Try again later.")


_CONTENT_RANGE = re.compile(r"bytes\s+\d+-\d+/(\d+)")


def probe_http(url: str, policy: SourcePolicy, stats: RequestStats, length: int = PROBE_SIZE) -> HttpProbe:
    """Fetch the first ``length`` bytes with one range request, following and checking redirects.

    Costs one request per redirect hop (usually one in all); each hop connects only to an
    address the policy checked, and must be read whole within ``policy.request_timeout_s``.
    Raises a typed ``SourceError`` for 404/403, timeouts, redirect loops, servers that
    ignore Range, and refused addresses.
    """
    current = url
    with pinned_session(policy) as session:
        for _ in range(policy.max_redirects + 1):
            url_host_port(current)
            headers = {**policy.extra_headers, "Range": f"bytes=0-{length - 1}"}
            deadline = time.monotonic() + policy.request_timeout_s
            try:
                response = session.get(
                    current,
                    headers=headers,
                    timeout=policy.request_timeout_s,
                    allow_redirects=False,
                    stream=True,
                )
                with response:
                    if response.is_redirect:
                        stats.add(0)
                        current = urljoin(current, response.headers["Location"])
                        continue
                    if response.status_code != 206:
                        stats.add(0)
                        raise _not_partial(url, response.status_code, response.reason)
                    body = response.raw.read(length + 1, decode_content=True)
            except (requests.Timeout, urllib3.exceptions.TimeoutError) as exc:
                raise SourceTimeout(
                    f"The server at {current} did not answer within {policy.request_timeout_s:g} s. "
                    "Try again later."
                ) from exc
            except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                if time.monotonic() >= deadline:
                    raise _too_slow(current, policy) from exc
                raise SourceUnreachable(
                    f"Cannot connect to {current}: {exc.__class__.__name__}. Check the URL."
                ) from exc
            if time.monotonic() >= deadline:  # cut off by the deadline: what came may be short
                raise _too_slow(current, policy)
            stats.add(len(body))
            return _probe_of(url, current, response.headers, body, length)
    raise SourceUnreachable(f"{url} redirects more than {policy.max_redirects} times (a redirect loop?).")


def _not_partial(url: str, status: int, reason: str) -> SourceError:
    """Why an answer to the probe's range request that is not ``206 Partial Content`` cannot be streamed."""
    if status == 416:
        return SourceNotFound(f"The file at {url} is empty.")
    if status == 200:
        return SourceUnreachable(
            f"The server at {url} does not support range requests, so the file cannot be "
            "streamed. Download it and open the local copy."
        )
    return _http_error(url, status, reason)


def _probe_of(url: str, final_url: str, headers: Mapping[str, str], body: bytes, length: int) -> HttpProbe:
    """The probe from a whole ``206`` answer, once its Content-Range and length are sound."""
    match = _CONTENT_RANGE.match(headers.get("Content-Range", ""))
    if not match:
        raise SourceUnreachable(f"The server at {url} sent no usable Content-Range header.")
    if len(body) > length:
        raise SourceUnreachable(
            f"The server at {url} sent more bytes than asked for; it does not honour "
            "range requests. Download the file and open the local copy."
        )
    return HttpProbe(
        url=url,
        final_url=final_url,
        size=int(match.group(1)),
        etag=headers.get("ETag"),
        last_modified=headers.get("Last-Modified"),
        first_chunk=bytes(body),
    )


def _too_slow(url: str, policy: SourcePolicy) -> SourceTimeout:
    return SourceTimeout(
        f"The server at {url} did not answer within {policy.request_timeout_s:g} s (it sends too "
        "slowly or stalled mid-answer). Try again later."
    )


class RangeSession:
    """remfile's ``session``: its range requests go through ``get_range`` (checked address, byte and
    time bounds,
    counted), and a failure ends the read at once instead of remfile's retries for about 25 s."""

    def __init__(self, policy: SourcePolicy, stats: RequestStats) -> None:
        self._policy = policy
        self._stats = stats

    def get(self, url: str, headers: dict[str, str], **_: object) -> _RangeReply:
        match = _RANGE_HEADER.fullmatch(headers.get("Range", ""))
        if match is None:
            raise _PermanentHTTPError(f"remfile asked for '{headers.get('Range')}', not one byte range.")
        try:
            data = get_range(url, self._policy, self._stats, int(match[1]), int(match[2]) + 1)
        except SourceError as exc:
            raise _PermanentHTTPError(str(exc)) from exc
        return _RangeReply(data)

    def close(self) -> None:
        """Nothing to close: connections belong to the shared fetch threads."""


_RANGE_HEADER = re.compile(r"bytes=(\d+)-(\d+)")


@dataclass(frozen=True)
class _RangeReply:
    content: bytes
    status_code: int = 206
    reason: str = "Partial Content"


_fetch_pool: tuple[int, ThreadPoolExecutor] | None = None
_fetch_pool_lock = threading.Lock()
_connections = threading.local()
"""Per thread: the process id and its keep-alive connections by (scheme, host, port)."""


def _pool() -> ThreadPoolExecutor:
    """The process-wide fetch threads; a forked child (a job worker) gets its own: the parent's do not exist
    there."""
    global _fetch_pool
    with _fetch_pool_lock:
        if _fetch_pool is None or _fetch_pool[0] != os.getpid():
            _fetch_pool = (
                os.getpid(),
                ThreadPoolExecutor(max_workers=_FETCH_THREADS, thread_name_prefix="range-fetch"),
            )
        return _fetch_pool[1]


def pool_map(function: Callable[[_T], _R], items: list[_T]) -> list[_R]:
    """Run ``function`` over ``items`` on the process-wide fetch threads.

    The threads and their keep-alive connections are shared by every open file, so opening
    another file from the same archive pays no new TCP/TLS handshakes.
    """
    return list(_pool().map(function, items))


def pool_submit(function: Callable[[_T], _R], item: _T) -> Future[_R]:
    """Run ``function(item)`` on the process-wide fetch threads; returns its future."""
    return _pool().submit(function, item)


_Key = tuple[str, str, int | None, bool]


def _connection(key: _Key, policy: SourcePolicy) -> tuple[PinnedHTTPConnection, bool]:
    """This thread's keep-alive connection for (scheme, host, port, private URLs allowed), and whether
    it is new.

    Keyed by the policy's private-URL switch too: a connection a permissive policy opened to a private address
    is never lent to a strict one. A forked child (a job worker) opens its own: inherited sockets are the
    parent's.
    """
    if getattr(_connections, "pid", None) != os.getpid():
        _connections.pid, _connections.by_host = os.getpid(), {}
    connection = _connections.by_host.get(key)
    timeout = policy.request_timeout_s
    if connection is not None:
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        return connection, False
    kind = PinnedHTTPSConnection if key[0] == "https" else PinnedHTTPConnection
    connection = kind(key[1], key[2], policy=policy, timeout=timeout)
    _connections.by_host[key] = connection
    return connection, True


def _drop_connection(key: _Key) -> None:
    connection = _connections.by_host.pop(key, None)
    if connection is not None:
        connection.disarm_deadline()
        connection.close()


class _TooMuch(Exception):
    """The server sent (or announced) more bytes than the range asked for."""


def _read_exactly(response: http.client.HTTPResponse, want: int) -> bytes:
    """At most ``want`` bytes of the body (one more to notice an over-sending server); ``_TooMuch`` if it
    sends more."""
    declared = response.getheader("Content-Length")
    if declared is not None and declared.strip().isdigit() and int(declared) > want:
        raise _TooMuch
    data = response.read(want)
    if len(data) == want and not response.isclosed() and response.read(1):
        raise _TooMuch
    return data


def get_range(url: str, policy: SourcePolicy, stats: RequestStats, start: int, stop: int) -> bytes:
    """Bytes [start, stop) in one counted request; any failure is a typed ``SourceError``.

    The connection goes to an address the policy checked; no more than the bytes asked for
    are read (a server that sends more is cut off), and the whole request, retry included,
    ends within ``policy.request_timeout_s``. A kept-alive connection the server closed while
    idle is retried once on a new connection.
    """
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    url_host_port(url)
    key: _Key = (parts.scheme, parts.hostname or "", parts.port, policy.allow_private_urls)
    headers = {**policy.extra_headers, "Range": f"bytes={start}-{stop - 1}"}
    want = stop - start
    deadline = time.monotonic() + policy.request_timeout_s
    what = f"Reading bytes {start}-{stop - 1} of {url}"
    while True:
        connection, fresh = _connection(key, policy)
        connection.arm_deadline(deadline)
        try:
            connection.request("GET", target, headers=headers)
            response = connection.getresponse()
            # not the bytes asked for: no body read (it may be the whole file), no connection kept
            data = _read_exactly(response, want) if response.status == 206 else None
        except SourceError:
            _drop_connection(key)
            stats.add(0)
            raise
        except _TooMuch:
            _drop_connection(key)
            stats.add(0)
            raise SourceUnreachable(
                f"{what} failed: the server sent more than the {want} bytes asked for (it does "
                "not honour range requests)."
            ) from None
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
            _drop_connection(key)
            if not fresh and time.monotonic() < deadline:
                continue
            stats.add(0)
            raise _read_failed(what, exc, deadline, policy) from exc
        except (OSError, http.client.HTTPException) as exc:
            _drop_connection(key)
            stats.add(0)
            raise _read_failed(what, exc, deadline, policy) from exc
        if data is None:
            _drop_connection(key)
            stats.add(0)
            raise SourceUnreachable(f"{what} failed (HTTP {response.status}).")
        connection.disarm_deadline()
        stats.add(len(data))
        if time.monotonic() >= deadline:  # cut off at the deadline: the answer may look whole but is not
            _drop_connection(key)
            raise _read_failed(what, TimeoutError(), deadline, policy)
        if len(data) != want:
            _drop_connection(key)
            raise SourceUnreachable(f"{what} failed: the server sent {len(data)} of {want} bytes.")
        return data


def _read_failed(what: str, exc: BaseException, deadline: float, policy: SourcePolicy) -> SourceUnreachable:
    if isinstance(exc, TimeoutError) or time.monotonic() >= deadline:
        return SourceTimeout(
            f"{what} timed out: no complete answer within {policy.request_timeout_s:g} s "
            "(the server is too slow or stalled). Try again later."
        )
    return SourceUnreachable(f"{what} failed: {exc.__class__.__name__}.")


def fetch_range(probe: HttpProbe, policy: SourcePolicy, stats: RequestStats, start: int, stop: int) -> bytes:
    """Bytes [start, stop) of a probed file in one request: e.g. the rest of a LINDI JSON after the probe."""
    return get_range(probe.final_url, policy, stats, start, stop)

"""HTTP range requests with the server's safety rules: a one-request probe, counted and time-limited reads.

The probe follows redirects itself (each hop's address is checked), reads the file's size and
version (ETag / Last-Modified) and its first ``PROBE_SIZE`` bytes in one request. Every later
request times out, is counted in ``RequestStats``, and gives up for good once the server stalls.
Fetch threads and their keep-alive connections are shared by every open file; range reads go
through ``http.client`` on one keep-alive connection per thread and host (a quarter of the CPU of
a ``requests`` call, half of urllib3's: a walk makes hundreds of them, and on a busy server
their CPU is the first open's).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

import requests
from remfile.RemFile import _PermanentHTTPError

from engines.nwb.errors import SourceNotAllowed, SourceNotFound, SourceUnreachable
from engines.nwb.sources import SourcePolicy, check_url_allowed

__all__ = ["PROBE_SIZE", "RequestStats", "HttpProbe", "probe_http", "fetch_range"]

PROBE_SIZE = 100 * 1024
"""The probe's one request reads this much: superblock, root group and usually the first level of the tree."""

_FETCH_THREADS = 64
"""Concurrent range requests per process: a tree level of a few hundred scattered objects takes a
few waves of requests, not dozens. Archives (S3, DANDI) serve many connections per client."""


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


def _http_error(url: str, status: int, reason: str) -> Exception:
    if status == 404 or status == 410:
        return SourceNotFound(f"No file at {url} (HTTP {status}). Check the address.")
    if status in (401, 403):
        return SourceNotAllowed(
            f"The server refused access to {url} (HTTP {status}). The file may be private or the link expired."
        )
    return SourceUnreachable(f"The server answered HTTP {status} {reason} for {url}. Try again later.")


_CONTENT_RANGE = re.compile(r"bytes\s+\d+-\d+/(\d+)")


def probe_http(url: str, policy: SourcePolicy, stats: RequestStats, length: int = PROBE_SIZE) -> HttpProbe:
    """Fetch the first ``length`` bytes with one range request, following and checking redirects.

    Costs one request per redirect hop (usually one in all). Raises a typed ``NwbOpenError``
    for 404/403, timeouts, redirect loops, servers that ignore Range, and refused addresses.
    """
    current = url
    with requests.Session() as session:
        for _ in range(policy.max_redirects + 1):
            check_url_allowed(current, policy)
            headers = {**policy.extra_headers, "Range": f"bytes=0-{length - 1}"}
            try:
                response = session.get(current, headers=headers, timeout=policy.request_timeout_s,
                                       allow_redirects=False, stream=True)
                with response:
                    if response.is_redirect:
                        stats.add(0)
                        current = urljoin(current, response.headers["Location"])
                        continue
                    if response.status_code == 416:
                        stats.add(0)
                        raise SourceNotFound(f"The file at {url} is empty.")
                    if response.status_code not in (200, 206):
                        stats.add(0)
                        raise _http_error(url, response.status_code, response.reason)
                    if response.status_code == 200:
                        stats.add(0)
                        raise SourceUnreachable(
                            f"The server at {url} does not support range requests, so the file cannot be "
                            "streamed. Download it and open the local copy."
                        )
                    body = response.raw.read(length + 1, decode_content=True)
            except requests.Timeout as exc:
                raise SourceUnreachable(
                    f"The server at {current} did not answer within {policy.request_timeout_s:g} s. Try again later."
                ) from exc
            except requests.ConnectionError as exc:
                raise SourceUnreachable(f"Cannot connect to {current}: {exc.__class__.__name__}. Check the URL.") from exc
            stats.add(len(body))
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if not match:
                raise SourceUnreachable(f"The server at {url} sent no usable Content-Range header.")
            return HttpProbe(
                url=url,
                final_url=current,
                size=int(match.group(1)),
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
                first_chunk=bytes(body[:length]),
            )
    raise SourceUnreachable(f"{url} redirects more than {policy.max_redirects} times (a redirect loop?).")


class CountingSession(requests.Session):
    """A session whose requests time out, are counted, and give up for good once the server stalls."""

    def __init__(self, policy: SourcePolicy, stats: RequestStats) -> None:
        super().__init__()
        self._policy = policy
        self._stats = stats
        self.headers.update(policy.extra_headers)

    def request(self, method, url, **kwargs):  # type: ignore[override]
        kwargs.setdefault("timeout", self._policy.request_timeout_s)
        kwargs["allow_redirects"] = False
        try:
            response = super().request(method, url, **kwargs)
        except requests.RequestException as exc:
            # remfile retries for about 25 s; a dead or stalled server should fail this read now.
            raise _PermanentHTTPError(f"The server stopped answering ({exc.__class__.__name__}).") from exc
        self._stats.add(len(response.content))
        return response


_fetch_pool: tuple[int, ThreadPoolExecutor] | None = None
_fetch_pool_lock = threading.Lock()
_connections = threading.local()
"""Per thread: the process id and its keep-alive connections by (scheme, host, port)."""


def _pool() -> ThreadPoolExecutor:
    """The process-wide fetch threads; a forked child (a job worker) gets its own: the parent's do not exist there."""
    global _fetch_pool
    with _fetch_pool_lock:
        if _fetch_pool is None or _fetch_pool[0] != os.getpid():
            _fetch_pool = (os.getpid(), ThreadPoolExecutor(max_workers=_FETCH_THREADS, thread_name_prefix="range-fetch"))
        return _fetch_pool[1]


def pool_map(function: Callable, items: list) -> list:
    """Run ``function`` over ``items`` on the process-wide fetch threads.

    The threads and their keep-alive connections are shared by every open file, so opening
    another file from the same archive pays no new TCP/TLS handshakes.
    """
    return list(_pool().map(function, items))


def pool_submit(function: Callable, item: object) -> Future:
    """Run ``function(item)`` on the process-wide fetch threads; returns its future."""
    return _pool().submit(function, item)


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every connection (building one loads the CA store: milliseconds)."""
    return ssl.create_default_context()


def _connection(scheme: str, host: str, port: int | None, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
    """This thread's keep-alive connection to the host, and whether it is new. A forked child
    (a job worker) opens its own: sockets inherited from the parent are the parent's."""
    if getattr(_connections, "pid", None) != os.getpid():
        _connections.pid, _connections.by_host = os.getpid(), {}
    key = (scheme, host, port)
    connection = _connections.by_host.get(key)
    if connection is not None:
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        return connection, False
    if scheme == "https":
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=_tls_context())
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    _connections.by_host[key] = connection
    return connection, True


def _drop_connection(scheme: str, host: str, port: int | None) -> None:
    connection = _connections.by_host.pop((scheme, host, port), None)
    if connection is not None:
        connection.close()


def get_range(url: str, policy: SourcePolicy, stats: RequestStats, start: int, stop: int) -> bytes:
    """Bytes [start, stop) in one counted, time-limited request; any failure is ``SourceUnreachable``.

    A kept-alive connection the server closed while idle is retried once on a new connection.
    """
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    where = (parts.scheme, parts.hostname or "", parts.port)
    headers = {**policy.extra_headers, "Range": f"bytes={start}-{stop - 1}"}
    while True:
        connection, fresh = _connection(*where, policy.request_timeout_s)
        try:
            connection.request("GET", target, headers=headers)
            response = connection.getresponse()
            # not the bytes asked for: no body read (it may be the whole file), no connection kept
            data = response.read() if response.status == 206 else None
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
            _drop_connection(*where)
            if not fresh:
                continue
            stats.add(0)
            raise SourceUnreachable(f"Reading bytes {start}-{stop - 1} of {url} failed: {exc.__class__.__name__}.") from exc
        except (OSError, http.client.HTTPException) as exc:
            _drop_connection(*where)
            stats.add(0)
            name = "timed out" if isinstance(exc, TimeoutError) else exc.__class__.__name__
            raise SourceUnreachable(f"Reading bytes {start}-{stop - 1} of {url} failed: {name}.") from exc
        if data is None:
            _drop_connection(*where)
            stats.add(0)
            raise SourceUnreachable(f"Reading bytes {start}-{stop - 1} of {url} failed (HTTP {response.status}).")
        stats.add(len(data))
        if len(data) != stop - start:
            raise SourceUnreachable(f"Reading bytes {start}-{stop - 1} of {url} failed (HTTP {response.status}).")
        return data


def fetch_range(probe: HttpProbe, policy: SourcePolicy, stats: RequestStats, start: int, stop: int) -> bytes:
    """Bytes [start, stop) of a probed file in one request: e.g. the rest of a LINDI JSON after the probe."""
    return get_range(probe.final_url, policy, stats, start, stop)

"""Range-request access to remote files: a one-request probe and a remfile with prefetch.

remfile already reads HDF5 over HTTP in growing chunks with an optional disk cache. Three
things are added here: every request has a timeout, and a stalled server fails the read
at once instead of being retried for minutes; requests and bytes are counted, so views
and benchmarks can report what they cost; and ``prefetch`` fetches many scattered chunks
concurrently, which is what lets the index walk load a whole level of object headers in
one round trip instead of one per object.
"""

from __future__ import annotations

import hashlib
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable
from urllib.parse import urljoin

import remfile
from remfile.RemFile import RemFile as _RemFile, _PermanentHTTPError
import requests


from engines.nwb.errors import SourceNotAllowed, SourceNotFound, SourceUnreachable
from engines.nwb.sources import SourcePolicy, check_url_allowed

__all__ = ["RequestStats", "HttpProbe", "probe_http", "RangeFile", "CHUNK_SIZE"]

CHUNK_SIZE = 100 * 1024
"""remfile's minimum chunk; the probe's first read and the prefetch use the same grid."""

_PREFETCH_THREADS = 16


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


def probe_http(url: str, policy: SourcePolicy, stats: RequestStats, length: int = CHUNK_SIZE) -> HttpProbe:
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


class _CountingSession(requests.Session):
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


class RangeFile(_RemFile):
    """remfile over a probed URL: counted, time-limited, disk-cached per file version, prefetchable."""

    def __init__(self, probe: HttpProbe, policy: SourcePolicy, stats: RequestStats) -> None:
        cache_dir = policy.cache_dir / "http" / probe.version_key[:32]
        cache_dir.mkdir(parents=True, exist_ok=True)
        super().__init__(probe.final_url, _size=probe.size, disk_cache=remfile.DiskCache(str(cache_dir)),
                         _min_chunk_size=CHUNK_SIZE)
        self.session = _CountingSession(policy, stats)
        self._policy = policy
        self._stats = stats
        self._local = threading.local()
        self._chunks[0] = probe.first_chunk
        self._chunk_indices.append(0)

    def _thread_session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = _CountingSession(self._policy, self._stats)
        return session

    def cached(self, offset: int) -> bool:
        return offset // CHUNK_SIZE in self._chunks

    def prefetch(self, offsets: Iterable[int], span: int = 1) -> int:
        """Load the chunks holding each offset (and ``span - 1`` after it) concurrently.

        Adjacent chunks are merged into one request. Returns the number of requests made.
        """
        wanted = sorted({o // CHUNK_SIZE + k for o in offsets if 0 <= o < self.length for k in range(span)})
        wanted = [c for c in wanted if c * CHUNK_SIZE < self.length and c not in self._chunks]
        if self._disk_cache:
            for chunk in list(wanted):
                value = self._disk_cache.get(self._cache_key(chunk))
                if value:
                    self._chunks[chunk] = value
                    wanted.remove(chunk)
        runs: list[tuple[int, int]] = []
        for chunk in wanted:
            if runs and runs[-1][1] == chunk - 1:
                runs[-1] = (runs[-1][0], chunk)
            else:
                runs.append((chunk, chunk))
        if not runs:
            return 0
        with ThreadPoolExecutor(max_workers=min(_PREFETCH_THREADS, len(runs))) as pool:
            for (first, last), data in zip(runs, pool.map(self._fetch_run, runs)):
                for i, chunk in enumerate(range(first, last + 1)):
                    piece = data[i * CHUNK_SIZE:(i + 1) * CHUNK_SIZE]
                    self._chunks[chunk] = piece
                    self._chunk_indices.append(chunk)
                    if self._disk_cache:
                        self._disk_cache.set(self._cache_key(chunk), piece)
        return len(runs)

    def _cache_key(self, chunk: int) -> str:
        return f"{self._url}|{CHUNK_SIZE}|{chunk}"

    def _fetch_run(self, run: tuple[int, int]) -> bytes:
        start = run[0] * CHUNK_SIZE
        end = min((run[1] + 1) * CHUNK_SIZE, self.length) - 1
        response = self._thread_session().get(self._url, headers={"Range": f"bytes={start}-{end}"})
        if response.status_code != 206 or len(response.content) != end - start + 1:
            raise SourceUnreachable(f"Reading bytes {start}-{end} failed (HTTP {response.status_code}).")
        return response.content

    def close(self) -> None:
        self.session.close()

"""Where an EDF/BDF file's bytes come from: a local file, or ranged HTTP(S) requests.

s3://, gs:// and dandi:// sources become HTTPS URLs first (``engines.io.remote_sources``), so
address checks, timeouts, request counting and the shared fetch threads are those of the NWB
engine. Reads are lists of byte ranges: remote ranges go out as concurrent requests (nearby
ranges share one, long ones are split), so a window costs about one round trip.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from engines.io.policy import SourcePolicy, parse_source, resolve_local_path
from engines.io.range_transport import HttpProbe, RequestStats, get_range, pool_map, probe_http
from engines.io.remote_sources import dandi_to_https, gs_to_https, s3_to_https

__all__ = ["ByteSource", "LocalBytes", "HttpBytes", "open_bytes"]

PROBE_BYTES = 64 * 1024
"""The first request reads this much: the header of a file with up to 255 signals."""
_GAP_BYTES = 64 * 1024
"""Remote ranges at most this far apart share a request."""
_PART_BYTES = 8 << 20
"""Longer remote ranges are split into parts fetched concurrently."""


class ByteSource(Protocol):
    """Random access to a file's bytes, with what it has cost so far."""

    label: str
    size: int
    version_key: str
    stats: RequestStats

    def read_spans(self, spans: list[tuple[int, int]]) -> list[bytes]:
        """Bytes [start, stop) of each span, in order (a span past the end comes back short)."""
        ...

    def close(self) -> None: ...


class LocalBytes:
    """A local file read with ``os.pread`` (thread-safe: no shared file position)."""

    def __init__(self, path: Path) -> None:
        self.label = path.name
        self._fd = os.open(path, os.O_RDONLY)
        stat = os.fstat(self._fd)
        self.size = stat.st_size
        self.version_key = f"local|{path}|{stat.st_size}|{stat.st_mtime_ns}"
        self.stats = RequestStats()

    def read_spans(self, spans: list[tuple[int, int]]) -> list[bytes]:
        out = []
        for start, stop in spans:
            data = os.pread(self._fd, max(stop - start, 0), start)
            self.stats.add(len(data))
            out.append(data)
        return out

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class HttpBytes:
    """A remote file read by range: the probe's first bytes are kept (the header), the rest is fetched."""

    def __init__(self, probe: HttpProbe, policy: SourcePolicy, stats: RequestStats, label: str) -> None:
        self.label = label
        self.size = probe.size
        self.version_key = probe.version_key
        self.stats = stats
        self._probe = probe
        self._policy = policy

    def read_spans(self, spans: list[tuple[int, int]]) -> list[bytes]:
        head = self._probe.first_chunk
        wanted = sorted(
            {
                (max(a, 0), min(b, self.size))
                for a, b in spans
                if min(b, self.size) > max(a, 0) and not min(b, self.size) <= len(head)
            }
        )
        merged: list[list[int]] = []
        for start, stop in wanted:
            if merged and start - merged[-1][1] <= _GAP_BYTES:
                merged[-1][1] = max(merged[-1][1], stop)
            else:
                merged.append([start, stop])
        parts = [
            (a, min(a + _PART_BYTES, stop)) for start, stop in merged for a in range(start, stop, _PART_BYTES)
        ]
        fetched = iter(pool_map(self._fetch, parts))
        runs = [
            (start, b"".join(next(fetched) for _ in range(start, stop, _PART_BYTES)))
            for start, stop in merged
        ]
        out = []
        for start, stop in spans:
            start, stop = max(start, 0), min(stop, self.size)
            if stop <= start:
                out.append(b"")
            elif stop <= len(head):
                out.append(head[start:stop])
            else:
                base, data = next((s, d) for s, d in runs if s <= start and stop <= s + len(d))
                out.append(data[start - base : stop - base])
        return out

    def _fetch(self, span: tuple[int, int]) -> bytes:
        return get_range(self._probe.final_url, self._policy, self.stats, *span)

    def close(self) -> None:
        """Nothing to release: requests use the process-wide connection pools."""


def open_bytes(text: str, policy: SourcePolicy) -> ByteSource:
    """A local path (under the allowed roots) or an http(s)/s3/gs/dandi URL as a ``ByteSource``.

    Remote: one probe request (checked address, size, version, the first 64 KB). Raises the
    NWB engine's typed source errors (``SourceNotAllowed``, ``SourceNotFound``, ``SourceUnreachable``).
    """
    source = parse_source(text)
    if source.kind == "local":
        return LocalBytes(resolve_local_path(source.location, policy))
    https = {"http": lambda u, p: u, "s3": s3_to_https, "gs": gs_to_https, "dandi": dandi_to_https}[
        source.kind
    ]
    stats = RequestStats()
    probe = probe_http(https(source.location, policy), policy, stats, length=PROBE_BYTES)
    label = Path(source.location.split("?")[0].rstrip("/")).name or source.location
    return HttpBytes(probe, policy, stats, label)

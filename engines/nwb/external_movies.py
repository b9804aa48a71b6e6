"""The movie files an NWB file names (ImageSeries ``external_file``), found beside it and read by byte range.

A name is resolved against the NWB file's own place: a local file's folder (the result must lie
under the policy's roots, ``..`` and symlinks resolved first), or a remote file's URL (the sibling
URL, read by range requests through ``engines.io`` with the same policy). Nothing here reads a
name that the caller did not take from the NWB file; serving to a browser is the app's business.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote, urljoin, urlparse

from engines.io.errors import SourceError, SourceNotAllowed
from engines.io.policy import Source, SourcePolicy, parse_source, resolve_local_path
from engines.io.range_transport import RequestStats, get_range, probe_http
from engines.io.remote_sources import gs_to_https, s3_to_https

__all__ = ["MOVIE_TYPES", "MovieFile", "open_movie", "movie_type"]

MOVIE_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".ogv": "video/ogg",
    ".avi": "video/x-msvideo",
}
"""Content types by suffix; anything else is sent as bytes (the browser decides whether it plays)."""

_SIZES: OrderedDict[str, tuple[str, int]] = OrderedDict()
_SIZES_LOCK = threading.Lock()
_SIZES_KEPT = 256
"""Remote movies' (final URL, size), so a seek costs one range request, not a probe too."""


def movie_type(name: str) -> str:
    return MOVIE_TYPES.get(PurePosixPath(name.split("?")[0]).suffix.lower(), "application/octet-stream")


@dataclass(frozen=True)
class MovieFile:
    """One movie file's place and size; ``read`` costs one file read or one range request."""

    name: str
    size: int
    path: Path | None = None
    url: str | None = None
    policy: SourcePolicy | None = None

    def read(self, start: int, stop: int) -> bytes:
        """Bytes [start, stop) (clipped to the file)."""
        stop = min(stop, self.size)
        if stop <= start:
            return b""
        if self.path is not None:
            with open(self.path, "rb") as handle:
                handle.seek(start)
                return handle.read(stop - start)
        assert self.url is not None and self.policy is not None
        return get_range(self.url, self.policy, RequestStats(), start, stop)


def open_movie(nwb_location: str, name: str, policy: SourcePolicy) -> MovieFile:
    """The movie ``name`` (as the NWB file at ``nwb_location`` names it), checked by the policy.

    Raises ``SourceNotAllowed`` for a place outside the roots or a name that leaves a remote
    file's folder for another site, ``SourceNotFound`` when nothing is there.
    """
    source = parse_source(nwb_location)
    if not name.strip():
        raise SourceNotAllowed("The movie file's name is empty.")
    if source.kind == "local":
        return _local_movie(source, name, policy)
    return _remote_movie(source, name, policy)


def _local_movie(source: Source, name: str, policy: SourcePolicy) -> MovieFile:
    if len(urlparse(name).scheme) > 1:  # a one-letter "scheme" is a Windows drive
        raise SourceNotAllowed(f"'{name}' is a URL; a local NWB file's movies must be files beside it.")
    nwb_path = resolve_local_path(source.location, policy)
    candidate = Path(name)
    if not candidate.is_absolute():
        candidate = Path(source.location).expanduser().absolute().parent / candidate
    path = resolve_local_path(str(candidate), policy, shown=name)
    if path == nwb_path:
        raise SourceNotAllowed(f"'{name}' is the NWB file itself, not a movie.")
    return MovieFile(name=name, size=path.stat().st_size, path=path)


def _remote_movie(source: Source, name: str, policy: SourcePolicy) -> MovieFile:
    if source.kind == "dandi":
        raise SourceError(
            f"'{name}' is a movie beside a DANDI asset; DANDI stores assets by id, so its place is not "
            "known. Open the movie's own URL."
        )
    if urlparse(name).scheme or name.startswith(("/", "\\")):
        raise SourceNotAllowed(
            f"'{name}' is not a name relative to the NWB file; only movies beside a remote file are read."
        )
    https = {"http": lambda u, p: u, "s3": s3_to_https, "gs": gs_to_https}[source.kind]
    base = https(source.location, policy)
    url = urljoin(base.split("?")[0], quote(name.replace("\\", "/")))
    final_url, size = _probed(url, policy)
    return MovieFile(name=name, size=size, url=final_url, policy=policy)


def _probed(url: str, policy: SourcePolicy) -> tuple[str, int]:
    """(URL after redirects, size) of a remote movie: one probe, then kept."""
    with _SIZES_LOCK:
        if url in _SIZES:
            _SIZES.move_to_end(url)
            return _SIZES[url]
    probe = probe_http(url, policy, RequestStats(), length=1)
    with _SIZES_LOCK:
        _SIZES[url] = (probe.final_url, probe.size)
        while len(_SIZES) > _SIZES_KEPT:
            _SIZES.popitem(last=False)
    return probe.final_url, probe.size

"""LINDI indexes (``.lindi.json`` / ``.lindi.tar``): a file's whole structure in one document.

The index names where each data chunk lives (a URL, a path, ``./`` relative to the index)
and, for big datasets, whole HDF5 files (``_EXTERNAL_ARRAY_LINK``). lindi would read all of
them itself, unchecked; here no byte is read by lindi: the zarr store (``_CheckedStore``)
and the external-file hook read through the server's own readers, and every location goes
through the same rules as a path or URL the user typed: local files only under the
allowed roots (after resolving symlinks and ``..``), URLs only to addresses the policy
allows, connected to the address checked. An index from the web may name no local file.
Locations are checked when the index opens (a clear error at once) and again at each read.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

import h5py

from engines.io.errors import SourceError, SourceNotAllowed, SourceNotFound
from engines.io.policy import SourcePolicy, check_url_allowed, resolve_local_path
from engines.io.range_transport import HttpProbe, RequestStats, fetch_range, get_range, probe_http
from engines.nwb.errors import NwbOpenError

__all__ = [
    "open_lindi_json",
    "open_lindi_file",
    "refuse_remote_lindi_tar",
    "check_reference_locations",
    "LindiSite",
]

_TEMPLATE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_MAX_CHUNK_BYTES = 256 << 20
"""A reference claiming more than this is refused: it would be read into memory whole."""


@dataclass(frozen=True)
class LindiSite:
    """Where an index lives, which is where its relative references point: a checked local path or a URL."""

    location: str
    """The index's real path (checked) or its final URL."""
    label: str
    """The index as the user named it, for messages."""
    tar: Any = None
    """lindi's ``LindiTarFile`` for a local ``.lindi.tar`` (``./`` references are byte ranges inside it)."""

    @property
    def is_remote(self) -> bool:
        return urlparse(self.location).scheme in ("http", "https")


@dataclass(frozen=True)
class _Place:
    url: str | None = None
    path: Path | None = None
    shift: int = 0
    end: int | None = None
    """For a member of a ``.lindi.tar``: where the member ends in the tar (a reference may not read past
    it)."""


def _place(location: str, site: LindiSite, policy: SourcePolicy, check_urls: bool = True) -> _Place:
    """Where a reference's bytes are, checked by the policy; a refusal names the reference as the index wrote
    it.

    ``check_urls=False`` skips the DNS lookup of a URL: reads connect through ``get_range``, which
    checks the address it connects to anyway (the lookup here is for an early, clear error).
    """
    parsed = urlparse(location)
    scheme = parsed.scheme.lower()
    if scheme in ("http", "https"):
        if check_urls:
            check_url_allowed(location, policy)
        return _Place(url=location)
    if scheme and scheme != "file" and len(scheme) > 1:
        raise SourceNotAllowed(
            f"The LINDI index {site.label} refers to data at '{location}', a kind of address this "
            "server does not read."
        )
    if site.is_remote:
        if scheme == "file" or location.startswith(("/", "~")):
            raise SourceNotAllowed(
                f"The LINDI index {site.label} is on the web but refers to a file on this server "
                f"('{location}'); such an index may only name URLs."
            )
        joined = urljoin(site.location, location)
        if check_urls:
            check_url_allowed(joined, policy)
        return _Place(url=joined)
    if site.tar is not None and location.startswith("./"):  # a member of the tar: bytes inside the tar itself
        try:
            start, end = site.tar.get_file_byte_range(file_name=location[2:])
        except Exception as exc:  # lindi raises a plain exception for a name its tar index lacks
            raise NwbOpenError(f"The LINDI file {site.label} has no member '{location}'.") from exc
        return _Place(path=resolve_local_path(site.location, policy, shown=site.label), shift=start, end=end)
    path = parsed.path if scheme == "file" else location
    if not path.startswith(("/", "~")):
        path = str(Path(site.location).parent / path)  # relative to the index, never to the server's folder
    try:
        return _Place(path=resolve_local_path(path, policy, shown=location))
    except (SourceNotAllowed, SourceNotFound) as exc:
        raise type(exc)(f"The LINDI index {site.label} names a file: {exc}") from exc


def _read(
    location: str, offset: int, length: int, site: LindiSite, policy: SourcePolicy, stats: RequestStats
) -> bytes:
    if not 0 <= length <= _MAX_CHUNK_BYTES or offset < 0:
        raise NwbOpenError(
            f"The LINDI index {site.label} names a chunk of {length:,} bytes at {offset:,}, "
            f"outside 0–{_MAX_CHUNK_BYTES:,}; it is damaged or crafted."
        )
    place = _place(location, site, policy, check_urls=False)
    if place.url is not None:
        return get_range(place.url, policy, stats, offset, offset + length) if length else b""
    assert place.path is not None
    if place.end is not None and place.shift + offset + length > place.end:
        raise NwbOpenError(
            f"The LINDI file {site.label} has a reference past the end of its member '{location}'."
        )
    # O_NOFOLLOW: a file swapped for a symlink since the check is not followed
    fd = os.open(place.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        data = os.pread(fd, length, offset + place.shift)
    finally:
        os.close(fd)
    stats.add(len(data))
    return data


def _locations(rfs: dict[str, Any]) -> set[str]:
    """Every location the index names: chunk references (templates expanded) and external HDF5 files."""
    templates = rfs.get("templates") or {}
    found: set[str] = set()
    for key, value in (rfs.get("refs") or {}).items():
        if isinstance(value, list) and value and isinstance(value[0], str):
            found.add(_expand(value[0], templates))
        elif key.endswith(".zattrs"):
            link = _attributes(value).get("_EXTERNAL_ARRAY_LINK")
            if isinstance(link, dict) and isinstance(link.get("url"), str):
                found.add(link["url"])
    return found


def _expand(location: str, templates: dict[str, Any]) -> str:
    return _TEMPLATE.sub(lambda m: str(templates.get(m.group(1), m.group(0))), location)


def _attributes(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and not value.startswith("base64:"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def check_reference_locations(
    rfs: dict[str, Any], policy: SourcePolicy, site: LindiSite | None = None
) -> None:
    """Raise ``SourceNotAllowed`` unless every location a reference file system names may be read.

    Costs one DNS lookup per distinct URL; no request is made. Without ``site`` the index is taken
    as remote (it may name no local file, and relative references cannot be placed).
    """
    site = site or LindiSite(location="https://index.invalid/", label="this index")
    hosts: set[str] = set()
    for location in sorted(_locations(rfs)):
        host = urlparse(location).netloc if urlparse(location).scheme in ("http", "https") else None
        if host is not None and host in hosts:
            continue
        _place(location, site, policy)
        if host is not None:
            hosts.add(host)


def _lindi_classes() -> tuple[type, type]:
    """The checked store and file classes (built on first use: importing lindi costs a second)."""
    global _classes
    if _classes is None:
        _classes = _build_classes()
    return _classes


_classes: tuple[type, type] | None = None


def _build_classes() -> tuple[type, type]:
    from lindi.LindiH5pyFile.LindiH5pyDataset import LindiH5pyDataset
    from lindi.LindiH5pyFile.LindiH5pyFile import LindiH5pyFile
    from lindi.LindiH5pyFile.LindiReferenceFileSystemStore import LindiReferenceFileSystemStore

    class CheckedStore(LindiReferenceFileSystemStore):
        """lindi's store with every chunk reference read through ``_read`` (checked, bounded)."""

        def __init__(
            self, rfs: dict[str, Any], site: LindiSite, policy: SourcePolicy, stats: RequestStats
        ) -> None:
            super().__init__(rfs, mode="r")
            self.site, self.policy, self.stats = site, policy, stats

        def _get_helper(self, key: str) -> bytes:
            value = self.rfs["refs"].get(key)
            if not isinstance(value, list):
                return super()._get_helper(key)
            if len(value) != 3 or not isinstance(value[0], str):
                raise NwbOpenError(f"The LINDI index {self.site.label} has a malformed reference at '{key}'.")
            location = _expand(value[0], self.rfs.get("templates") or {})
            return _read(location, int(value[1]), int(value[2]), self.site, self.policy, self.stats)

    class CheckedFile(LindiH5pyFile):
        """A LINDI file whose external HDF5 files are opened through the server's readers, checked."""

        def external(self, url: str) -> _NoExternalLinks:
            store: CheckedStore = self._zarr_store
            opened = self.__dict__.setdefault("_external_files", {})
            if url not in opened:
                place = _place(url, store.site, store.policy)
                if place.url is not None:
                    from engines.io.range_file import RangeFile
                    from engines.nwb._h5_superblock import root_chaser

                    probe = probe_http(place.url, store.policy, store.stats)
                    root = root_chaser(probe.first_chunk)
                    source: Any = RangeFile(probe, store.policy, store.stats, root)
                else:
                    source = str(place.path)
                opened[url] = _NoExternalLinks(h5py.File(source, "r"))
            return opened[url]

        def close(self) -> None:
            for handle in self.__dict__.pop("_external_files", {}).values():
                handle.file.close()
            super().close()

    def external_client(dataset: Any, url: str) -> _NoExternalLinks:
        if not isinstance(dataset._file, CheckedFile):
            raise SourceNotAllowed(
                "This LINDI file was not opened through the server's source rules, so its "
                "external data is not read. Open it with engines.nwb.lindi_source."
            )
        return dataset._file.external(url)

    # lindi has no hook for how it opens external files; without this it would open any URL or path itself.
    LindiH5pyDataset._get_external_hdf5_client = external_client
    return CheckedStore, CheckedFile


class _NoExternalLinks:
    """An HDF5 file that hands out objects only along paths without external links (HDF5 would follow
    them)."""

    def __init__(self, file: h5py.File) -> None:
        self.file = file

    def __getitem__(self, name: str) -> Any:
        group = self.file["/"]
        parts = [part for part in name.split("/") if part]
        for depth, part in enumerate(parts):
            link = group.get(part, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise SourceNotAllowed(
                    f"The external HDF5 data '{name}' goes through an HDF5 external link, which "
                    "this server does not follow."
                )
            if depth < len(parts) - 1:
                group = group[part]
        return self.file[name]


def _open_checked(rfs: Any, site: LindiSite, policy: SourcePolicy, stats: RequestStats) -> Any:
    import zarr

    if not isinstance(rfs, dict) or not isinstance(rfs.get("refs"), dict):
        raise NwbOpenError(f"The LINDI index {site.label} has no 'refs': it is not a LINDI index.")
    check_reference_locations(rfs, policy, site)
    store_class, file_class = _lindi_classes()
    try:
        store = store_class(rfs, site, policy, stats)
        return file_class(
            zarr.open(store=store, mode="r"),
            _zarr_store=store,
            _mode="r",
            _source_url_or_path=site.location,
            _source_tar_file=site.tar,
            _close_source_tar_file_on_close=site.tar is not None,
        )
    except SourceError:
        raise
    except Exception as exc:  # lindi and zarr raise plain exceptions for malformed indexes
        raise NwbOpenError(f"Cannot read the LINDI index {site.label}: {exc.__class__.__name__}.") from exc


def open_lindi_json(probe: HttpProbe, policy: SourcePolicy, stats: RequestStats) -> Any:
    """A remote LINDI JSON from the probe's bytes and, when it is longer, one request for the rest."""
    data = probe.first_chunk
    if len(data) < probe.size:
        data += fetch_range(probe, policy, stats, len(data), probe.size)
    try:
        rfs = json.loads(data)
    except ValueError as exc:
        raise NwbOpenError(f"The LINDI index at {probe.url} is not valid JSON ({exc}).") from exc
    return _open_checked(rfs, LindiSite(probe.final_url, probe.url), policy, stats)


def open_lindi_file(path: Path, label: str, policy: SourcePolicy, stats: RequestStats | None = None) -> Any:
    """A local LINDI index (``.lindi.json`` or ``.lindi.tar``) at a checked real ``path``, named ``label`` (as
    typed).

    A remote ``.lindi.tar`` is not opened (lindi would fetch it itself, outside the server's rules).
    """
    stats = stats or RequestStats()
    shown = f"'{label}'"
    with open(path, "rb") as handle:
        is_tar = handle.read(512)[257:262] == b"ustar"  # a tar header, whatever the name ends with
    if is_tar:
        from lindi.tar.lindi_tar import LindiTarFile

        try:
            tar = LindiTarFile(str(path))
            rfs = json.loads(tar.read_file("lindi.json"))
        except Exception as exc:  # lindi raises plain exceptions for a bad tar
            raise NwbOpenError(f"Cannot read the LINDI file {shown}: {exc.__class__.__name__}.") from exc
        return _open_checked(rfs, LindiSite(str(path), shown, tar), policy, stats)
    try:
        rfs = json.loads(path.read_bytes())
    except ValueError as exc:
        raise NwbOpenError(f"The LINDI index {shown} is not valid JSON ({exc}).") from exc
    return _open_checked(rfs, LindiSite(str(path), shown), policy, stats)


def refuse_remote_lindi_tar(label: str) -> Any:
    """A ``.lindi.tar`` on the web is not opened: lindi reads it with its own requests, outside the server's
    rules."""
    raise SourceNotAllowed(
        f"'{label}' is a LINDI tar file on the web, which this server does not open. Open its "
        ".lindi.json, or download it into a folder the server may read and open it there."
    )

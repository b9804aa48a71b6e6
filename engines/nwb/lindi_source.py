"""LINDI indexes (``.lindi.json`` / ``.lindi.tar``): a file's whole structure in one document.

The index refers to the data chunks by URL (or path), and lindi fetches them itself, so
every location it names is checked against the same policy as a URL the user typed:
a crafted index cannot make the server read loopback or private addresses, or local
files outside the allowed roots.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlparse

from engines.nwb.errors import NotAnNwbFile, SourceNotAllowed
from engines.nwb.http_probe import HttpProbe, RequestStats, fetch_range
from engines.nwb.sources import SourcePolicy, check_url_allowed, resolve_local_path

__all__ = ["open_lindi_json", "open_lindi_file", "check_reference_locations"]

_TEMPLATE = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def check_reference_locations(rfs: dict[str, Any], policy: SourcePolicy) -> None:
    """Raise ``SourceNotAllowed`` unless every chunk location in a reference file system may be read.

    Costs one DNS lookup per distinct host; no request is made.
    """
    templates = rfs.get("templates") or {}
    locations: set[str] = set()
    for value in (rfs.get("refs") or {}).values():
        if isinstance(value, list) and value and isinstance(value[0], str):
            locations.add(_TEMPLATE.sub(lambda m: str(templates.get(m.group(1), m.group(0))), value[0]))
    hosts_checked: set[str] = set()
    for location in locations:
        scheme = urlparse(location).scheme.lower()
        if scheme in ("http", "https"):
            host = urlparse(location).netloc
            if host not in hosts_checked:
                check_url_allowed(location, policy)
                hosts_checked.add(host)
        elif scheme == "file" or location.startswith(("/", "~")):
            resolve_local_path(urlparse(location).path if scheme == "file" else location, policy)
        elif scheme:
            raise SourceNotAllowed(f"This LINDI index refers to data at '{location}', a kind of address this "
                                   "server does not read.")


def open_lindi_json(probe: HttpProbe, policy: SourcePolicy, stats: RequestStats) -> Any:
    """A remote LINDI JSON from the probe's bytes and, when it is longer, one request for the rest."""
    import lindi

    data = probe.first_chunk
    if len(data) < probe.size:
        data += fetch_range(probe, policy, stats, len(data), probe.size)
    try:
        rfs = json.loads(data)
    except ValueError as exc:
        raise NotAnNwbFile(f"The LINDI index at {probe.url} is not valid JSON ({exc}).") from exc
    check_reference_locations(rfs, policy)
    try:
        return lindi.LindiH5pyFile.from_reference_file_system(rfs)
    except Exception as exc:  # lindi raises plain exceptions for malformed indexes
        raise NotAnNwbFile(f"Cannot read the LINDI index at {probe.url}: {exc}") from exc


def open_lindi_file(location: str, policy: SourcePolicy) -> Any:
    """A local LINDI file, or a remote ``.lindi.tar`` (lindi reads it), checked before its data is touched."""
    import lindi

    try:
        if location.split("?")[0].endswith(".lindi.json") and "://" not in location:
            with open(location, "rb") as handle:
                rfs = json.load(handle)
            check_reference_locations(rfs, policy)
            return lindi.LindiH5pyFile.from_reference_file_system(rfs)
        opened = lindi.LindiH5pyFile.from_lindi_file(location)
    except SourceNotAllowed:
        raise
    except Exception as exc:  # lindi raises plain exceptions for bad JSON or tar
        raise NotAnNwbFile(f"Cannot read the LINDI index at {location}: {exc}") from exc
    try:
        rfs = opened.to_reference_file_system()
    except Exception as exc:  # a store lindi cannot describe gives no way to check where its data lives
        opened.close()
        raise NotAnNwbFile(f"Cannot inspect the LINDI index at {location}: {exc}") from exc
    try:
        check_reference_locations(rfs, policy)
    except SourceNotAllowed:
        opened.close()
        raise
    return opened

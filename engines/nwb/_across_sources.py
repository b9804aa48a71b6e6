"""Which files "tables across files" reads: a folder, a dandiset version, or a list of paths and URLs.

Every name this returns is later opened by ``open_nwb`` (the source policy again on each). A
folder is checked against the policy's roots here, before it is listed, so a listing never
shows what lies outside them; a dandiset is listed through ``DandiArchive`` (the policy's API
address, time limit and size cap). ``product_jobs.expand_sources`` lists sources for the
command line, where the operator's own paths need no policy; this is the page's version.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from engines.dandi.archive import MAX_PAGE_SIZE, DandiArchive
from engines.io.errors import SourceError, SourceNotAllowed, SourceNotFound
from engines.io.policy import SourcePolicy, is_under_roots

__all__ = ["list_sources", "MAX_FILES"]

MAX_FILES = 500
"""At most this many files per query: a study's sessions, not an archive."""

_DANDISET = re.compile(r"^(?:dandi://)?(\d{6})(?:@(draft|\d+\.\d+\.\d+))?/?$")


def list_sources(text: str, policy: SourcePolicy, limit: int = MAX_FILES) -> list[str]:
    """The files ``text`` names: ``000123`` or ``000123@0.240101.1200`` (its .nwb assets), a folder under
    an allowed root (its .nwb files, below too), or paths/URLs one per line or comma-separated."""
    text = (text or "").strip()
    if not text:
        raise SourceError(
            "Name the files: a folder, a dandiset (000123 or 000123@version) or a list of URLs."
        )
    found = _DANDISET.match(text)
    if found:
        return _dandiset_files(found.group(1), found.group(2) or "draft", policy, limit)
    items = [item.strip() for item in re.split(r"[\n,]+", text) if item.strip()]
    if len(items) == 1 and "://" not in items[0]:
        folder = _folder(items[0], policy)
        if folder is not None:
            return _folder_files(folder, items[0], limit)
    if len(items) > limit:
        raise SourceError(f"{len(items)} files are more than the {limit} one query reads; name fewer.")
    return items


def _folder(text: str, policy: SourcePolicy) -> Path | None:
    """The folder ``text`` names when it is one under an allowed root; None when it is no folder."""
    path = Path(os.path.expanduser(text))
    real = (path if path.is_absolute() else Path.cwd() / path).resolve()
    if not is_under_roots(real, policy):
        if real.is_dir():
            raise SourceNotAllowed(
                f"'{text}' is outside the folders this server may read. Pick a folder under its roots."
            )
        return None
    return real if real.is_dir() else None


def _folder_files(folder: Path, shown: str, limit: int) -> list[str]:
    files = sorted(
        p
        for p in folder.rglob("*.nwb")
        if not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    if not files:
        raise SourceNotFound(f"The folder '{shown}' holds no .nwb files.")
    if len(files) > limit:
        raise SourceError(
            f"The folder '{shown}' holds {len(files)} .nwb files, more than the {limit} one query reads. "
            "Pick a folder of fewer sessions."
        )
    return [str(p) for p in files]


def _dandiset_files(identifier: str, version: str, policy: SourcePolicy, limit: int) -> list[str]:
    """Download addresses of the version's .nwb assets, by path (one API request per 200 assets)."""
    archive = DandiArchive(policy)
    found: list[str] = []
    page = 1
    while len(found) <= limit:
        listed = archive.assets(identifier, version, page=page, page_size=MAX_PAGE_SIZE)
        found += [asset.download_url for asset in listed.items if asset.kind == "nwb"]
        if not listed.has_next:
            break
        page += 1
    if not found:
        raise SourceNotFound(f"Dandiset {identifier} ({version}) holds no .nwb files.")
    if len(found) > limit:
        raise SourceError(
            f"Dandiset {identifier} ({version}) holds more than {limit} .nwb files; "
            "list the sessions you want as URLs instead."
        )
    return found

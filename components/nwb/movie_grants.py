"""Which movie files a browser may fetch: one unguessable token per session and open NWB file.

A view that plays an ImageSeries' movie files grants its session the names that series' NWB
file lists (``grant``); the movie route (``components.nwb.movie_route``) serves only a name a
live grant holds, by its position in that grant, so a URL carries no path at all. The grant ends
with the view (``revoke``) or the process. With ``--num-procs N`` the processes share one
listening socket and a movie request reaches any of them, so grants are small files in a private
folder made before the fork (``prepare_movie_grants``), not a dict of one process.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from engines._filesystem import atomic_write

__all__ = ["MOVIE_PATH", "MovieGrant", "grant", "lookup", "prepare_movie_grants", "revoke"]

MOVIE_PATH = "nwb-movie"
"""Where movies are served under the app's prefix: ``<prefix>/nwb-movie/<token>/<n>``."""

TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
_lock = threading.Lock()
_folder: Path | None = None


@dataclass(frozen=True)
class MovieGrant:
    """An NWB file's place (as the session opened it) and the movie names that file lists."""

    nwb_location: str
    names: tuple[str, ...]


def prepare_movie_grants() -> Path:
    """The private folder of grants, made once (before ``--num-procs`` forks when the routes are built) and
    removed when the process that made it exits."""
    global _folder
    with _lock:
        if _folder is None:
            _folder = Path(tempfile.mkdtemp(prefix="neurodeck-movie-grants-"))  # mode 0700
            atexit.register(_remove_folder, _folder, os.getpid())
        return _folder


def _remove_folder(folder: Path, maker: int) -> None:
    if os.getpid() == maker:  # forked processes inherit the exit hook: only the maker removes the folder
        shutil.rmtree(folder, ignore_errors=True)


def grant(nwb_location: str, names: list[str] | tuple[str, ...]) -> str:
    """A new token for these names of this NWB file; the caller revokes it when its view goes."""
    token = secrets.token_urlsafe(24)  # 32 characters, 192 random bits
    record = {"nwb_location": nwb_location, "names": list(names)}
    atomic_write(prepare_movie_grants() / f"{token}.json", json.dumps(record), durable=False)
    return token


def lookup(token: str) -> MovieGrant | None:
    """The live grant of ``token``, or None (malformed, never granted, revoked)."""
    if not TOKEN.match(token):
        return None
    try:
        record = json.loads((prepare_movie_grants() / f"{token}.json").read_text())
    except (OSError, ValueError):
        return None
    return MovieGrant(str(record["nwb_location"]), tuple(str(name) for name in record["names"]))


def revoke(token: str) -> None:
    if TOKEN.match(token):
        (prepare_movie_grants() / f"{token}.json").unlink(missing_ok=True)

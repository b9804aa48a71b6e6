"""``<prefix>/nwb-movie/<token>/<n>``: a movie an open NWB file names, from the app's own origin, by range.

A ``<video>`` element fetches its file in ranges (``Range: bytes=a-b``) and seeks by asking for
others, so this answers ``206 Partial Content`` with ``Content-Range`` for one range, ``416`` for a
range it cannot satisfy, and ``200`` with the whole file to a request with none. The file is the
``n``-th name of the token's grant (``components.nwb.movie_grants``), resolved beside its NWB file
and read through ``engines.nwb.external_movies`` with the server's source policy: a local file
under the roots, or the remote sibling by range requests. A request names no path, so there is
nothing to traverse; a name in the NWB file that leads outside the roots is refused (403).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

from tornado import iostream, web
from tornado.http1connection import HTTP1Connection

from components.nwb.movie_grants import MOVIE_PATH, lookup, prepare_movie_grants
from engines.io.errors import SourceError, SourceNotAllowed, SourceNotFound
from engines.io.policy import SourcePolicy
from engines.nwb.external_movies import MovieFile, movie_type, open_movie

__all__ = ["MovieHandler", "movie_routes", "parse_range"]

CHUNK = 1 << 20
"""Bytes read and sent at a time."""
MAX_SPAN = 16 << 20
"""The most one ranged answer carries: an open-ended range (``bytes=0-``) gets this much and the player
asks for the rest (``Content-Range`` says what came)."""

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """[start, stop) of one ``Range`` header against a file of ``size`` bytes; None when it cannot be served
    (malformed, several ranges, past the end, or an empty file)."""
    match = _RANGE.match(header.strip())
    if not match or size == 0 or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if not first:  # "bytes=-n": the last n bytes
        count = int(last)
        return (max(size - count, 0), size) if count > 0 else None
    start = int(first)
    stop = min(int(last) + 1, size) if last else size
    if start >= size or stop <= start:
        return None
    return start, min(stop, start + MAX_SPAN)


class MovieHandler(web.RequestHandler):
    """Serves the movie files of live grants, and nothing else."""

    SUPPORTED_METHODS = ("GET", "HEAD")

    def initialize(self, policy: Callable[[], SourcePolicy]) -> None:
        self._policy = policy

    async def head(self, token: str, number: str) -> None:
        await self._serve(token, int(number), body=False)

    async def get(self, token: str, number: str) -> None:
        await self._serve(token, int(number), body=True)

    async def _serve(self, token: str, number: int, body: bool) -> None:
        granted = lookup(token)
        if granted is None or number >= len(granted.names):
            raise web.HTTPError(404, "no such movie: the view that showed it has closed; reload the page")
        loop = asyncio.get_running_loop()
        try:
            movie = await loop.run_in_executor(
                None, open_movie, granted.nwb_location, granted.names[number], self._policy()
            )
        except SourceNotAllowed as exc:
            raise web.HTTPError(403, str(exc)) from None
        except SourceNotFound as exc:
            raise web.HTTPError(404, str(exc)) from None
        except SourceError as exc:
            raise web.HTTPError(502, str(exc)) from None
        self.set_header("Accept-Ranges", "bytes")
        self.set_header("Content-Type", movie_type(movie.name))
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "private, max-age=300")
        header = self.request.headers.get("Range")
        if header is None:
            start, stop = 0, movie.size
        else:
            span = parse_range(header, movie.size)
            if span is None:
                self.set_status(416)
                self.set_header("Content-Range", f"bytes */{movie.size}")
                return
            start, stop = span
            self.set_status(206)
            self.set_header("Content-Range", f"bytes {start}-{stop - 1}/{movie.size}")
        self.set_header("Content-Length", str(stop - start))
        if body:
            await self._send(movie, start, stop)

    async def _send(self, movie: MovieFile, start: int, stop: int) -> None:
        loop = asyncio.get_running_loop()
        for offset in range(start, stop, CHUNK):
            try:
                data = await loop.run_in_executor(None, movie.read, offset, min(offset + CHUNK, stop))
            except SourceError:  # headers are gone: end short, the player retries the rest
                if isinstance(self.request.connection, HTTP1Connection):
                    self.request.connection.close()
                return
            self.write(data)
            try:
                await self.flush()
            except iostream.StreamClosedError:  # the player seeked elsewhere and dropped this answer
                return

    def write_error(self, status_code: int, **kwargs) -> None:
        """A short plain-text reason (the policy's message names no server folder)."""
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        exc = kwargs.get("exc_info", (None, None))[1]
        reason = exc.log_message if isinstance(exc, web.HTTPError) and exc.log_message else self._reason
        self.finish(reason)


def movie_routes(policy: Callable[[], SourcePolicy]) -> list[tuple]:
    """The movie route; built before ``--num-procs`` forks, so every process shares one grants folder."""
    prepare_movie_grants()
    return [(rf"/{MOVIE_PATH}/([A-Za-z0-9_-]+)/([0-9]{{1,6}})", MovieHandler, {"policy": policy})]

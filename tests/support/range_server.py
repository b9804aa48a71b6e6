"""A real threaded HTTP server on 127.0.0.1 that honours Range requests, for tests and benchmarks.

Besides serving files from a folder it can add latency per request (like a remote archive),
log every request, and misbehave on purpose at fixed routes: ``/status/<code>`` answers
that code, ``/stall/...`` never answers, ``/loop/...`` redirects to itself, and
``/redirect/<path>`` redirects once to ``/<path>`` (as DANDI redirects to S3).

``RangeServerProcess`` runs the same server in a child process (``python -m
tests.support.range_server``), for benchmarks: a remote archive does not share the client's
CPU, and a server thread in the client's process would compete with it for the GIL. Its log
is read over ``/_log`` (JSON; ``?clear=1`` empties it), which is not logged itself.
"""

from __future__ import annotations

import argparse
import email.utils
import json
import mimetypes
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["RangeServer", "RangeServerProcess"]

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


@dataclass
class RequestLog:
    entries: list[tuple[str, str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    active: int = 0
    peak: int = 0
    """The most requests in progress at once since the last ``clear``: requests sent in one concurrent
    wave overlap in the server's latency, so a wave of 96 reads peaks at 96."""

    def begin(self) -> None:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)

    def end(self) -> None:
        with self.lock:
            self.active -= 1

    def add(self, path: str, range_header: str, nbytes: int) -> tuple[str, str, int]:
        """Log a request before its reply starts, so a client holding the reply always finds it here."""
        entry = (path, range_header, nbytes)
        with self.lock:
            self.entries.append(entry)
        return entry

    def correct(self, entry: tuple[str, str, int], nbytes: int) -> None:
        """Record fewer bytes than announced when the client hung up mid-body (unless cleared since)."""
        with self.lock:
            for position, logged in enumerate(self.entries):
                if logged is entry:
                    self.entries[position] = (entry[0], entry[1], nbytes)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.peak = self.active

    @property
    def count(self) -> int:
        return len(self.entries)

    @property
    def bytes(self) -> int:
        return sum(e[2] for e in self.entries)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # like S3/DANDI: small replies go out at once, not 40 ms later
    server: _Server

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_HEAD(self) -> None:
        self._counted(head=True)

    def do_GET(self) -> None:
        self._counted(head=False)

    def _counted(self, head: bool) -> None:
        log = self.server.owner.log
        log.begin()
        try:
            self._serve(head)
        finally:
            log.end()

    def _send_empty(self, code: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send_log(self) -> None:
        owner = self.server.owner
        with owner.log.lock:
            body = json.dumps(owner.log.entries).encode()
            if "clear=1" in self.path:
                owner.log.entries.clear()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _serve(self, head: bool) -> None:
        owner = self.server.owner
        if self.path.split("?")[0] == "/_log":
            return self._send_log()
        if owner.latency_s:
            time.sleep(owner.latency_s)
        path = self.path.split("?")[0]
        range_header = self.headers.get("Range", "")
        if path.startswith("/status/"):
            owner.log.add(path, range_header, 0)
            return self._send_empty(int(path.split("/")[2]))
        if path.startswith("/stall/"):
            owner.log.add(path, range_header, 0)
            owner.stop_event.wait(owner.stall_s)
            return self._send_empty(504)
        if path.startswith("/loop/"):
            owner.log.add(path, range_header, 0)
            return self._send_empty(302, {"Location": path})
        if path.startswith("/redirect/"):
            owner.log.add(path, range_header, 0)
            return self._send_empty(302, {"Location": "/" + path[len("/redirect/") :]})
        file = (owner.root / path.lstrip("/")).resolve()
        if owner.root not in file.parents or not file.is_file():
            owner.log.add(path, range_header, 0)
            return self._send_empty(404)
        size = file.stat().st_size
        stat = file.stat()
        common = {
            "Accept-Ranges": "bytes",
            "ETag": f'"{stat.st_mtime_ns:x}-{size:x}"',
            "Last-Modified": email.utils.formatdate(stat.st_mtime, usegmt=True),
            "Content-Type": mimetypes.guess_type(file.name)[0] or "application/octet-stream",
        }
        start, end, code = 0, size - 1, 200
        match = _RANGE.fullmatch(range_header.strip()) if range_header else None
        if match and owner.honour_ranges:
            first, last = match.groups()
            if first == "":
                start, end = max(0, size - int(last)), size - 1
            else:
                start, end = int(first), min(int(last) if last else size - 1, size - 1)
            if start >= size or start > end:
                owner.log.add(path, range_header, 0)
                return self._send_empty(416, {"Content-Range": f"bytes */{size}"})
            code = 206
        length = end - start + 1
        announced = owner.log.add(path, range_header, 0 if head else length)
        self.send_response(code)
        for key, value in common.items():
            self.send_header(key, value)
        if code == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(length))
        self.end_headers()
        sent = 0
        if not head:
            with open(file, "rb") as handle:
                handle.seek(start)
                remaining = length
                try:
                    while remaining > 0:
                        block = handle.read(min(remaining, 1 << 20))
                        if not block:
                            break
                        self.wfile.write(block)
                        remaining -= len(block)
                        sent += len(block)
                except (BrokenPipeError, ConnectionResetError):
                    owner.log.correct(announced, sent)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # accept bursts of concurrent connections, as an archive does
    owner: RangeServer

    def handle_error(self, request, client_address) -> None:
        """Clients abort connections on purpose (remfile's length probe); that is not an error."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class RangeServer:
    """Serve ``root`` on 127.0.0.1 (random port) in a background thread; use as a context manager."""

    def __init__(
        self, root: Path | str, latency_s: float = 0.0, stall_s: float = 60.0, honour_ranges: bool = True
    ) -> None:
        self.root = Path(root).resolve()
        self.latency_s = latency_s
        self.stall_s = stall_s
        self.honour_ranges = honour_ranges
        self.log = RequestLog()
        self.stop_event = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url_for(self, relative: str | os.PathLike) -> str:
        return f"{self.url}/{str(relative).lstrip('/')}"

    def start(self) -> RangeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> RangeServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _RemoteLog:
    """The request log of a ``RangeServerProcess``, read over its ``/_log`` route."""

    def __init__(self, url: str) -> None:
        self._url = url

    def _get(self, query: str = "") -> list[tuple[str, str, int]]:
        with urllib.request.urlopen(f"{self._url}/_log{query}", timeout=30) as response:
            return [tuple(entry) for entry in json.loads(response.read())]

    @property
    def entries(self) -> list[tuple[str, str, int]]:
        return self._get()

    def clear(self) -> None:
        self._get("?clear=1")

    @property
    def count(self) -> int:
        return len(self.entries)

    @property
    def bytes(self) -> int:
        return sum(entry[2] for entry in self.entries)


class RangeServerProcess:
    """A ``RangeServer`` in a child process (see the module's docstring); use as a context manager."""

    def __init__(self, root: Path | str, latency_s: float = 0.0) -> None:
        self.root = Path(root).resolve()
        self.latency_s = latency_s
        self.url = ""
        self.log: _RemoteLog | None = None
        self._process: subprocess.Popen | None = None

    def url_for(self, relative: str | os.PathLike) -> str:
        return f"{self.url}/{str(relative).lstrip('/')}"

    def start(self) -> RangeServerProcess:
        project = Path(__file__).resolve().parents[2]
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.range_server",
                str(self.root),
                "--latency",
                str(self.latency_s),
            ],
            cwd=project,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = self._process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.stop()
            raise RuntimeError("The range server process did not start.")
        self.log = _RemoteLog(self.url)
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.stdin.close()  # the child serves until its stdin closes
            self._process.wait(timeout=30)
            self._process = None

    def __enter__(self) -> RangeServerProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _serve_until_stdin_closes() -> None:
    parser = argparse.ArgumentParser(description="Serve a folder with Range support until stdin closes.")
    parser.add_argument("root", type=Path)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    args = parser.parse_args()
    with RangeServer(args.root, latency_s=args.latency) as server:
        print(server.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    _serve_until_stdin_closes()

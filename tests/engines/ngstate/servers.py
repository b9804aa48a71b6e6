"""Small real HTTP servers on 127.0.0.1 for the pointer tests: a misbehaving state host and a GCS-like store.

``TrickServer`` answers ``/to-file`` with a redirect to ``file:///etc/passwd``, ``/redirect?to=<url>``
with a redirect to ``<url>``, ``/chunked/<n>``
with ``n`` bytes of JSON sent chunked (no Content-Length), and ``/drip`` with a body that
trickles out a byte at a time. ``GcsServer`` answers the two requests google-cloud-storage
makes for a media download (bucket metadata, then ``/download/storage/v1/b/<b>/o/<key>``),
from a dict of objects, honouring Range.
"""

from __future__ import annotations

import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse


class _Base(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _send(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _TrickHandler(_Base):
    def do_GET(self) -> None:
        if self.path == "/to-file":
            return self._send(302, headers={"Location": "file:///etc/passwd"})
        if self.path.startswith("/redirect?to="):
            return self._send(302, headers={"Location": unquote(self.path.split("=", 1)[1])})
        if self.path.startswith("/chunked/"):
            size = int(self.path.rsplit("/", 1)[1])
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            body = b'{"pad":"' + b"x" * size + b'"}'
            for start in range(0, len(body), 4096):
                block = body[start : start + 4096]
                self.wfile.write(f"{len(block):x}\r\n".encode() + block + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return None
        if self.path == "/drip":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(100000):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return None
        return self._send(404)


_DOWNLOAD = re.compile(r"^/download/storage/v1/b/([^/]+)/o/(.+)$")
_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


class _GcsHandler(_Base):
    server: _Server

    def do_GET(self) -> None:
        path = urlparse(self.path).path
        match = _DOWNLOAD.match(path)
        if not match:
            return self._send(200, b"{}", {"Content-Type": "application/json"})  # bucket metadata
        body = self.server.objects.get((match.group(1), unquote(match.group(2))))
        if body is None:
            return self._send(
                404,
                b'{"error": {"code": 404, "message": "No such object"}}',
                {"Content-Type": "application/json"},
            )
        ranged = _RANGE.fullmatch(self.headers.get("Range", ""))
        if ranged:
            start = int(ranged.group(1))
            end = min(int(ranged.group(2) or len(body) - 1), len(body) - 1)
            return self._send(
                206, body[start : end + 1], {"Content-Range": f"bytes {start}-{end}/{len(body)}"}
            )
        return self._send(200, body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    objects: dict[tuple[str, str], bytes]


class _Running:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.objects = {}
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


class TrickServer(_Running):
    def __init__(self) -> None:
        super().__init__(_TrickHandler)


class GcsServer(_Running):
    def __init__(self, objects: dict[tuple[str, str], bytes]) -> None:
        super().__init__(_GcsHandler)
        self._server.objects = objects

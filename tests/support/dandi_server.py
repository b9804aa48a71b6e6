"""A real HTTP server on 127.0.0.1 that answers like the DANDI archive's REST API, for tests.

It serves the read-only routes the browser uses, with the API's JSON shapes and paging
(``count``/``next``/``previous``/``results``): ``/api/dandisets/`` (``search``, ``ordering``,
``empty``, ``embargoed``), ``/api/dandisets/<id>/``, ``/api/dandisets/<id>/versions/``,
``/api/dandisets/<id>/versions/<version>/assets/`` (``path`` prefix, ``order``), and
``/api/assets/<asset_id>/download/``, which redirects to the asset's ``url`` (e.g. a file on
a ``RangeServer``), as DANDI redirects to S3. ``status`` makes every answer that HTTP code,
``hang_s`` delays every answer; ``requests`` records (path, query) of each request.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

__all__ = ["FakeAsset", "FakeDandiset", "DandiApiServer"]

_STAMP = "2024-01-02T03:04:05.000000Z"


@dataclass
class FakeAsset:
    path: str
    size: int
    asset_id: str
    url: str = ""
    """Where the download route redirects (empty: 404)."""


@dataclass
class FakeDandiset:
    identifier: str
    name: str
    assets: list[FakeAsset] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    """Published version names, oldest first; each holds the same assets as the draft."""
    embargoed: bool = False
    modified: str = _STAMP

    def version_json(self, version: str) -> dict:
        return {
            "version": version,
            "name": self.name,
            "asset_count": len(self.assets),
            "size": sum(a.size for a in self.assets),
            "status": "Valid",
            "created": _STAMP,
            "modified": self.modified,
        }

    def json(self) -> dict:
        return {
            "identifier": self.identifier,
            "created": _STAMP,
            "modified": self.modified,
            "contact_person": "Doe, Jane",
            "embargo_status": "EMBARGOED" if self.embargoed else "OPEN",
            "draft_version": self.version_json("draft"),
            "most_recent_published_version": self.version_json(self.published[-1])
            if self.published
            else None,
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        owner = self.server.owner
        parsed = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        with owner.lock:
            owner.requests.append((parsed.path, query))
        if owner.hang_s:
            owner.stop_event.wait(owner.hang_s)
        if owner.status:
            return self._json(owner.status, {"detail": "Service unavailable."})
        parts = [p for p in parsed.path.split("/") if p]
        if parts[:2] != ["api", "dandisets"] and parts[:2] != ["api", "assets"]:
            return self._json(404, {"detail": "Not found."})
        if parts[1] == "assets" and len(parts) == 4 and parts[3] == "download":
            return self._download(parts[2])
        dandiset = owner.by_id.get(parts[2]) if len(parts) > 2 else None
        if len(parts) == 2:
            return self._paged(self._search(query), query)
        if dandiset is None:
            return self._json(404, {"detail": "Not found."})
        if len(parts) == 3:
            return self._json(200, dandiset.json())
        if parts[3] == "versions" and len(parts) == 4:
            versions = ["draft", *dandiset.published][::-1]
            return self._paged([dandiset.version_json(v) for v in versions], query)
        if parts[3] == "versions" and len(parts) == 6 and parts[5] == "assets":
            if parts[4] != "draft" and parts[4] not in dandiset.published:
                return self._json(404, {"detail": "Not found."})
            prefix = query.get("path", "")
            assets = sorted((a for a in dandiset.assets if a.path.startswith(prefix)), key=lambda a: a.path)
            return self._paged(
                [
                    {
                        "asset_id": a.asset_id,
                        "blob": a.asset_id,
                        "zarr": None,
                        "path": a.path,
                        "size": a.size,
                        "created": _STAMP,
                        "modified": _STAMP,
                    }
                    for a in assets
                ],
                query,
            )
        return self._json(404, {"detail": "Not found."})

    def _search(self, query: dict[str, str]) -> list[dict]:
        owner = self.server.owner
        words = query.get("search", "").lower().split()
        found = []
        for dandiset in owner.dandisets:
            text = f"{dandiset.identifier} {dandiset.name}".lower()
            if words and not any(word in text for word in words):
                continue
            if query.get("embargoed") == "false" and dandiset.embargoed:
                continue
            if query.get("empty") == "false" and not dandiset.assets:
                continue
            found.append(dandiset)
        if query.get("ordering") == "-modified":
            found.sort(key=lambda d: d.modified, reverse=True)
        return [d.json() for d in found]

    def _paged(self, items: list[dict], query: dict[str, str]) -> None:
        page, size = int(query.get("page", 1)), int(query.get("page_size", 100))
        if page < 1 or (page > 1 and (page - 1) * size >= len(items)):
            return self._json(404, {"detail": "Invalid page."})
        base = f"{self.server.owner.url}{urlparse(self.path).path}"

        def link(number: int) -> str:
            return f"{base}?{urlencode({**query, 'page': number})}"

        self._json(
            200,
            {
                "count": len(items),
                "next": link(page + 1) if page * size < len(items) else None,
                "previous": link(page - 1) if page > 1 else None,
                "results": items[(page - 1) * size : page * size],
            },
        )

    def _download(self, asset_id: str) -> None:
        for dandiset in self.server.owner.dandisets:
            for asset in dandiset.assets:
                if asset.asset_id == asset_id and asset.url:
                    self.send_response(302)
                    self.send_header("Location", asset.url)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
        self._json(404, {"detail": "Not found."})

    def _json(self, code: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: DandiApiServer


class DandiApiServer:
    """The DANDI API for ``dandisets`` on 127.0.0.1 (random port); use as a context manager. ``api_url`` is
    its base."""

    def __init__(self, dandisets: list[FakeDandiset]) -> None:
        self.dandisets = dandisets
        self.by_id = {d.identifier: d for d in dandisets}
        self.status = 0
        self.hang_s = 0.0
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    def __enter__(self) -> DandiApiServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        self._server.shutdown()
        self._server.server_close()

"""The Neuroglancer viewer through the app's own origin: ``<prefix>/ngv/...`` forwarded to its local server.

The ``neuroglancer`` package serves its bundled client and each viewer's state channel
(``/v/<token>/``, ``/events/<token>``, ``/state/<token>``, ``/action/<token>``) on
``127.0.0.1:<random port>``. An iframe pointing there is blank for anyone who opens the app
from another machine, through a reverse proxy, or inside another site. The client finds its
server from its own address (the part before ``/v/<token>``), so serving it at
``<prefix>/ngv/v/<token>/`` makes every request it sends come back here, to be forwarded.
The event stream (server-sent events) is streamed through, not buffered.

``credentials/<token>`` hands out the server's own data-source tokens (DVID, Google, BOSS): it is
refused (403) unless the operator opted in (``--viewer-credentials``), whatever the viewer allows.
"""

from __future__ import annotations

import re

from tornado import httpclient, web

__all__ = ["NeuroglancerProxy", "NG_PATH", "neuroglancer_routes", "neuroglancer_server_url"]

NG_PATH = "/ngv"
"""Where the viewer lives under the app's prefix."""

_ALLOWED = re.compile(r"^(v|events|state|action|volume_response|credentials)/[A-Za-z0-9_\-]+(/[@A-Za-z0-9_\-./]*)?$")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "content-length", "content-encoding",
               "host"}


def neuroglancer_server_url() -> str:
    """The local neuroglancer server, started on first use (bound to 127.0.0.1 only)."""
    import neuroglancer
    from neuroglancer import server

    if not server.is_server_running():
        neuroglancer.set_server_bind_address("127.0.0.1", 0)
        server.start()
    return server.get_server_url()


class NeuroglancerProxy(web.RequestHandler):
    """Forward one request to the neuroglancer server; only its viewer paths, never anything else."""

    SUPPORTED_METHODS = ("GET", "POST", "HEAD")

    def initialize(self, allow_credentials: bool = False) -> None:
        self._allow_credentials = allow_credentials

    async def _forward(self, path: str) -> None:
        if not _ALLOWED.match(path):
            raise web.HTTPError(404)
        if path.startswith("credentials/") and not self._allow_credentials:
            raise web.HTTPError(403, "the viewer does not hand out the server's credentials (--viewer-credentials)")
        query = f"?{self.request.query}" if self.request.query else ""
        headers = {k: v for k, v in self.request.headers.get_all() if k.lower() not in _HOP_BY_HOP}
        streaming = path.startswith("events/")
        request = httpclient.HTTPRequest(
            f"{neuroglancer_server_url()}/{path}{query}", method=self.request.method, headers=headers,
            body=self.request.body if self.request.method == "POST" else None, follow_redirects=False,
            request_timeout=24 * 3600 if streaming else 60, connect_timeout=10,
            header_callback=self._on_header if streaming else None,
            streaming_callback=self._on_chunk if streaming else None)
        try:
            response = await httpclient.AsyncHTTPClient().fetch(request, raise_error=False)
        except Exception as exc:  # the browser went away mid-stream, or the local server stopped
            if not self._finished:
                raise web.HTTPError(502, f"the viewer server did not answer: {exc}") from exc
            return
        if not streaming:
            self.set_status(response.code)
            for key, value in response.headers.get_all():
                if key.lower() not in _HOP_BY_HOP:
                    self.add_header(key, value)
            if response.body and self.request.method != "HEAD":
                self.write(response.body)

    def _on_header(self, line: str) -> None:
        if ":" in line and not line.lower().startswith(("transfer-encoding", "content-length", "connection")):
            key, value = line.split(":", 1)
            self.set_header(key.strip(), value.strip())
        self.set_header("X-Accel-Buffering", "no")  # nginx in front: pass the event stream through unbuffered

    def _on_chunk(self, chunk: bytes) -> None:
        if not self._finished:
            self.write(chunk)
            self.flush()

    async def get(self, path: str) -> None:
        await self._forward(path)

    async def post(self, path: str) -> None:
        await self._forward(path)

    async def head(self, path: str) -> None:
        await self._forward(path)


def neuroglancer_routes(allow_credentials: bool = False) -> list[tuple]:
    """The proxy's route; ``allow_credentials`` forwards ``credentials/`` (the operator's opt-in)."""
    return [(rf"{NG_PATH}/(.*)", NeuroglancerProxy, {"allow_credentials": allow_credentials})]

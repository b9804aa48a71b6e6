"""A real Tornado server on 127.0.0.1 in a thread of its own, serving the routes a test gives it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tornado import httpserver, ioloop, testing, web


@contextmanager
def serve_routes(routes: list[tuple]) -> Iterator[str]:
    """``routes`` served by a ``tornado.web.Application`` until the block ends; yields its base URL."""
    sock, port = testing.bind_unused_port()
    started, loops = threading.Event(), []

    def serve() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        server = httpserver.HTTPServer(web.Application(routes))
        server.add_sockets([sock])
        loops.append(ioloop.IOLoop.current())
        started.set()
        loops[0].start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loops[0].add_callback(loops[0].stop)
        thread.join(10)
        sock.close()

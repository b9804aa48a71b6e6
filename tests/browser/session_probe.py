"""Measuring a served app from outside: its process's usage (/proc), and sessions opened the cheap way.

``open_session`` does what a browser does, without rendering: the page request (the server
builds the session's page), the websocket, the document pull and the ``document_ready`` event
(the page's on-load work starts), then it leaves, politely or by dropping the connection as a
lost network does. Bokeh's Python client cannot stand in: it must rebuild every model class
in this process, and the app's own (Panel's ReactiveHTML) are only defined in the server.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests
from bokeh.document import Document
from bokeh.document.events import MessageSentEvent
from bokeh.events import DocumentReady
from bokeh.protocol import Protocol
from tornado.websocket import websocket_connect

from tests.browser.conftest import SIGNED_IN

__all__ = ["Usage", "usage", "server_pid", "open_session", "SessionRefused"]


class SessionRefused(AssertionError):
    """The server did not build or serve the session's page."""


@dataclass(frozen=True)
class Usage:
    """What a process holds: OS threads, open file descriptors, child processes, resident memory, temp
    entries."""

    threads: int
    files: int
    children: int
    rss_mb: float
    temp_entries: int
    open_paths: tuple[str, ...] = field(default=(), compare=False)
    """What each open descriptor points at (a path, ``socket:[…]``, ``pipe:[…]``), to name what was kept."""

    def within(
        self,
        baseline: Usage,
        fraction: float = 0.10,
        measures: tuple[str, ...] = ("threads", "files", "children", "rss_mb", "temp_entries"),
    ) -> list[str]:
        """The ``measures`` above ``baseline`` by more than ``fraction`` (a count of 0 or 1 allows no
        growth)."""
        over = []
        for name in measures:
            now, base = getattr(self, name), getattr(baseline, name)
            if now > base * (1 + fraction) and now > base:
                over.append(f"{name} {now:g} > {base:g} + {fraction:.0%}")
        return over

    def __str__(self) -> str:
        return (
            f"{self.threads} threads, {self.files} open files, {self.children} child processes, "
            f"{self.rss_mb:.0f} MB resident, {self.temp_entries} temporary entries"
        )

    def opened_since(self, baseline: Usage) -> list[str]:
        """The kinds of descriptor held now beyond those held at ``baseline`` (sockets and pipes by kind)."""
        kinds = lambda paths: Counter(re.sub(r":\[\d+\]$", "", path) for path in paths)  # noqa: E731
        return sorted((kinds(self.open_paths) - kinds(baseline.open_paths)).elements())


def _open_paths(pid: int) -> tuple[str, ...]:
    paths = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            paths.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except FileNotFoundError:  # closed while listed
            continue
    return tuple(paths)


def usage(pid: int, temp_dir: Path) -> Usage:
    status = Path(f"/proc/{pid}/status").read_text()
    open_paths = _open_paths(pid)
    return Usage(
        threads=int(re.search(r"^Threads:\s+(\d+)", status, re.MULTILINE).group(1)),
        files=len(open_paths),
        open_paths=open_paths,
        children=len(psutil.Process(pid).children(recursive=True)),
        rss_mb=int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE).group(1)) / 1024,
        temp_entries=sum(1 for _ in temp_dir.iterdir()),
    )


def server_pid(port: int) -> int:
    """The ``run.py`` process this test process started to serve ``port``."""
    for child in psutil.Process().children():
        command = child.cmdline()
        if "run.py" in " ".join(command) and str(port) in command:
            return child.pid
    raise LookupError(f"no run.py child serves port {port}")


async def open_session(url: str, page: str, stay_s: float = 1.0, drop: bool = False) -> int:
    """One session of ``page``, kept ``stay_s`` seconds; returns the size of the page's document (bytes).

    ``drop``: the connection is cut without a closing handshake (the network went away).
    """
    answer = await asyncio.to_thread(requests.get, url, params={"page": page}, headers=SIGNED_IN, timeout=120)
    found = re.search(r'"token":\s*"([^"]+)"', answer.text)
    if answer.status_code != 200 or found is None:
        raise SessionRefused(f"{page}: {answer.status_code} without a session token")
    connection = await websocket_connect(
        url.replace("http", "ws", 1) + "ws", subprotocols=["bokeh", found.group(1)]
    )
    try:
        protocol = Protocol()
        for _ in range(3):  # ACK: header, metadata, content
            await connection.read_message()
        await _send(connection, protocol.create("PULL-DOC-REQ"))
        header = json.loads(await connection.read_message())
        await connection.read_message()
        content = await connection.read_message()
        if header.get("msgtype") != "PULL-DOC-REPLY" or "could not be built" in content:
            raise SessionRefused(f"{page}: {header.get('msgtype')} {content[:300]}")
        await _send(
            connection,
            protocol.create("PATCH-DOC", [MessageSentEvent(Document(), "bokeh_event", DocumentReady())]),
        )
        loop = asyncio.get_running_loop()
        end = loop.time() + stay_s
        while loop.time() < end:  # take what the server sends, as a browser would
            try:
                if await asyncio.wait_for(connection.read_message(), timeout=end - loop.time()) is None:
                    break
            except TimeoutError:
                break
        return len(content)
    finally:
        if drop:
            connection.protocol.stream.close()  # no close frame: the server learns from the socket
        else:
            connection.close()


async def _send(connection, message) -> None:
    """A Bokeh protocol message as its frames (the two sent here carry no binary buffers)."""
    await connection.write_message(message.header_json)
    await connection.write_message(message.metadata_json)
    await connection.write_message(message.content_json)

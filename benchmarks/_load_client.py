"""A simulated browser tab for the load benchmark: Bokeh's websocket protocol spoken with plain JSON.

Why not ``bokeh.client.pull_session`` or Playwright: on a 2-core machine the clients share the CPU
with the server they measure. Chromium costs about a core per few tabs; Bokeh's client
deserializes every model into a Python ``Document`` (one blocking IOLoop per session). This
client does what a tab does on the wire and no more: ``GET`` the page (the server builds the
session then), open ``/ws`` with the session token the page carries, pull the document, send
``document_ready`` (what BokehJS sends once the page is on screen, which runs Panel's
``onload`` callbacks), then send model changes and events (``PATCH-DOC``) and read the
server's patches. Models are kept as their JSON (``{"type": "object", "name", "id",
"attributes"}``), indexed by id and updated by every patch, so a step can find "the button
labelled Accept" or "the table whose rows name /units" the way a person finds them on screen.

A *click* is timed from the moment its ``PATCH-DOC`` is written to the socket until the
server's patch that completes what the person waits for (a step's ``expect`` predicate over the
document after that patch, e.g. "a plot with data inside the zoomed window") has been read
and applied. Many users run as coroutines of one event loop in one process.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from bokeh.protocol import Protocol
from bokeh.protocol.receiver import Receiver
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

__all__ = ["Tab", "TabError", "Model", "column"]

Model = dict[str, Any]
_TOKEN = re.compile(r'"token":"([^"]+)"')
_DANGER = "alert-danger"


class TabError(RuntimeError):
    """The page failed the way a person would notice: no answer in time, an error shown, a lost connection."""


def _walk(value: Any) -> Iterator[Model]:
    """Every model definition (``{"type": "object", "id": ...}``) inside a JSON value."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("type") == "object" and "id" in item:
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def column(value: Any, buffers: dict[str, bytes]) -> list | np.ndarray:
    """A ColumnDataSource column as sent: a list, or an ``ndarray`` (base64 bytes or a binary buffer)."""
    if isinstance(value, dict) and value.get("type") == "ndarray":
        array = value["array"]
        if not isinstance(array, dict):
            return list(array)  # object (string) columns travel as lists
        data = array.get("data", array)
        raw = buffers[data["id"]] if isinstance(data, dict) else base64.b64decode(data)
        return np.frombuffer(raw, dtype=value["dtype"]).reshape(value.get("shape") or (-1,))
    if isinstance(value, list):  # a column of arrays (MultiLine, Patches): decode each
        return [column(item, buffers) if isinstance(item, dict) else item for item in value]
    return []


class Tab:
    """One browser tab on one session: ``open``, then ``act`` (timed clicks) and ``find``; ``close``."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self._base_url = base_url.rstrip("/") + "/"
        self._headers = headers
        self._ws: WebSocketClientConnection | None = None
        self._reader: asyncio.Task | None = None
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future]] = []
        self.models: dict[str, Model] = {}
        self.data: dict[str, dict[str, Any]] = {}  # ColumnDataSource id -> decoded columns
        self.touched: set[str] = set()  # models the server defined or changed since the last action was sent
        self.errors_shown: list[str] = []
        self.closed_because = ""
        self.opened = False  # the document arrived: its tabs can be clicked
        self.received_bytes = 0  # everything the server sent on the websocket (the document, then patches)

    # --- the page -------------------------------------------------------------------------------
    async def open(self, query: str, expect: Callable[[], bool], timeout_s: float) -> float:
        """Load the page as a browser does and wait until ``expect()`` holds; returns seconds taken."""
        started = time.perf_counter()
        page = await AsyncHTTPClient().fetch(
            HTTPRequest(self._base_url + query, headers=self._headers, request_timeout=timeout_s),
            raise_error=False,
        )
        if page.code != 200:
            raise TabError(f"GET {query} answered {page.code}")
        token = _TOKEN.search(page.body.decode())
        if token is None:
            raise TabError(f"GET {query}: no session token in the page")
        ws_url = self._base_url.replace("http", "ws", 1) + "ws"
        self._ws = await websocket_connect(
            HTTPRequest(ws_url, headers=self._headers, request_timeout=timeout_s),
            subprotocols=["bokeh", token.group(1)],
            max_message_size=256 * 2**20,
        )
        self._receiver = Receiver(Protocol())
        ack = await asyncio.wait_for(self._receive(), timeout_s)
        if ack is None or ack.header["msgtype"] != "ACK":
            raise TabError("the websocket did not acknowledge the session")
        self._send("PULL-DOC-REQ", {})
        reply = await asyncio.wait_for(self._receive(), timeout_s)
        if reply is None or reply.header["msgtype"] != "PULL-DOC-REPLY":
            raise TabError("the server did not send the document")
        self._absorb(reply.content["doc"], reply)
        self.opened = True
        self._reader = asyncio.ensure_future(self._read())
        ready = {
            "kind": "MessageSent",
            "msg_type": "bokeh_event",
            "msg_data": {"type": "event", "name": "document_ready", "values": {"type": "map", "entries": []}},
        }
        await self._wait_after([ready], expect, timeout_s)
        return time.perf_counter() - started

    async def act(self, events: list[dict[str, Any]], expect: Callable[[], bool], timeout_s: float) -> float:
        """Send one user action (``events``) and wait until ``expect()`` holds; returns seconds taken."""
        started = time.perf_counter()
        await self._wait_after(events, expect, timeout_s)
        return time.perf_counter() - started

    async def close(self) -> None:
        if self._ws is not None:
            self._ws.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 10)
            except Exception:  # the server did not close in time, or the connection broke: stop reading
                self._reader.cancel()

    # --- what is on screen ----------------------------------------------------------------------
    def find(self, name: str, fresh: bool = False, **attributes: Any) -> list[Model]:
        """Models whose type name ends with ``name`` and whose attributes equal ``attributes``; ``fresh``:
        only
        those the server defined or changed since the last action (its answer to it)."""
        models = (self.models[i] for i in self.touched) if fresh else self.models.values()
        return [
            m
            for m in models
            if m["name"].endswith(name)
            and all(m.get("attributes", {}).get(k) == v for k, v in attributes.items())
        ]

    def attr(self, model: Model | str, name: str, default: Any = None) -> Any:
        model = self.models.get(model) if isinstance(model, str) else model
        return (model or {}).get("attributes", {}).get(name, default)

    def ref(self, value: Any) -> Model | None:
        """The model an attribute refers to (``{"id": ...}``)."""
        return self.models.get(value["id"]) if isinstance(value, dict) and "id" in value else None

    def texts(self, fresh: bool = False) -> Iterator[str]:
        """Texts (HTML, Markdown, JSON panes: their ``text`` attribute); ``fresh`` as for ``find``."""
        for model in (self.models[i] for i in self.touched) if fresh else self.models.values():
            text = model.get("attributes", {}).get("text")
            if isinstance(text, str):
                yield text

    # --- events a person makes ------------------------------------------------------------------
    @staticmethod
    def change(model: Model, **values: Any) -> list[dict[str, Any]]:
        return [
            {"kind": "ModelChanged", "model": {"id": model["id"]}, "attr": name, "new": new}
            for name, new in values.items()
        ]

    @staticmethod
    def event(name: str, model: Model, **values: Any) -> list[dict[str, Any]]:
        """A Bokeh model event (``button_click``, Tabulator's ``cell-click``, ...) as BokehJS sends it."""
        entries = [["model", {"id": model["id"]}], *[[k, v] for k, v in values.items()]]
        return [
            {
                "kind": "MessageSent",
                "msg_type": "bokeh_event",
                "msg_data": {"type": "event", "name": name, "values": {"type": "map", "entries": entries}},
            }
        ]

    # --- the wire -------------------------------------------------------------------------------
    def _send(self, msgtype: str, content: dict[str, Any]) -> None:
        if self._ws is None or self._ws.protocol is None:
            raise TabError(f"the connection is gone ({self.closed_because or 'closed'})")
        self._ws.write_message(json.dumps({"msgid": uuid.uuid4().hex, "msgtype": msgtype}))
        self._ws.write_message("{}")
        self._ws.write_message(json.dumps(content))

    async def _receive(self):
        while True:
            fragment = await self._ws.read_message()
            if fragment is None:
                return None
            self.received_bytes += len(fragment)
            message = await self._receiver.consume(fragment)
            if message is not None:
                return message

    async def _wait_after(
        self, events: list[dict[str, Any]], expect: Callable[[], bool], timeout_s: float
    ) -> None:
        shown = len(self.errors_shown)
        future = asyncio.get_running_loop().create_future()
        self._waiters.append((expect, future))
        self.touched = set()
        try:
            self._send("PATCH-DOC", {"events": events})
            await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            raise TabError(f"no answer within {timeout_s:.0f} s") from None
        finally:
            self._waiters = [(e, f) for e, f in self._waiters if f is not future]
        if len(self.errors_shown) > shown:
            raise TabError(f"the page showed an error: {self.errors_shown[-1][:300]}")

    async def _read(self) -> None:
        try:
            while True:
                message = await self._receive()
                if message is None:
                    self.closed_because = f"closed by the server ({self._ws.close_code})"
                    break
                if message.header["msgtype"] == "PATCH-DOC":
                    self._absorb(message.content, message)
                elif message.header["msgtype"] == "ERROR":
                    self.errors_shown.append(f"protocol error: {message.content}")
                self._settle()
        except Exception as exc:  # a broken connection: whoever waits hears of it
            self.closed_because = f"{type(exc).__name__}: {exc}"
        for _expect, future in self._waiters:
            if not future.done():
                future.set_exception(TabError(f"the connection is gone ({self.closed_because})"))

    def _settle(self) -> None:
        for expect, future in list(self._waiters):
            if not future.done():
                try:
                    if expect():
                        future.set_result(None)
                except Exception as exc:  # a predicate that cannot read the page: the page is not as expected
                    future.set_exception(TabError(f"unexpected page: {type(exc).__name__}: {exc}"))

    def _absorb(self, content: dict[str, Any], message) -> None:
        """Apply a document or a patch to the model index."""
        buffers = {buffer.id: bytes(buffer.data) for buffer in getattr(message, "buffers", [])}
        for model in _walk(content):
            known = self.models.get(model["id"])
            if known is None or "attributes" in model:
                self.models[model["id"]] = model
                self.touched.add(model["id"])
                self._note_errors(model)
                source_data = model.get("attributes", {}).get("data")
                if model["name"] == "ColumnDataSource" and isinstance(source_data, dict):
                    self.data[model["id"]] = self._columns(source_data, buffers)
        for event in content.get("events", []):
            target = self.models.get(event.get("model", {}).get("id", ""))
            if target is None:
                continue
            self.touched.add(target["id"])
            if event["kind"] == "ModelChanged":
                target.setdefault("attributes", {})[event["attr"]] = event["new"]
                if event["attr"] == "data" and target["name"] == "ColumnDataSource":
                    self.data[target["id"]] = self._columns(event["new"], buffers)
                if event["attr"] in ("text", "css_classes"):
                    self._note_errors(target)
            elif event["kind"] == "ColumnDataChanged":
                columns = self._columns(event["data"], buffers)
                self.data.setdefault(target["id"], {}).update(columns)

    @staticmethod
    def _columns(data: Any, buffers: dict[str, bytes]) -> dict[str, Any]:
        if isinstance(data, dict) and data.get("type") == "map":
            entries = data.get("entries", [])
        elif isinstance(data, dict):
            entries = list(data.items())
        else:
            return {}
        return {name: column(value, buffers) for name, value in entries}

    def _note_errors(self, model: Model) -> None:
        attributes = model.get("attributes", {})
        if (
            _DANGER in (attributes.get("css_classes") or [])
            or _DANGER in str(attributes.get("text", ""))[:400]
        ):
            self.errors_shown.append(str(attributes.get("text") or attributes.get("object") or model["name"]))

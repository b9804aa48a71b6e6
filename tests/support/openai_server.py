"""A real OpenAI-compatible HTTP server on 127.0.0.1 that answers with scripted replies.

Tests point the ``openai`` client at ``server.base_url`` and script what the "model" says:
plain text, tool calls, errors (429 with Retry-After, 5xx, 401), latency, malformed bodies,
or no answer at all. Streaming (``"stream": true``) is answered with server-sent events in
the same chunk shapes OpenAI sends. Every request body is kept in ``server.requests`` so a
test can check what the client sent (messages, images, tools).

    with ScriptedOpenAIServer() as server:
        server.queue(ScriptedReply(tool_calls=[ToolCall("set_view", {"zoom": 2})]), ScriptedReply("Done."))
        client = openai.OpenAI(base_url=server.base_url, api_key="test")

A ``responder(request_json) -> ScriptedReply`` answers instead of the queue (for concurrent
clients whose order is not known in advance).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ScriptedOpenAIServer", "ScriptedReply", "ToolCall"]


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    """A dict is sent as JSON; a string is sent as written (malformed arguments)."""
    id: str = ""

    def arguments_text(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


@dataclass
class ScriptedReply:
    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    status: int = 200
    error_message: str = "scripted error"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    raw_body: bytes | None = None
    hang: bool = False
    """Never answer (until the server stops): for client timeouts."""
    usage: dict[str, int] = field(
        default_factory=lambda: {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    )


class ScriptedOpenAIServer:
    """See the module docstring. ``latency_s`` is added before every answer, ``stream_chunk_delay_s`` after
    every streamed chunk."""

    def __init__(
        self,
        replies: Iterable[ScriptedReply] = (),
        responder: Callable[[dict], ScriptedReply] | None = None,
        latency_s: float = 0.0,
        model: str = "scripted-model",
        stream_chunk_delay_s: float = 0.0,
    ) -> None:
        self._replies: deque[ScriptedReply] = deque(replies)
        self.responder = responder
        self.latency_s = latency_s
        self.stream_chunk_delay_s = stream_chunk_delay_s
        """Pause after each streamed chunk (to see text arrive over time, or to cancel mid-stream)."""
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.request_headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._in_flight = 0
        self.max_concurrent = 0
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- scripting -----------------------------------------------------------------------------
    def queue(self, *replies: ScriptedReply | str) -> None:
        with self._lock:
            self._replies.extend(ScriptedReply(r) if isinstance(r, str) else r for r in replies)

    def _next_reply(self, body: dict) -> ScriptedReply:
        if self.responder is not None:
            return self.responder(body)
        with self._lock:
            if self._replies:
                return self._replies.popleft()
        return ScriptedReply(
            status=500, error_message="the scripted server has no reply left for this request"
        )

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "start the server first (use it as a context manager)"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    # --- life ----------------------------------------------------------------------------------
    def start(self) -> ScriptedOpenAIServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall

            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._json(
                        200,
                        {
                            "object": "list",
                            "data": [{"id": server.model, "object": "model", "owned_by": "tests"}],
                        },
                    )
                else:
                    self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self._json(
                        400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}}
                    )
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._json(
                        404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}}
                    )
                    return
                with server._lock:
                    server.requests.append(body)
                    server.request_headers.append({k.lower(): v for k, v in self.headers.items()})
                    server._in_flight += 1
                    server.max_concurrent = max(server.max_concurrent, server._in_flight)
                try:
                    self._answer(body)
                finally:
                    with server._lock:
                        server._in_flight -= 1

            def _answer(self, body: dict) -> None:
                reply = server._next_reply(body)
                if server.latency_s or reply.delay_s:
                    if server._stopping.wait(server.latency_s + reply.delay_s):
                        return
                if reply.hang:
                    server._stopping.wait()
                    return
                if reply.raw_body is not None:
                    self._send(reply.status, reply.raw_body, "application/json", reply.headers)
                elif reply.status != 200:
                    kind = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(
                        reply.status, "server_error"
                    )
                    self._json(
                        reply.status,
                        {"error": {"message": reply.error_message, "type": kind, "code": kind}},
                        reply.headers,
                    )
                elif body.get("stream"):
                    self._stream(body, reply)
                else:
                    self._json(200, _completion(body, reply, server.model), reply.headers)

            def _stream(self, body: dict, reply: ScriptedReply) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                try:
                    for chunk in _chunks(body, reply, server.model):
                        self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                        self.wfile.flush()
                        if server.stream_chunk_delay_s and server._stopping.wait(server.stream_chunk_delay_s):
                            return
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading (a cancelled stream)

            def _json(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
                self._send(status, json.dumps(payload).encode(), "application/json", headers or {})

            def _send(self, status: int, data: bytes, content_type: str, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="scripted-openai",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> ScriptedOpenAIServer:
        return self.start()

    def __exit__(self, *_exc: Any) -> None:
        self.stop()


def _tool_call_payload(index: int, call: ToolCall) -> dict[str, Any]:
    return {
        "index": index,
        "id": call.id or f"call_{uuid.uuid4().hex[:12]}",
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments_text()},
    }


def _completion(body: dict, reply: ScriptedReply, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = [
            {k: v for k, v in _tool_call_payload(i, c).items() if k != "index"}
            for i, c in enumerate(reply.tool_calls)
        ]
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model") or model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if reply.tool_calls else "stop"}
        ],
        "usage": reply.usage,
    }


def _chunks(body: dict, reply: ScriptedReply, model: str) -> Iterable[dict[str, Any]]:
    base = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model") or model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    yield chunk({"role": "assistant", "content": ""})
    text = reply.content or ""
    for start in range(0, len(text), 8):
        yield chunk({"content": text[start : start + 8]})
    for index, call in enumerate(reply.tool_calls):
        head = _tool_call_payload(index, call)
        arguments = head["function"]["arguments"]
        head["function"]["arguments"] = ""
        yield chunk({"tool_calls": [head]})
        for start in range(0, len(arguments), 10):
            yield chunk(
                {"tool_calls": [{"index": index, "function": {"arguments": arguments[start : start + 10]}}]}
            )
    final = chunk({}, "tool_calls" if reply.tool_calls else "stop")
    if (body.get("stream_options") or {}).get("include_usage"):
        yield final
        yield {**base, "choices": [], "usage": reply.usage}
    else:
        yield final

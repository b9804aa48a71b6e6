"""Messages with images, and one call "prompt + images -> text or JSON" for vision judges (sync and async).

Images are sent inline as data URLs (PNG/JPEG bytes, a file path, a uint8 NumPy array) or
by URL. A JSON answer is parsed with ``json.loads`` only (never evaluated), or by the caller's
own reader; a reply that cannot be read gets one follow-up asking for JSON only, then
``LlmBadResponse``.
"""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engines.agent._retry import parse_json_text
from engines.agent.base import ChatModel, Message
from engines.agent.breaker import CircuitBreaker
from engines.agent.errors import LlmBadResponse
from engines.agent.events import Retrying
from engines.agent.replies import ModelReply, TokenUsage

__all__ = [
    "ImageAnswer",
    "ImageInput",
    "Reader",
    "ask_about_images",
    "ask_about_images_async",
    "image_part",
    "user_message",
]

ImageInput = bytes | Path | str | Any
"""PNG/JPEG bytes, a local file path, an ``http(s)://`` or ``data:`` URL, or a uint8 array (H x W [x 3|4])."""

_JSON_AGAIN = "Your reply was not valid JSON. Reply again with only the JSON object, nothing else."


@dataclass(frozen=True)
class ImageAnswer:
    """A vision reply: its text, what was read from it (JSON or the caller's reader; None when not asked), and
    the tokens it cost (this call's own, follow-up included)."""

    text: str
    data: Any
    usage: TokenUsage


def image_part(image: ImageInput, detail: str = "auto") -> dict[str, Any]:
    """One ``image_url`` content part. Cost: arrays are PNG-encoded in memory (a few ms for 512 x 512)."""
    if isinstance(image, str) and image.startswith(("http://", "https://", "data:")):
        url = image
    else:
        data = _image_bytes(image)
        url = f"data:{_mime_type(data)};base64,{base64.b64encode(data).decode('ascii')}"
    return {"type": "image_url", "image_url": {"url": url, "detail": detail}}


def user_message(text: str, images: Sequence[ImageInput] = (), detail: str = "auto") -> Message:
    """A user message with text and, if given, images after it."""
    if not images:
        return {"role": "user", "content": text}
    return {
        "role": "user",
        "content": [{"type": "text", "text": text}, *(image_part(i, detail) for i in images)],
    }


def _image_bytes(image: ImageInput) -> bytes:
    if isinstance(image, (bytes, bytearray)):
        return bytes(image)
    if isinstance(image, (str, Path)):
        return Path(image).read_bytes()
    return _encode_png(image)


def _encode_png(array: Any) -> bytes:
    import numpy as np
    from PIL import Image

    pixels = np.asarray(array)
    if pixels.dtype != np.uint8:
        raise ValueError(f"an image array must be uint8 (got {pixels.dtype}); scale it to 0-255 first")
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _mime_type(data: bytes) -> str:
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/png"


def _messages(
    prompt: str, images: Sequence[ImageInput], system: str | None, detail: str, history: Sequence[Message]
) -> list[Message]:
    head: list[Message] = [{"role": "system", "content": system}] if system else []
    return [*head, *history, user_message(prompt, images, detail)]


Reader = Callable[[str], Any]
"""Turns a reply's text into the caller's value; raises ``ValueError`` (saying what is wrong) when it
cannot."""


def _read(read: Reader, text: str) -> tuple[Any, str | None]:
    """(value, None), or (None, what was wrong)."""
    try:
        return read(text), None
    except ValueError as exc:
        return None, str(exc) or type(exc).__name__


def _asking(
    messages: list[Message], read: Reader | None, custom: bool
) -> Generator[list[Message], ModelReply, ImageAnswer]:
    """The exchange as steps: yields each request's messages, receives its reply, returns the answer.

    Shared by the blocking and the async call, which differ only in how a request is sent.
    """
    usage = TokenUsage()
    reply = yield messages
    usage.add(reply.usage)
    if read is None:
        return ImageAnswer(reply.text, None, usage)
    data, problem = _read(read, reply.text)
    if problem is not None:
        again = (
            _JSON_AGAIN
            if not custom
            else (
                f"Your reply was not the JSON object asked for ({problem}). "
                "Reply again with only the JSON object, nothing else."
            )
        )
        reply = yield [
            *messages,
            {"role": "assistant", "content": reply.text},
            {"role": "user", "content": again},
        ]
        usage.add(reply.usage)
        data, problem = _read(read, reply.text)
    if problem is None:
        return ImageAnswer(reply.text, data, usage)
    if custom:
        raise LlmBadResponse(
            f"The model's answer could not be read even when asked again ({problem}); its last "
            f"reply began: {reply.text[:300]!r}. Use a model that follows JSON instructions."
        )
    raise LlmBadResponse(
        f"The vision model did not answer with JSON, even when asked again: {reply.text[:200]!r}. "
        "Use a model that follows JSON instructions, or turn on json_mode."
    )


def _reader(want_json: bool, parse: Reader | None) -> Reader | None:
    return parse if parse is not None else (parse_json_text if want_json else None)


def ask_about_images(
    model: ChatModel,
    prompt: str,
    images: Sequence[ImageInput],
    *,
    system: str | None = None,
    want_json: bool = False,
    json_mode: bool = False,
    detail: str = "auto",
    on_retry: Callable[[Retrying], None] | None = None,
    history: Sequence[Message] = (),
    parse: Reader | None = None,
    model_name: str | None = None,
    max_tokens: int | None = None,
) -> ImageAnswer:
    """Ask ``model.config.model_for_images`` (or ``model_name``) about images. One request (two if the
    answer had to be asked for again).

    ``images`` may be empty (a text question). ``history`` goes between the system message and
    the question (few-shot examples, earlier turns). ``want_json`` parses the reply as JSON;
    ``parse`` reads it your way instead (raise ``ValueError`` to have the model asked once more,
    told what was wrong); ``answer.data`` holds the result. ``json_mode`` also asks the server
    for JSON output (OpenAI and vLLM support it; some local servers do not). Retries and
    timeouts follow the model's ``LlmConfig``; raises typed ``LlmEndpointError``s.
    """
    steps = _asking(
        _messages(prompt, images, system, detail, history), _reader(want_json, parse), parse is not None
    )
    name = model_name or model.config.model_for_images
    messages = next(steps)
    while True:
        reply = model.complete(
            messages, model=name, json_mode=json_mode, on_event=_retry_hook(on_retry), max_tokens=max_tokens
        )
        try:
            messages = steps.send(reply)
        except StopIteration as done:
            return done.value


async def ask_about_images_async(
    model: ChatModel,
    prompt: str,
    images: Sequence[ImageInput],
    *,
    system: str | None = None,
    want_json: bool = False,
    json_mode: bool = False,
    detail: str = "auto",
    on_retry: Callable[[Retrying], None] | None = None,
    history: Sequence[Message] = (),
    parse: Reader | None = None,
    model_name: str | None = None,
    max_tokens: int | None = None,
    limit: asyncio.Semaphore | None = None,
    breaker: CircuitBreaker | None = None,
) -> ImageAnswer:
    """``ask_about_images`` as a coroutine: ``asyncio.gather`` many of them to judge images concurrently.

    ``limit`` and ``breaker``, shared by the calls of one run, cap the requests in flight and
    stop every call once the endpoint is known to be down (see ``ChatModel.complete_async``).
    """
    steps = _asking(
        _messages(prompt, images, system, detail, history), _reader(want_json, parse), parse is not None
    )
    name = model_name or model.config.model_for_images
    messages = next(steps)
    while True:
        reply = await model.complete_async(
            messages,
            model=name,
            json_mode=json_mode,
            on_retry=on_retry,
            max_tokens=max_tokens,
            limit=limit,
            breaker=breaker,
        )
        try:
            messages = steps.send(reply)
        except StopIteration as done:
            return done.value


def _retry_hook(on_retry: Callable[[Retrying], None] | None) -> Callable[[Any], None] | None:
    if on_retry is None:
        return None
    return lambda event: on_retry(event) if isinstance(event, Retrying) else None

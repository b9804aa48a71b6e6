"""Messages with images, and one call "prompt + images -> text or JSON" for vision judges (sync and async).

Images are sent inline as data URLs (PNG/JPEG bytes, a file path, a uint8 NumPy array) or
by URL. A JSON answer is parsed with ``json.loads`` only (never evaluated); a reply that is
not JSON gets one follow-up asking for JSON only, then ``LlmBadResponse``.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engines.agent._retry import parse_json_text
from engines.agent.base import ChatModel, Message
from engines.agent.errors import LlmBadResponse
from engines.agent.events import Retrying
from engines.agent.replies import TokenUsage

__all__ = ["ImageAnswer", "ImageInput", "ask_about_images", "ask_about_images_async", "image_part", "user_message"]

ImageInput = bytes | Path | str | Any
"""PNG/JPEG bytes, a local file path, an ``http(s)://`` or ``data:`` URL, or a uint8 array (H x W [x 3|4])."""

_JSON_AGAIN = "Your reply was not valid JSON. Reply again with only the JSON object, nothing else."


@dataclass(frozen=True)
class ImageAnswer:
    """A vision reply: its text, the parsed JSON (when asked for), and the tokens it cost."""

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
    return {"role": "user", "content": [{"type": "text", "text": text}, *(image_part(i, detail) for i in images)]}


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


def _messages(prompt: str, images: Sequence[ImageInput], system: str | None, detail: str) -> list[Message]:
    head: list[Message] = [{"role": "system", "content": system}] if system else []
    return [*head, user_message(prompt, images, detail)]


_NOT_JSON = object()


def _parsed(text: str) -> Any:
    try:
        return parse_json_text(text)
    except ValueError:
        return _NOT_JSON


def ask_about_images(model: ChatModel, prompt: str, images: Sequence[ImageInput], *, system: str | None = None,
                     want_json: bool = False, json_mode: bool = False, detail: str = "auto",
                     on_retry: Callable[[Retrying], None] | None = None) -> ImageAnswer:
    """Ask ``model.config.model_for_images`` about images. One request (two if JSON had to be asked again).

    ``want_json`` parses the reply as JSON; ``json_mode`` also asks the server for JSON output
    (OpenAI and vLLM support it; some local servers do not). Retries and timeouts follow the
    model's ``LlmConfig``; raises typed ``LlmEndpointError``s.
    """
    messages = _messages(prompt, images, system, detail)
    usage = TokenUsage()
    vision = model.config.model_for_images
    reply = model.complete(messages, model=vision, json_mode=json_mode, on_event=_retry_hook(on_retry))
    usage.add(reply.usage)
    if not want_json:
        return ImageAnswer(reply.text, None, usage)
    data = _parsed(reply.text)
    if data is _NOT_JSON:
        again = [*messages, {"role": "assistant", "content": reply.text}, {"role": "user", "content": _JSON_AGAIN}]
        reply = model.complete(again, model=vision, json_mode=json_mode, on_event=_retry_hook(on_retry))
        usage.add(reply.usage)
        data = _parsed(reply.text)
    return _answer(reply.text, data, usage)


async def ask_about_images_async(model: ChatModel, prompt: str, images: Sequence[ImageInput], *,
                                 system: str | None = None, want_json: bool = False, json_mode: bool = False,
                                 detail: str = "auto",
                                 on_retry: Callable[[Retrying], None] | None = None) -> ImageAnswer:
    """``ask_about_images`` as a coroutine: ``asyncio.gather`` many of them to judge images concurrently."""
    messages = _messages(prompt, images, system, detail)
    usage = TokenUsage()
    vision = model.config.model_for_images
    reply = await model.complete_async(messages, model=vision, json_mode=json_mode, on_retry=on_retry)
    usage.add(reply.usage)
    if not want_json:
        return ImageAnswer(reply.text, None, usage)
    data = _parsed(reply.text)
    if data is _NOT_JSON:
        again = [*messages, {"role": "assistant", "content": reply.text}, {"role": "user", "content": _JSON_AGAIN}]
        reply = await model.complete_async(again, model=vision, json_mode=json_mode, on_retry=on_retry)
        usage.add(reply.usage)
        data = _parsed(reply.text)
    return _answer(reply.text, data, usage)


def _answer(text: str, data: Any, usage: TokenUsage) -> ImageAnswer:
    if data is _NOT_JSON:
        raise LlmBadResponse(f"The vision model did not answer with JSON, even when asked again: {text[:200]!r}. "
                             "Use a model that follows JSON instructions, or turn on json_mode.")
    return ImageAnswer(text, data, usage)


def _retry_hook(on_retry: Callable[[Retrying], None] | None) -> Callable[[Any], None] | None:
    if on_retry is None:
        return None
    return lambda event: on_retry(event) if isinstance(event, Retrying) else None

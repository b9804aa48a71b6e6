"""Vision calls: images in messages, text or JSON replies, retries, usage, and many concurrent async calls."""

from __future__ import annotations

import asyncio
import base64
import io
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from engines.agent import (
    LlmBadResponse,
    LlmConfig,
    OpenAICompatibleModel,
    Retrying,
    ask_about_images,
    ask_about_images_async,
    image_part,
    user_message,
)
from tests.support.openai_server import ScriptedOpenAIServer, ScriptedReply


def decoded(part: dict) -> np.ndarray:
    url = part["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


def test_an_array_image_reaches_the_vision_model_intact(server: ScriptedOpenAIServer, llm: LlmConfig):
    image = (np.arange(32 * 48, dtype=np.uint16).reshape(32, 48) % 256).astype(np.uint8)
    server.queue("A gradient.")
    model = OpenAICompatibleModel(replace(llm, vision_model="scripted-vision"))
    answer = ask_about_images(model, "What is this?", [image], system="You judge images.")
    assert answer.text == "A gradient." and answer.data is None and answer.usage.total_tokens == 15
    body = server.requests[0]
    assert body["model"] == "scripted-vision"
    system, user = body["messages"]
    assert system == {"role": "system", "content": "You judge images."}
    assert user["content"][0] == {"type": "text", "text": "What is this?"}
    np.testing.assert_array_equal(decoded(user["content"][1]), image)


def test_png_bytes_files_and_urls_are_accepted(tmp_path):
    png = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(png, format="PNG")
    path = tmp_path / "a.jpg"
    Image.new("RGB", (4, 4), "blue").save(path, format="JPEG")
    assert image_part(png.getvalue())["image_url"]["url"].startswith("data:image/png;base64,")
    assert image_part(path)["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert image_part("https://example.org/a.png", detail="low") == {
        "type": "image_url",
        "image_url": {"url": "https://example.org/a.png", "detail": "low"},
    }
    assert user_message("plain") == {"role": "user", "content": "plain"}
    with pytest.raises(ValueError, match="must be uint8"):
        image_part(np.zeros((2, 2), dtype=np.float32))


def test_a_json_answer_is_parsed_from_a_fenced_reply(server, llm):
    server.queue('```json\n{"merge": true, "confidence": 0.8}\n```')
    answer = ask_about_images(
        OpenAICompatibleModel(llm), "Merge?", [np.zeros((4, 4), np.uint8)], want_json=True, json_mode=True
    )
    assert answer.data == {"merge": True, "confidence": 0.8}
    assert server.requests[0]["response_format"] == {"type": "json_object"}


def test_a_reply_that_is_not_json_is_asked_again_once(server, llm):
    server.queue("I think they should merge.", '{"merge": true}')
    answer = ask_about_images(
        OpenAICompatibleModel(llm), "Merge?", [np.zeros((4, 4), np.uint8)], want_json=True
    )
    assert answer.data == {"merge": True} and answer.usage.requests == 2
    assert server.requests[1]["messages"][-1]["content"].startswith("Your reply was not valid JSON")


def test_a_model_that_never_answers_json_raises_a_clear_error(server, llm):
    server.queue("maybe", "still maybe")
    with pytest.raises(LlmBadResponse, match="did not answer with JSON, even when asked again"):
        ask_about_images(OpenAICompatibleModel(llm), "Merge?", [np.zeros((4, 4), np.uint8)], want_json=True)


def test_vision_calls_retry_and_count_tokens(server, llm):
    server.queue(ScriptedReply(status=429, headers={"Retry-After": "0"}), ScriptedReply(status=500), "fine")
    model = OpenAICompatibleModel(llm)
    retries: list[Retrying] = []
    answer = ask_about_images(model, "ok?", [np.zeros((4, 4), np.uint8)], on_retry=retries.append)
    assert answer.text == "fine" and [r.attempt for r in retries] == [2, 3]
    assert model.usage.requests == 1 and model.usage.total_tokens == 15


def test_async_calls_run_concurrently_and_each_gets_its_answer(llm):
    def responder(body: dict) -> ScriptedReply:
        text = body["messages"][-1]["content"][0]["text"]
        return ScriptedReply(f'{{"asked": "{text}"}}', delay_s=0.2)

    with ScriptedOpenAIServer(responder=responder) as server:
        model = OpenAICompatibleModel(replace(llm, base_url=server.base_url))

        async def judge_all():
            image = np.zeros((8, 8), np.uint8)
            return await asyncio.gather(
                *(ask_about_images_async(model, f"pair {i}", [image], want_json=True) for i in range(6))
            )

        answers = asyncio.run(judge_all())
    assert [a.data["asked"] for a in answers] == [f"pair {i}" for i in range(6)]
    assert server.max_concurrent >= 3
    assert model.usage.requests == 6


def test_async_calls_retry_too(server, llm):
    server.queue(ScriptedReply(status=503), '{"ok": 1}')
    answer = asyncio.run(
        ask_about_images_async(OpenAICompatibleModel(llm), "x", [np.zeros((2, 2), np.uint8)], want_json=True)
    )
    assert answer.data == {"ok": 1} and len(server.requests) == 2

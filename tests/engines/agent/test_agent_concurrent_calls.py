"""Many async calls sharing one run: a concurrency limit, a circuit breaker, readers of the answer, prices."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from dataclasses import replace

import pytest

from engines.agent import (
    CircuitBreaker,
    LlmAuthError,
    LlmBadResponse,
    LlmConfig,
    LlmEndpointDown,
    ModelPricing,
    OpenAICompatibleModel,
    TokenUsage,
    ask_about_images,
    ask_about_images_async,
)
from tests.support.openai_server import ScriptedOpenAIServer, ScriptedReply

ASK = [{"role": "user", "content": "hello"}]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_shared_limit_caps_requests_in_flight_and_frees_its_slot_while_a_call_waits_to_retry(llm):
    seen: list[str] = []

    def responder(body: dict) -> ScriptedReply:
        text = body["messages"][-1]["content"]
        seen.append(text)
        if text == "a" and seen.count("a") == 1:
            return ScriptedReply(status=429, headers={"Retry-After": "0.3"})
        return ScriptedReply(f"answer {text}", delay_s=0.05)

    with ScriptedOpenAIServer(responder=responder) as server:
        model = OpenAICompatibleModel(replace(llm, base_url=server.base_url))

        async def ask_all():
            limit = asyncio.Semaphore(1)
            return await asyncio.gather(
                *(model.complete_async([{"role": "user", "content": text}], limit=limit) for text in "abc")
            )

        replies = asyncio.run(ask_all())
        peak = server.max_concurrent
    assert [r.text for r in replies] == ["answer a", "answer b", "answer c"]
    assert peak == 1 and seen == ["a", "b", "c", "a"]  # b and c went while a waited out its Retry-After


def test_a_breaker_stops_every_call_once_the_endpoint_cannot_be_reached():
    model = OpenAICompatibleModel(
        LlmConfig(
            model="m",
            base_url=f"http://127.0.0.1:{closed_port()}/v1",
            api_key="k",
            timeout_s=2,
            max_retries=5,
            backoff_s=0.2,
        )
    )
    breaker = CircuitBreaker(threshold=3)

    async def ask_all():
        limit = asyncio.Semaphore(2)
        return await asyncio.gather(
            *(model.complete_async(ASK, limit=limit, breaker=breaker) for _ in range(10)),
            return_exceptions=True,
        )

    started = time.monotonic()
    errors = asyncio.run(ask_all())
    elapsed = time.monotonic() - started
    assert all(isinstance(e, LlmEndpointDown) and str(e) == breaker.open_reason for e in errors)
    assert "cannot be reached (3 connection attempts failed)" in breaker.open_reason
    assert "Nothing answers at" in breaker.open_reason
    assert elapsed < 2.0  # each call's own retries would wait 0.2 + 0.4 + 0.8 + 1.6 + 3.2 s


def test_a_refused_key_stops_the_other_calls_without_sending_them(server, llm):
    server.responder = lambda body: ScriptedReply(status=401, error_message="bad key")
    model = OpenAICompatibleModel(llm)
    breaker = CircuitBreaker()

    async def ask_all():
        limit = asyncio.Semaphore(1)
        return await asyncio.gather(
            *(model.complete_async(ASK, limit=limit, breaker=breaker) for _ in range(6)),
            return_exceptions=True,
        )

    errors = asyncio.run(ask_all())
    assert len(server.requests) == 1
    assert all(isinstance(e, LlmEndpointDown) for e in errors)
    assert "refused the API key (401: bad key)" in str(errors[-1]) and "retrying will not help" in str(
        errors[-1]
    )


def test_after_a_first_answer_the_breaker_leaves_an_outage_to_each_calls_retries(server, llm):
    server.queue("first", ScriptedReply(status=401), ScriptedReply(status=503), "second")
    model = OpenAICompatibleModel(llm)
    breaker = CircuitBreaker(threshold=1)

    async def ask_in_turn():
        first = await model.complete_async(ASK, breaker=breaker)
        with pytest.raises(LlmAuthError, match="refused the API key"):
            await model.complete_async(ASK, breaker=breaker)
        second = await model.complete_async(ASK, breaker=breaker)
        return first.text, second.text

    assert asyncio.run(ask_in_turn()) == ("first", "second")
    assert breaker.open_reason is None and len(server.requests) == 4


def read_decision(text: str) -> str:
    if '"decision"' not in text:
        raise ValueError("no decision field")
    return json.loads(text)["decision"]


def test_a_reader_that_cannot_read_the_answer_has_the_model_asked_once_more_saying_why(server, llm):
    server.queue("merge, I think", '{"decision": "merge"}')
    history = [{"role": "user", "content": "Example: a flat correlogram means not merge."}]
    answer = ask_about_images(
        OpenAICompatibleModel(llm),
        "Merge?",
        (),
        system="You curate units.",
        history=history,
        parse=read_decision,
        model_name="text-model",
        max_tokens=50,
    )
    assert answer.data == "merge" and answer.usage.requests == 2 and answer.usage.total_tokens == 30
    first, second = server.requests
    assert first["model"] == "text-model" and first["max_tokens"] == 50
    assert [m["content"] for m in first["messages"]] == ["You curate units.", history[0]["content"], "Merge?"]
    assert "not the JSON object asked for (no decision field)" in second["messages"][-1]["content"]


def test_an_answer_that_cannot_be_read_twice_raises_with_the_reply(server, llm):
    server.queue("merge, I think", "still merge, probably")
    with pytest.raises(
        LlmBadResponse,
        match=r"could not be read even when asked again \(no decision field\).*"
        "probably",
    ):
        asyncio.run(ask_about_images_async(OpenAICompatibleModel(llm), "Merge?", (), parse=read_decision))
    assert len(server.requests) == 2


def test_one_model_serves_async_calls_from_successive_event_loops(server, llm):
    server.queue("one", "two", "three", "four")
    model = OpenAICompatibleModel(llm)

    async def ask(close: bool = False) -> str:
        reply = await model.complete_async(ASK)
        if close:
            await model.aclose()
        return reply.text

    async def ask_close_and_ask_again() -> list[str]:
        return [await ask(close=True), await ask()]

    assert asyncio.run(ask()) == "one"
    assert asyncio.run(ask_close_and_ask_again()) == ["two", "three"]
    assert asyncio.run(ask()) == "four"
    assert model.usage.requests == 4


def test_token_costs_follow_list_prices_and_unknown_models_are_free():
    usage = TokenUsage(prompt_tokens=1_000_000, completion_tokens=500_000, requests=3)
    assert ModelPricing.for_model("gpt-4o-mini").cost(usage) == pytest.approx(0.15 + 0.60 / 2)
    assert ModelPricing.for_model("llama3.1").cost(usage) == 0.0
    assert ModelPricing(2.0, 8.0).cost(usage) == pytest.approx(6.0)

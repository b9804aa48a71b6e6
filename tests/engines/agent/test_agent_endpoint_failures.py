"""Endpoint failures: typed, actionable, retried where it helps, and never losing the conversation or the
state."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace

import pytest

from engines.agent import (
    ChatSession,
    ErrorEvent,
    LlmAuthError,
    LlmConfig,
    LlmSetupError,
    LlmUnreachable,
    OpenAICompatibleModel,
    Retrying,
    ToolFinished,
    TurnLimits,
)
from tests.support.openai_server import ScriptedOpenAIServer, ScriptedReply, ToolCall


def run(session: ChatSession, text: str, cancel=None) -> list:
    return list(session.send(text, cancel))


def of(events: list, kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


@pytest.mark.parametrize("stream", [False, True])
def test_429_waits_for_retry_after_then_succeeds(
    server: ScriptedOpenAIServer, llm: LlmConfig, tools, stream: bool
):
    server.queue(
        ScriptedReply(status=429, headers={"Retry-After": "0.4"}, error_message="slow down"),
        ScriptedReply("Hello."),
    )
    start = time.monotonic()
    events = run(ChatSession(tools, llm, limits=TurnLimits(stream=stream)), "hi")
    elapsed = time.monotonic() - start
    retry = of(events, Retrying)[0]
    assert retry.delay_s == pytest.approx(0.4) and retry.attempt == 2
    assert "rate limiting requests (slow down); the server asks to wait 0.4 s" in retry.message
    assert elapsed >= 0.4 and len(server.requests) == 2
    assert events[-1].stopped == "answered" and events[-1].text == "Hello."


def test_a_retry_after_beyond_the_longest_wait_is_reported_not_waited(server, llm, tools):
    server.queue(ScriptedReply(status=429, headers={"Retry-After": "120"}))
    start = time.monotonic()
    events = run(ChatSession(tools, llm), "hi")
    assert time.monotonic() - start < 2
    error = of(events, ErrorEvent)[0]
    assert error.error_type == "LlmRateLimited" and "the server asks to wait 120 s" in error.message
    assert len(server.requests) == 1


def test_server_errors_are_retried_with_growing_backoff(server, llm, tools):
    server.queue(ScriptedReply(status=500), ScriptedReply(status=503), ScriptedReply("Back."))
    events = run(ChatSession(tools, replace(llm, backoff_s=0.05)), "hi")
    retries = of(events, Retrying)
    assert [r.attempt for r in retries] == [2, 3]
    assert 0.0375 <= retries[0].delay_s <= 0.0625 and 0.075 <= retries[1].delay_s <= 0.125
    assert events[-1].text == "Back." and len(server.requests) == 3


def test_server_errors_that_persist_end_the_turn_and_keep_state_and_conversation(
    server, llm, tools, viewer, workspace
):
    server.queue(
        ScriptedReply(tool_calls=[ToolCall("zoom", {"factor": 2})]),
        *[ScriptedReply(status=502, error_message="bad gateway")] * 3,
    )
    session = ChatSession(tools, llm, workspace)
    events = run(session, "zoom in")
    error = of(events, ErrorEvent)[0]
    assert error.error_type == "LlmServerError" and error.retryable
    assert "failed (502: bad gateway)" in error.message and "gave up after 3 attempts" in error.message
    assert events[-1].stopped == "error" and error.message in events[-1].text
    assert viewer.zoom == 2.0 and len(of(events, ToolFinished)) == 1
    saved = session.store.load(session.conversation_id).turns[0]
    assert saved.user == "zoom in" and saved.stopped == "error" and [s.tool for s in saved.steps] == ["zoom"]
    server.queue(ScriptedReply("I zoomed in before the server failed."))
    assert run(session, "what happened?")[-1].stopped == "answered"
    assert server.requests[-1]["messages"][1]["content"] == "zoom in"


def test_401_is_not_retried_and_says_what_to_fix(server, llm, tools):
    server.queue(
        ScriptedReply(status=401, error_message="Incorrect API key provided"), ScriptedReply("unused")
    )
    events = run(ChatSession(tools, llm), "hi")
    error = of(events, ErrorEvent)[0]
    assert error.error_type == "LlmAuthError" and not error.retryable
    assert "refused the API key (401: Incorrect API key provided)" in error.message
    assert "Check OPENAI_API_KEY" in error.message
    assert len(server.requests) == 1 and not of(events, Retrying)


def test_the_key_is_sent_as_a_bearer_token(server, llm, tools):
    server.queue("ok")
    run(ChatSession(tools, llm), "hi")
    assert server.request_headers[0]["authorization"] == "Bearer test-key"


def test_a_hanging_endpoint_times_out_retries_and_reports(server, llm, tools):
    server.queue(ScriptedReply(hang=True), ScriptedReply(hang=True))
    quick = replace(llm, timeout_s=0.3, max_retries=1)
    start = time.monotonic()
    events = run(ChatSession(tools, quick), "hi")
    assert 0.6 <= time.monotonic() - start < 3
    error = of(events, ErrorEvent)[0]
    assert error.error_type == "LlmTimeout"
    assert "did not answer within 0.3 s" in error.message and "NEURODECK_LLM_TIMEOUT_S" in error.message
    assert len(server.requests) == 2


@pytest.mark.parametrize("stream", [False, True])
def test_a_timeout_then_an_answer_succeeds(server, llm, tools, stream: bool):
    server.queue(ScriptedReply(hang=True), ScriptedReply("Late but here."))
    events = run(ChatSession(tools, replace(llm, timeout_s=0.3), limits=TurnLimits(stream=stream)), "hi")
    assert "did not answer within 0.3 s" in of(events, Retrying)[0].message
    assert events[-1].text == "Late but here."


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    "body", [b"{not json", b'{"object": "chat.completion"}', b"<html>proxy error</html>"]
)
def test_a_garbled_body_is_retried_then_reported(server, llm, tools, body: bytes, stream: bool):
    server.queue(*[ScriptedReply(raw_body=body)] * 3)
    events = run(ChatSession(tools, llm, limits=TurnLimits(stream=stream)), "hi")
    error = of(events, ErrorEvent)[0]
    assert error.error_type == "LlmBadResponse"
    assert "OpenAI-compatible" in error.message or "without a reply" in error.message
    assert "gave up after 3 attempts" in error.message and len(server.requests) == 3


@pytest.mark.parametrize("stream", [False, True])
def test_a_garbled_body_then_a_good_one_succeeds(server, llm, tools, stream: bool):
    server.queue(ScriptedReply(raw_body=b"{not json"), ScriptedReply("Fine."))
    events = run(ChatSession(tools, llm, limits=TurnLimits(stream=stream)), "hi")
    assert len(of(events, Retrying)) == 1 and events[-1].text == "Fine."


def test_an_unknown_model_is_not_retried(server, llm, tools):
    server.queue(ScriptedReply(status=404, error_message="model 'x' not found"))
    error = of(run(ChatSession(tools, llm), "hi"), ErrorEvent)[0]
    assert error.error_type == "LlmRequestRejected" and "NEURODECK_LLM_MODEL" in error.message
    assert len(server.requests) == 1


def test_nothing_listening_is_reported_as_unreachable(tools):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = LlmConfig(
        model="m", base_url=f"http://127.0.0.1:{port}/v1", timeout_s=1, max_retries=1, backoff_s=0.01
    )
    error = of(run(ChatSession(tools, config), "hi"), ErrorEvent)[0]
    assert (
        error.error_type == "LlmUnreachable"
        and f"Nothing answers at http://127.0.0.1:{port}/v1" in error.message
    )
    with pytest.raises(LlmUnreachable, match="is running"):
        OpenAICompatibleModel(config).available_models()


def test_cancelling_during_a_retry_wait_stops_at_once(server, llm, tools):
    server.queue(ScriptedReply(status=429, headers={"Retry-After": "4"}))
    cancel = threading.Event()
    start = time.monotonic()
    events = []
    for event in ChatSession(tools, llm).send("hi", cancel):
        events.append(event)
        if isinstance(event, Retrying):
            cancel.set()
    assert time.monotonic() - start < 2 and events[-1].stopped == "cancelled"


def test_setup_errors_say_what_to_set():
    with pytest.raises(LlmSetupError, match="set OPENAI_API_KEY, or set OPENAI_BASE_URL"):
        OpenAICompatibleModel(LlmConfig(model="gpt-4o-mini"))
    with pytest.raises(LlmSetupError, match="NEURODECK_LLM_MODEL"):
        OpenAICompatibleModel(LlmConfig(model=" ", base_url="http://localhost:11434/v1"))


def test_a_local_server_needs_no_key_and_lists_its_models(server):
    model = OpenAICompatibleModel(LlmConfig(model="scripted-model", base_url=server.base_url))
    assert model.available_models() == ["scripted-model"]
    server.queue("hi")
    assert model.complete([{"role": "user", "content": "hello"}]).text == "hi"
    assert server.request_headers[0]["authorization"] == "Bearer not-needed"


def test_auth_errors_from_the_plain_client_are_typed(server, llm):
    server.queue(ScriptedReply(status=403, error_message="no access to this model"))
    with pytest.raises(LlmAuthError, match="403: no access to this model"):
        OpenAICompatibleModel(llm).complete([{"role": "user", "content": "x"}])

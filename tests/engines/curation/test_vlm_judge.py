"""The VLM judge against a real OpenAI-compatible server on 127.0.0.1 with scripted replies."""

from __future__ import annotations

import json
import socket
from importlib import resources

import pytest

from engines.agent import LlmConfig, ModelPricing
from engines.curation import (
    CandidateRequest,
    CurationError,
    CurationReview,
    JudgeContext,
    VlmJudge,
    VlmJudgeParams,
    run_judge,
)
from engines.curation.vlm_judge import load_prompt
from tests.support.openai_server import ScriptedOpenAIServer, ScriptedReply

DECISION_MARK = "Answer with one JSON object"


def _images(body: dict) -> list[str]:
    return [
        part["image_url"]["url"]
        for m in body["messages"]
        if isinstance(m["content"], list)
        for part in m["content"]
        if part["type"] == "image_url"
    ]


def _is_decision(body: dict) -> bool:
    return DECISION_MARK in body["messages"][0]["content"]


def _units_of(body: dict) -> str:
    """The unit list the request is about (from the first user message: "Group 3: units 1, 2." or "Reports
    on")."""
    first_user = next(
        m
        for m in body["messages"]
        if m["role"] == "user"
        and "units" in json.dumps(m["content"])
        and "Example" not in json.dumps(m["content"])
    )
    text = first_user["content"]
    text = text if isinstance(text, str) else text[0]["text"]
    return text.split("units ", 1)[1].split(".")[0].split(":")[0]


def decide_by(merges: set[str]):
    """Merge exactly the groups whose unit list is in ``merges``; per-feature calls get a short report."""

    def responder(body: dict) -> ScriptedReply:
        if not _is_decision(body):
            return ScriptedReply("Refractory dip in the grey band. Feature verdict: merge")
        merge = _units_of(body) in merges
        return ScriptedReply(
            json.dumps(
                {
                    "decision": "merge" if merge else "not merge",
                    "confidence": 0.9,
                    "merge_units": [],
                    "reasoning": "scripted",
                }
            )
        )

    return responder


@pytest.fixture
def groups(review):
    return review.find_candidates(CandidateRequest.preset("x_contaminations"))


def _review(review, server, timeout_s: float = 5.0, retries: int = 2) -> CurationReview:
    review.llm = LlmConfig(
        model="vision-test",
        base_url=server.base_url,
        api_key="test",
        timeout_s=timeout_s,
        max_retries=retries,
    )
    return review


def test_prompts_ship_inside_the_package_and_speak_of_groups_of_any_size():
    names = {p.name for p in resources.files("engines.curation.prompts").iterdir()}
    assert {"system.md", "decision.md", "feature_crosscorrelograms.md", "feature_amplitude_plot.md"} <= names
    assert "{n_units} x {n_units}" in load_prompt("feature_crosscorrelograms")
    assert "NOT evidence for merging" in load_prompt("system")


def test_vlm_judge_sends_every_image_and_the_few_shot_examples_and_follows_the_scripted_decisions(
    review, groups
):
    good, bad, *rest = groups
    merges = {", ".join(map(str, g.unit_ids)) for g in rest[::2]}
    with ScriptedOpenAIServer(responder=decide_by(merges)) as server:
        review = _review(review, server)
        review.set_example(good.group_id, "good")
        review.set_example(bad.group_id, "bad")
        run = review.judge("vlm", params={"num_workers": 3})
        requests = list(server.requests)
    decisions = review.decisions("vlm")
    assert run.status == "done" and set(decisions) == {g.group_id for g in rest}
    assert {d.group_id for d in decisions.values() if d.decision == "merge"} == {
        g.group_id for g in rest[::2]
    }
    feature_calls = [r for r in requests if not _is_decision(r)]
    assert len(feature_calls) == 2 * len(rest) and len(requests) == 3 * len(rest)
    for call in feature_calls:
        images = _images(call)
        assert len(images) == 3 and all(url.startswith("data:image/png;base64,") for url in images)
        text = json.dumps(call["messages"])
        assert "Example GOOD (merge)" in text and "Example BAD (do not merge)" in text
    decision = next(iter(decisions.values()))
    assert "## crosscorrelograms" in decision.report and "## amplitude_plot" in decision.report
    assert (decision.tokens_in, decision.tokens_out) == (30, 15) and run.tokens_in == 30 * len(rest)


@pytest.mark.parametrize("workers", [1, 2, 8])
def test_any_number_of_workers_up_to_the_servers_cap_judges_every_group_within_the_limit(
    review, groups, workers
):
    with ScriptedOpenAIServer(responder=decide_by(set()), latency_s=0.05) as server:
        run = _review(review, server).judge("vlm", params={"num_workers": workers})
        peak = server.max_concurrent
    assert run.n_done == len(groups) and run.n_errors == 0
    assert peak <= workers and (peak == workers if workers <= 2 else peak > 2)


def test_rate_limits_and_server_errors_are_retried_with_backoff(review, groups):
    replies = iter([ScriptedReply(status=429, headers={"Retry-After": "0"}), ScriptedReply(status=503)])

    def responder(body: dict) -> ScriptedReply:
        return next(replies, None) or decide_by(set())(body)

    with ScriptedOpenAIServer(responder=responder) as server:
        run = _review(review, server).judge("vlm", group_ids=[groups[0].group_id], params={"num_workers": 1})
    decision = review.decisions("vlm")[groups[0].group_id]
    assert run.n_errors == 0 and decision.ok and decision.evidence["retries"] == 2


def test_a_call_that_times_out_is_retried_and_one_that_always_does_becomes_an_error_row(review, groups):
    first = {"hung": False}

    def hang_once(body: dict) -> ScriptedReply:
        if not first["hung"]:
            first["hung"] = True
            return ScriptedReply(hang=True)
        return decide_by(set())(body)

    with ScriptedOpenAIServer(responder=hang_once) as server:
        run = _review(review, server, timeout_s=0.5).judge("vlm", group_ids=[groups[0].group_id])
    assert run.n_errors == 0
    with ScriptedOpenAIServer(responder=lambda body: ScriptedReply(hang=True)) as server:
        run = _review(review, server, timeout_s=0.3, retries=1).judge("vlm", group_ids=[groups[1].group_id])
    decision = review.decisions("vlm")[groups[1].group_id]
    assert (
        run.n_errors == 1
        and decision.merge_type == "error"
        and "did not answer within 0.3 s" in decision.error
    )


def test_a_reply_that_does_not_parse_is_asked_again_then_recorded_as_an_error(review, groups):
    def responder(body: dict) -> ScriptedReply:
        if not _is_decision(body):
            return ScriptedReply("Flat. Feature verdict: not merge")
        fixed = "was not the JSON object asked for" in json.dumps(body["messages"])
        units = _units_of(body)
        if fixed and units.startswith(str(groups[0].unit_ids[0])):
            return ScriptedReply(
                '```json\n{"decision": "Not_merge", "confidence": "80%", "reasoning": "flat"}\n```'
            )
        return ScriptedReply("I would say merge, probably.")

    with ScriptedOpenAIServer(responder=responder) as server:
        _review(review, server).judge("vlm", group_ids=[groups[0].group_id, groups[1].group_id])
    repaired, broken = (
        review.decisions("vlm")[groups[0].group_id],
        review.decisions("vlm")[groups[1].group_id],
    )
    assert repaired.decision == "not merge" and repaired.confidence == 0.8
    assert broken.merge_type == "error" and "could not be read even when asked again" in broken.error
    assert "probably" in broken.error


def test_an_endpoint_that_is_down_fails_the_run_quickly_with_a_row_per_group(review, groups):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    review.llm = LlmConfig(
        model="m", base_url=f"http://127.0.0.1:{port}/v1", api_key="k", timeout_s=2, max_retries=3
    )
    run = review.judge("vlm", params={"num_workers": 2})
    decisions = review.decisions("vlm")
    assert run.status == "failed" and "cannot be reached" in run.message
    assert set(decisions) == {g.group_id for g in groups} and all(
        d.merge_type == "error" for d in decisions.values()
    )


def test_a_refused_key_fails_the_run_after_one_request_saying_what_to_fix(review, groups):
    with ScriptedOpenAIServer(
        responder=lambda body: ScriptedReply(status=401, error_message="invalid key")
    ) as server:
        run = _review(review, server).judge("vlm", params={"num_workers": 1})
        sent = len(server.requests)
    decisions = review.decisions("vlm")
    assert run.status == "failed" and "refused the API key (401: invalid key)" in run.message
    assert (
        sent == 1
        and len(decisions) == len(groups)
        and all(d.merge_type == "error" for d in decisions.values())
    )


def test_each_call_is_priced_capped_and_sent_to_its_model(review, groups):
    with ScriptedOpenAIServer(responder=decide_by(set())) as server:
        config = LlmConfig(
            model="text-model", vision_model="vision-model", base_url=server.base_url, api_key="k"
        )
        judge = VlmJudge(
            config, VlmJudgeParams(num_workers=2, max_tokens=300, pricing=ModelPricing(1000.0, 2000.0))
        )
        decisions = run_judge(judge, groups[:2], JudgeContext(review.data, review.images))
        requests = list(server.requests)
    assert all(d.ok and d.cost_usd == pytest.approx((30 * 1000 + 15 * 2000) / 1e6) for d in decisions)
    assert {r["model"] for r in requests if _is_decision(r)} == {"text-model"}
    assert {r["model"] for r in requests if not _is_decision(r)} == {"vision-model"}
    assert all(r["max_tokens"] == 300 and r["temperature"] == 0 for r in requests)


def test_bad_settings_are_refused_before_any_call():
    with pytest.raises(CurationError, match="no model endpoint"):
        VlmJudge(None)
    with pytest.raises(CurationError, match="No API key for api.openai.com"):
        VlmJudge(LlmConfig())
    with pytest.raises(CurationError, match="at least 1"):
        VlmJudge(LlmConfig(base_url="http://127.0.0.1:1/v1"), VlmJudgeParams(num_workers=0))
    with pytest.raises(CurationError, match="unknown image feature"):
        VlmJudge(LlmConfig(base_url="http://127.0.0.1:1/v1"), VlmJudgeParams(features=("pca",)))


def test_the_prompts_say_an_empty_correlogram_is_no_evidence_and_not_enough_evidence_is_an_answer():
    assert "not enough evidence" in load_prompt("system") and "not enough evidence" in load_prompt("decision")
    assert "an empty\ncorrelogram is not evidence for merging" in load_prompt("decision")


def test_a_reply_of_not_enough_evidence_becomes_that_decision_and_never_a_merge(review, groups):
    def responder(body: dict) -> ScriptedReply:
        if not _is_decision(body):
            return ScriptedReply("Two counts in the whole correlogram: too few to tell.")
        reply = {"decision": "not enough evidence", "confidence": 0.8, "reasoning": "correlograms too thin"}
        return ScriptedReply(json.dumps(reply))

    with ScriptedOpenAIServer(responder=responder) as server:
        run = _review(review, server).judge("vlm", group_ids=[groups[0].group_id])
        decision_prompt = next(r for r in server.requests if _is_decision(r))["messages"][0]["content"]
    decision = review.decisions("vlm")[groups[0].group_id]
    assert run.status == "done" and run.n_errors == 0
    assert (
        decision.decision == "not enough evidence" and decision.merge_groups == () and decision.score == 0.5
    )
    assert '"not enough evidence"' in decision_prompt

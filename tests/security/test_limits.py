"""Limits per person and per server, each refused with a message that says which limit, how much is left and
when it frees: model calls per hour (chat turns, VLM judgements), parallel model calls of the VLM judge, job
submissions per minute, training runs at once and what one run may ask for.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from engines.agent import ChatSession, LlmConfig
from engines.agent.events import ErrorEvent
from engines.curation import JudgeContext, VlmJudge, VlmJudgeParams
from engines.curation.images import GroupImages
from engines.curation.model import CandidateGroup
from engines.jobs import InProcessBackend, JobKind, JobStore, KindRegistry, ResultStore
from engines.jobs.service import JobService
from engines.limits import Budget, UsageLimiter, model_calls_limit
from engines.people import LimitReached, Person
from tests.engines.agent.example_toolset import MiniViewer, build_viewer_tools, demo_cells
from tests.support.openai_server import ScriptedOpenAIServer, ScriptedReply

ALICE, BOB = Person("alice"), Person("bob")


def _llm(server: ScriptedOpenAIServer) -> LlmConfig:
    return LlmConfig(
        model="scripted-model", base_url=server.base_url, api_key="test-key", timeout_s=5.0, max_retries=0
    )


# --- model calls ---------------------------------------------------------------------------------------
def test_chat_turns_spend_the_persons_hourly_model_calls_and_then_stop_with_the_limit(workspace):
    limiter = UsageLimiter(workspace)
    tools = build_viewer_tools(MiniViewer(), demo_cells(20))
    with ScriptedOpenAIServer() as server:
        server.queue("one", "two", "three")
        chat = ChatSession(
            tools,
            _llm(server),
            workspace,
            person=ALICE,
            commands_first=True,
            budget=Budget(limiter, ALICE, model_calls_limit(2)),
        )
        assert [list(chat.send(text))[-1].text for text in ("hi", "hello")] == ["one", "two"]
        assert list(chat.send("zoom in"))[-1].stopped == "offline"  # a planner command reaches no model: free
        events = list(chat.send("and now?"))
        assert len(server.requests) == 2
        bob = ChatSession(
            tools, _llm(server), workspace, person=BOB, budget=Budget(limiter, BOB, model_calls_limit(2))
        )
        assert list(bob.send("hi"))[-1].text == "three"  # a budget is per person
    [error] = [e for e in events if isinstance(e, ErrorEvent)]
    assert error.error_type == "LimitReached"
    assert "alice has used 2 of the 2 model calls allowed per hour" in error.message
    assert "model_calls_per_hour" in error.message and "free up in" in error.message
    assert events[-1].text == error.message
    assert (
        UsageLimiter(workspace).used(ALICE, model_calls_limit(2)) == 2
    )  # kept in the workspace: a restart keeps it


def _judge_images(workspace: Path, groups: list[CandidateGroup]) -> GroupImages:
    """Real cached group images (one small PNG per group and feature), so the judge draws nothing."""
    images = GroupImages(None, workspace / "images", "f" * 32)
    png = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(png, format="PNG")
    for group in groups:
        for feature in ("crosscorrelograms", "amplitude_plot"):
            path = images.path_for(group.unit_ids, feature)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(png.getvalue())
    return images


def _reply(body: dict) -> ScriptedReply:
    if "Answer with one JSON object" in body["messages"][0]["content"]:
        return ScriptedReply(
            json.dumps({"decision": "merge", "confidence": 0.9, "merge_units": [], "reasoning": "scripted"})
        )
    return ScriptedReply("Refractory dip. Feature verdict: merge")


def test_vlm_judgements_spend_the_same_budget_and_a_batch_over_it_is_refused_before_any_call(workspace):
    groups = [CandidateGroup(i, (2 * i, 2 * i + 1)) for i in range(3)]
    context = JudgeContext(data=None, images=_judge_images(workspace, groups))
    limiter = UsageLimiter(workspace)
    limiter.take(ALICE, model_calls_limit(4))  # one chat turn earlier this hour
    with ScriptedOpenAIServer(responder=_reply) as server:
        judge = VlmJudge(
            _llm(server), VlmJudgeParams(num_workers=2), budget=Budget(limiter, ALICE, model_calls_limit(4))
        )
        found = []
        judge.judge_many(groups[:2], context, found.append, lambda *_: None, None)
        assert [d.decision for d in found] == ["merge", "merge"]
        calls = len(server.requests)
        with pytest.raises(
            LimitReached, match=r"used 3 of the 4 model calls allowed per hour \(1 left, 2 asked for\)"
        ):
            judge.judge_many(groups[1:], context, found.append, lambda *_: None, None)
        assert len(server.requests) == calls


def test_the_vlm_judge_fans_out_to_at_most_the_servers_parallel_model_calls(workspace):
    llm = LlmConfig(model="vision-test", base_url="http://127.0.0.1:9/v1", api_key="test")
    with pytest.raises(
        LimitReached, match=r"at most 8 model calls at once .*asked for 200; max_model_workers"
    ):
        VlmJudge(llm, VlmJudgeParams(num_workers=200))
    with pytest.raises(LimitReached, match="at most 3 model calls"):
        VlmJudge(llm, VlmJudgeParams(num_workers=4), max_workers=3)
    assert VlmJudge(llm, VlmJudgeParams(num_workers=3), max_workers=3).params.num_workers == 3


# --- jobs ---------------------------------------------------------------------------------------------------
def test_new_job_submissions_are_limited_per_minute_but_results_already_asked_for_are_free(workspace):
    store, results = JobStore(workspace), ResultStore(workspace)
    kinds = KindRegistry([JobKind("square", lambda inputs, ctx: {}, "1", inputs=("x",))])
    jobs = JobService(store, results, InProcessBackend(store, results, kinds, n_workers=0), kinds)
    alice = jobs.acting_as(ALICE, jobs_per_minute=2)
    first = alice.request("square", {"x": 1}).job
    alice.request("square", {"x": 2})
    assert alice.request("square", {"x": 1}).job.id == first.id  # the same request again queues nothing
    with pytest.raises(
        LimitReached,
        match=r"alice has used 2 of the 2 job submissions allowed per minute.*"
        r"jobs_per_minute",
    ):
        alice.request("square", {"x": 3})
    assert len(store.list()) == 2
    assert jobs.acting_as(BOB, jobs_per_minute=2).request("square", {"x": 3}).job.owner == "bob"


# --- training runs ------------------------------------------------------------------------------------------
def _config(steps: int = 100, seq_len: int = 16):
    from engines.training.config import build_config

    return build_config(
        [{"kind": "synthetic", "n_bins": 600, "n_units": 12, "modalities": ["spikes"]}],
        model_size="tiny",
        steps=steps,
        data={"seq_len": seq_len, "bin_s": 0.02},
    )


def _going(workspace: Path, owner: str) -> None:
    """A run folder that is running (its process is this one) and owned by ``owner``."""
    import psutil

    from engines.training.runs import RunRegistry

    folder = RunRegistry(workspace).new_run("going")
    folder.config_path.write_text(json.dumps(_config().to_dict()))
    me = psutil.Process()
    folder.update_status(state="running", pid=me.pid, pid_started=me.create_time(), host=None, owner=owner)


def test_a_run_asking_for_more_than_the_server_allows_is_refused_before_anything_starts(workspace):
    pytest.importorskip("torch")
    from engines.training.limits import RunLimits
    from engines.training.runs import RunRegistry
    from engines.training.trainer.control import RunController

    limits = RunLimits(runs_per_user=2, runs_total=3, max_steps=1000, max_window_s=1.0, max_processes=2)
    controller = RunController(workspace)
    with pytest.raises(LimitReached, match="at most 1,000 steps .*asked for 5,000; max_train_steps"):
        controller.start(_config(steps=5000), person=ALICE, limits=limits)
    with pytest.raises(LimitReached, match=r"at most 1 s .*asked for 1.28 s.*max_train_window_s"):
        controller.start(_config(seq_len=64), person=ALICE, limits=limits)
    with pytest.raises(LimitReached, match="at most 2 processes .*asked for 4; max_train_processes"):
        controller.start(_config(), nproc=4, person=ALICE, limits=limits)
    _going(workspace, "alice")
    _going(workspace, "alice")
    with pytest.raises(LimitReached, match=r"alice already has 2 run\(s\) going .*max_runs_per_user"):
        controller.start(_config(), person=ALICE, limits=limits)
    _going(workspace, "carol")
    with pytest.raises(LimitReached, match="already has 3 runs going, its limit \\(max_runs_total\\)"):
        controller.start(_config(), person=BOB, limits=limits)
    assert len(RunRegistry(workspace).list_runs()) == 3  # no refused start left a folder behind

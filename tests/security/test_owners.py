"""People own what they make: chats, saved views, jobs, training runs and curation verdicts record the
signed-in user, and only that user (or an admin) can open a private chat or view, or cancel, retry, pause or
stop the rest.

Three people share one real workspace: alice and bob (ordinary users) and root (an admin).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from engines.agent import ChatSession, ConversationNotFound, ConversationStore
from engines.curation.store import DecisionStore
from engines.jobs import InProcessBackend, JobKind, JobStore, KindRegistry, ResultStore
from engines.jobs.service import JobService
from engines.ngstate import NgState, StateStore
from engines.ngstate.errors import StateNotFound
from engines.people import NotAllowed, Person
from tests.engines.agent.example_toolset import MiniViewer, build_viewer_tools, demo_cells

ALICE, BOB, ROOT = Person("alice"), Person("bob"), Person("root", is_admin=True)
VIEW = NgState(
    {
        "dimensions": {"x": [1e-9, "m"], "y": [1e-9, "m"], "z": [1e-9, "m"]},
        "position": [1, 2, 3],
        "layers": [],
    }
)


def _chat(workspace: Path, person: Person | None, page: str = "neuroglancer") -> ChatSession:
    return ChatSession(
        build_viewer_tools(MiniViewer(), demo_cells(20)), None, workspace, page=page, person=person
    )


# --- chats ----------------------------------------------------------------------------------------
def test_another_users_chat_id_opens_as_no_such_chat_and_is_never_listed(workspace):
    alice = _chat(workspace, ALICE)
    list(alice.send("zoom in"))
    chat_id = alice.conversation_id
    bob = _chat(workspace, BOB)
    list(bob.send("zoom out"))
    with pytest.raises(ConversationNotFound) as refused:
        bob.load_conversation(chat_id)
    with pytest.raises(ConversationNotFound) as unknown:
        bob.load_conversation("0" * 32)
    assert str(refused.value).replace(chat_id, "ID") == str(unknown.value).replace(
        "0" * 32, "ID"
    )  # reveals nothing
    assert "no such chat" in str(refused.value)
    assert [c.title for c in bob.conversations()] == ["zoom out"]
    assert [c.title for c in alice.conversations()] == ["zoom in"]
    assert [t.user for t in _chat(workspace, ROOT).load_conversation(chat_id).turns] == ["zoom in"]


def test_chats_saved_before_owners_existed_keep_their_rows_and_belong_to_admins(workspace):
    legacy = workspace / "agent" / "conversations.sqlite"
    legacy.parent.mkdir(parents=True)
    with sqlite3.connect(legacy) as db:
        db.executescript(
            "CREATE TABLE conversations (id TEXT PRIMARY KEY, page TEXT NOT NULL, title TEXT NOT NULL, "
            "model TEXT, created REAL NOT NULL, updated REAL NOT NULL);"
            "INSERT INTO conversations VALUES ('old', 'neuroglancer', 'old chat', NULL, 1, 1);"
        )
    with pytest.raises(ConversationNotFound):
        _chat(workspace, ALICE).load_conversation("old")
    assert _chat(workspace, ROOT).load_conversation("old").info.title == "old chat"
    assert [c.id for c in ConversationStore(workspace).list_conversations(owner="")] == ["old"]


# --- saved views -----------------------------------------------------------------------------------
def test_a_private_saved_view_opens_only_for_its_owner_until_shared(workspace):
    alice, bob = StateStore(workspace, person=ALICE), StateStore(workspace, person=BOB)
    alice.save("plan", VIEW)
    with pytest.raises(StateNotFound, match="No saved state named 'plan'"):
        bob.load("plan")
    assert [s.name for s in bob.list()] == []
    assert StateStore(workspace, person=ROOT).load("plan") == VIEW
    with pytest.raises(NotAllowed, match="another person"):
        bob.save("plan", NgState({"layers": []}))  # cannot overwrite it either
    with pytest.raises(StateNotFound):
        bob.share("plan")
    alice.share("plan")
    assert bob.load("plan") == VIEW
    assert [(s.name, s.owner, s.shared) for s in bob.list()] == [("plan", "alice", True)]
    with pytest.raises(NotAllowed):
        bob.delete("plan")
    assert alice.load("plan") == VIEW


def test_the_offline_planner_saves_views_privately_and_shares_them_on_request(workspace):
    from engines.agent.toolsets import ViewerTools
    from engines.agent.toolsets import build_viewer_tools as build_ng_tools
    from engines.io.policy import SourcePolicy
    from engines.ngstate import build_demo_state
    from engines.ngstate.session import ViewerSession

    viewer = ViewerTools(
        ViewerSession(build_demo_state("http://app.example/ngdemo")),
        StateStore(workspace, person=ALICE),
        SourcePolicy(workspace=workspace),
    )
    chat = ChatSession(build_ng_tools(viewer), None, workspace, person=ALICE)
    assert "private" in list(chat.send("save the view as cells"))[-1].text
    bob = StateStore(workspace, person=BOB)
    with pytest.raises(StateNotFound):
        bob.load("cells")
    assert "shared" in list(chat.send("share the saved view cells"))[-1].text
    assert bob.load("cells") == viewer.session.state


# --- jobs --------------------------------------------------------------------------------------------
@pytest.fixture
def jobs(workspace: Path) -> JobService:
    store, results = JobStore(workspace), ResultStore(workspace)
    kinds = KindRegistry([JobKind("square", lambda inputs, ctx: {}, "1", inputs=("x",))])
    return JobService(store, results, InProcessBackend(store, results, kinds, n_workers=0), kinds)


def test_only_the_owner_or_an_admin_can_cancel_or_retry_a_job(jobs):
    mine = jobs.acting_as(ALICE).request("square", {"x": 1}).job
    assert mine.owner == "alice"
    assert jobs.acting_as(BOB).request("square", {"x": 1}).job.owner == "alice"  # the same job: still hers
    with pytest.raises(NotAllowed, match="Job .* belongs to alice"):
        jobs.acting_as(BOB).cancel(mine.id)
    assert jobs.state(mine.id).active
    assert jobs.acting_as(ALICE).cancel(mine.id).job.status == "cancelled"
    with pytest.raises(NotAllowed):
        jobs.acting_as(BOB).retry(mine.id)
    assert jobs.acting_as(ROOT).retry(mine.id).job.status == "pending"
    assert jobs.acting_as(ROOT).cancel(mine.id).job.status == "cancelled"


def test_jobs_queued_before_owners_existed_are_migrated_in_place_and_belong_to_admins(workspace):
    JobStore(workspace).submit("square", {"x": 2}, "1")
    with sqlite3.connect(workspace / "jobs.sqlite") as db:  # the table as it was before owners
        db.executescript("ALTER TABLE jobs DROP COLUMN owner")
    store, results = JobStore(workspace), ResultStore(workspace)
    kinds = KindRegistry([JobKind("square", lambda inputs, ctx: {}, "1", inputs=("x",))])
    jobs = JobService(store, results, InProcessBackend(store, results, kinds, n_workers=0), kinds)
    [old] = store.list()
    assert old.owner == ""
    with pytest.raises(NotAllowed, match="nobody in particular"):
        jobs.acting_as(ALICE).cancel(old.id)
    assert jobs.acting_as(ROOT).cancel(old.id).job.status == "cancelled"


# --- curation verdicts ---------------------------------------------------------------------------------
def test_each_verdict_records_who_gave_it(workspace):
    store = DecisionStore(workspace)
    store.record_verdict("analyzer", 0, "accept", (1, 2), "tab-1", owner="alice")
    store.record_verdict("analyzer", 1, "reject", (), "tab-2", owner="bob")
    assert {v.group_id: v.owner for v in store.current_verdicts("analyzer").values()} == {
        0: "alice",
        1: "bob",
    }


def test_verdicts_given_before_owners_existed_are_kept(workspace):
    folder = workspace / "curation"
    folder.mkdir()
    with sqlite3.connect(folder / "decisions.sqlite") as db:
        db.executescript(
            "CREATE TABLE verdicts (id INTEGER PRIMARY KEY AUTOINCREMENT, analyzer TEXT NOT NULL, "
            "group_id INTEGER NOT NULL, verdict TEXT NOT NULL, merge_units TEXT NOT NULL, "
            "session TEXT NOT NULL, created REAL NOT NULL, undone INTEGER NOT NULL DEFAULT 0);"
            "INSERT INTO verdicts (analyzer, group_id, verdict, merge_units, session, created) "
            "VALUES ('a', 3, 'accept', '[1, 2]', 's', 1);"
        )
    [verdict] = DecisionStore(workspace).current_verdicts("a").values()
    assert (verdict.group_id, verdict.verdict, verdict.owner) == (3, "accept", "")


# --- training runs -----------------------------------------------------------------------------------
def _run_folder(workspace: Path, owner: str | None, state: str = "running"):
    from engines.training.runs import RunRegistry

    folder = RunRegistry(workspace).new_run("run")
    folder.config_path.write_text(json.dumps({"name": "run"}))
    import psutil

    me = psutil.Process()
    status = {"state": state, "pid": me.pid, "pid_started": me.create_time(), "host": None}
    if owner is not None:
        status["owner"] = owner
    folder.update_status(**status)
    return folder


def test_only_the_owner_or_an_admin_can_pause_resume_or_stop_a_run(workspace):
    pytest.importorskip("torch")
    from engines.training.trainer.control import RunController

    controller = RunController(workspace)
    folder = _run_folder(workspace, "alice")
    for action in (controller.pause, controller.stop):
        with pytest.raises(NotAllowed, match="belongs to alice"):
            action(folder.run_id, person=BOB)
    assert folder.read_control() == {}  # nothing reached the run
    controller.pause(folder.run_id, person=ALICE)
    assert folder.read_control()["command"] == "pause"
    controller.stop(folder.run_id, person=ROOT)
    assert folder.read_control()["command"] == "stop"
    old = _run_folder(workspace, None)
    with pytest.raises(NotAllowed, match="nobody in particular"):
        controller.stop(old.run_id, person=ALICE)


def test_the_run_list_shows_each_runs_owner(workspace):
    from engines.training.runs import RunRegistry

    _run_folder(workspace, "alice", state="completed")
    _run_folder(workspace, None, state="completed")
    assert sorted(RunRegistry(workspace).runs_frame()["owner"]) == ["", "alice"]


def test_the_compute_page_shows_owners_and_cancels_only_what_the_person_may(jobs):
    import holoviews.plotting.bokeh  # noqa: F401  (the monitor's throughput plot)

    from components.compute.jobs_monitor import JobsMonitor

    hers = jobs.acting_as(ALICE).request("square", {"x": 1}).job
    his = jobs.acting_as(BOB).request("square", {"x": 2}).job
    monitor = JobsMonitor(jobs.acting_as(BOB), ["square"], {"backend": "in-process", "workers": 0})
    table = monitor._jobs
    assert dict(zip(table.value["id"], table.value["owner"])) == {hers.id: "alice", his.id: "bob"}
    table.selection = list(range(len(table.value)))
    cancel = next(b for b in monitor._actions if getattr(b, "label", "") == "Cancel selected")
    cancel.clicks += 1
    assert "1 job(s) cancelled." in monitor._feedback.object
    assert f"Job {hers.id} (square) belongs to alice" in monitor._feedback.object
    assert jobs.state(hers.id).active and jobs.state(his.id).job.status == "cancelled"

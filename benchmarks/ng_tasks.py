"""The Neuroglancer agent task suite: does a typed command leave the viewer (and tables) as the user asked?

Run ``python benchmarks/ng_tasks.py``. Every task of ``benchmarks/_ng_task_list.py`` (a command
as a user types it, from the demo state and ROI table the page opens with, checked by a
predicate on the resulting state and tool results) runs twice, each time on a fresh page
session built as the Neuroglancer page builds it (viewer and table toolsets, a ``ChatSession``
saving to a workspace, the demo volume read from disk):

- **offline**: the command planner. A task is *claimed* when the planner understands the whole
  command; ``offline_success`` = claimed tasks whose predicate holds / claimed tasks
  (``offline_claimed`` of ``tasks``). Unclaimed commands are what needs a model.
- **scripted**: the real tool loop and the real ``openai`` client (streaming, as the page asks)
  against the scripted OpenAI-compatible server of the tests, which answers each request with
  the tool calls a good model returns for the task, then a text answer, each after a latency
  drawn from ``--latency`` (default 0.3-0.8 s) with a fixed ``--seed``.
  ``scripted_success`` = tasks whose predicate holds / tasks.

Times are per turn, EXCLUDING the model's own latency: offline, the whole turn (planning, tools,
events, saving the conversation); scripted, the turn's wall time less the latency the server
slept before each of its answers, so what remains is the tools, the loop, the client and the
HTTP exchange on 127.0.0.1. ``offline_p50_s``/``offline_p95_s`` are over the claimed tasks,
``scripted_p50_s``/``scripted_p95_s`` over all; ``scripted_model_s`` is the latency that was
taken out (summed over the run). The last line printed is one JSON object with ``floors`` and
``holds`` (see ``_floors.py``).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# First-party imports follow the path line above, so the script also runs as a file.
from benchmarks._floors import Floors, described, holds  # noqa: E402
from benchmarks._ng_task_list import CATEGORIES, DEMO_ROIS, TASKS, NgTask, Outcome, Step  # noqa: E402
from engines.agent import ChatSession, LlmConfig  # noqa: E402
from engines.agent.events import AgentEvent, ToolFinished  # noqa: E402
from engines.agent.toolsets import ViewerTools, build_table_tools, build_viewer_tools  # noqa: E402
from engines.io.policy import SourcePolicy  # noqa: E402
from engines.ngstate import NgState, StateStore, build_demo_state, ensure_demo_volume, summarize_state  # noqa: E402
from engines.ngstate.session import ViewerSession  # noqa: E402
from engines.tables import TableWorkspace  # noqa: E402
from tests.support.openai_server import ScriptedOpenAIServer, ScriptedReply, ToolCall  # noqa: E402

DEMO_URL = "http://127.0.0.1:5006/ngdemo"
"""The demo's address as a browser sees it; the tools read the same volume from disk (as the page does)."""
FINAL_TEXT = "Done: the view shows what you asked for."

FLOORS: Floors = {
    "tasks": (">=", 40),
    "offline_success": (">=", 0.9),
    "scripted_success": (">=", 1.0),
    "offline_p95_s": ("<=", 1.0),
    "scripted_p95_s": ("<=", 1.0),
}
"""key -> (">=" or "<=", bound): what issue 18 (item 4) asks of the summary's keys."""


@dataclass(frozen=True)
class TaskRun:
    """One task in one mode: did the planner understand it (offline), did the predicate hold, how long the
    turn took without the model's latency, and why it failed."""

    task: str
    category: str
    mode: str
    claimed: bool
    success: bool
    seconds: float
    model_s: float = 0.0
    problem: str = ""


@dataclass
class _Page:
    """One browser session of the Neuroglancer page: its viewer state, tables and tools."""

    session: ViewerSession
    tables: TableWorkspace
    chat: ChatSession


class TaskBench:
    """Runs tasks on fresh page sessions over one workspace (the demo volume is written there once)."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.demo = ensure_demo_volume(workspace)
        self.policy = SourcePolicy(workspace=workspace, allowed_roots=(workspace,))
        self.rois = DEMO_ROIS.read_bytes()

    def _page(self, llm: LlmConfig | None) -> _Page:
        """The page's own wiring (``app/pages/neuroglancer.py``), without Panel."""
        session = ViewerSession(build_demo_state(DEMO_URL))
        tables = TableWorkspace(self.policy)
        tables.upload(DEMO_ROIS.name, self.rois, name="rois")
        viewer = ViewerTools(
            session, StateStore(self.workspace), self.policy, aliases={DEMO_URL: self.demo.folder}
        )
        chat = ChatSession(
            [build_viewer_tools(viewer), build_table_tools(tables, lambda: session.state)],
            llm,
            self.workspace,
            page="neuroglancer",
            state_summary=lambda: summarize_state(session.state).text,
            table_summaries=lambda: "\n".join(info.describe() for info in tables.list_tables()),
        )
        return _Page(session, tables, chat)

    @contextmanager
    def _ready(self, task: NgTask, llm: LlmConfig | None) -> Iterator[tuple[_Page, NgState]]:
        """A fresh page with the task's setup made (through the registry, untimed); closed afterwards."""
        page = self._page(llm)
        initial = page.session.state
        try:
            for step in task.setup:
                registry = page.chat.registry
                registry.run(registry.prepare(step.tool, step.arguments))
            yield page, initial
        finally:
            page.chat.close()

    def run_offline(self, task: NgTask) -> TaskRun:
        with self._ready(task, None) as (page, initial):
            plan = page.chat.registry.planner.plan(task.command)
            claimed = bool(plan.calls) and not plan.not_understood
            before = page.session.state
            started = time.perf_counter()
            events = list(page.chat.send(task.command))
            seconds = time.perf_counter() - started
            success, problem = _judge(task, events, initial, before, page) if claimed else (False, "")
        return TaskRun(task.id, task.category, "offline", claimed, success, seconds, problem=problem)

    def run_scripted(
        self, task: NgTask, server: ScriptedOpenAIServer, latency: Callable[[], float]
    ) -> TaskRun:
        replies = [
            ScriptedReply(tool_calls=[_call(s) for s in round_], delay_s=latency()) for round_ in task.rounds
        ]
        replies.append(ScriptedReply(FINAL_TEXT, delay_s=latency()))
        model_s = sum(r.delay_s for r in replies)
        llm = LlmConfig(model="scripted-model", base_url=server.base_url, api_key="bench", timeout_s=30)
        with self._ready(task, llm) as (page, initial):
            asked = len(server.requests)
            server.queue(*replies)
            before = page.session.state
            started = time.perf_counter()
            events = list(page.chat.send(task.command))
            seconds = time.perf_counter() - started - model_s
            success, problem = _judge(task, events, initial, before, page)
            if len(server.requests) - asked != len(replies):
                success, problem = (
                    False,
                    f"{len(server.requests) - asked} requests for {len(replies)} replies",
                )
        return TaskRun(task.id, task.category, "scripted", True, success, seconds, model_s, problem)


def _call(step: Step) -> ToolCall:
    return ToolCall(step.tool, dict(step.arguments))


def _judge(
    task: NgTask, events: Sequence[AgentEvent], initial: NgState, before: NgState, page: _Page
) -> tuple[bool, str]:
    """The task's predicate on what the user sees; tool errors and exceptions count as failures, with why."""
    errors = [getattr(e, "message", "") for e in events if e.kind in ("tool_error", "error")]
    if errors:
        return False, "; ".join(errors)[:300]
    finished = [e for e in events if isinstance(e, ToolFinished)]
    outcome = Outcome(initial, before, page.session.state, finished, page.tables)
    try:
        return (True, "") if task.check(outcome) else (False, "the predicate does not hold")
    except Exception as exc:  # a predicate reading a state the tools left malformed: a failure, said why
        return False, f"{type(exc).__name__}: {exc}"


def _quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile (linear between order statistics); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(runs: Sequence[TaskRun]) -> dict[str, Any]:
    """The figures of a run of the suite (see the module docstring), per mode and per category."""
    offline = [r for r in runs if r.mode == "offline"]
    claimed = [r for r in offline if r.claimed]
    scripted = [r for r in runs if r.mode == "scripted"]
    summary: dict[str, Any] = {
        "tasks": len({r.task for r in runs}),
        "offline_claimed": len(claimed),
        "offline_success": round(sum(r.success for r in claimed) / len(claimed), 4) if claimed else 0.0,
        "offline_p50_s": round(_quantile([r.seconds for r in claimed], 0.5), 4),
        "offline_p95_s": round(_quantile([r.seconds for r in claimed], 0.95), 4),
        "scripted_success": round(sum(r.success for r in scripted) / len(scripted), 4) if scripted else 0.0,
        "scripted_p50_s": round(_quantile([r.seconds for r in scripted], 0.5), 4),
        "scripted_p95_s": round(_quantile([r.seconds for r in scripted], 0.95), 4),
        "scripted_model_s": round(sum(r.model_s for r in scripted), 2),
    }
    summary["categories"] = {
        category: {
            "tasks": len([r for r in scripted if r.category == category]),
            "offline_claimed": len([r for r in claimed if r.category == category]),
            "offline_ok": len([r for r in claimed if r.category == category and r.success]),
            "scripted_ok": len([r for r in scripted if r.category == category and r.success]),
        }
        for category in CATEGORIES
    }
    summary["failures"] = [f"{r.mode}:{r.task}: {r.problem}" for r in runs if r.claimed and not r.success]
    return summary


def run_suite(
    tasks: Sequence[NgTask],
    workspace: Path,
    latency: tuple[float, float] = (0.3, 0.8),
    seed: int = 18,
    on_run: Callable[[TaskRun], None] | None = None,
) -> list[TaskRun]:
    """Every task offline, then every task against the scripted server; one ``TaskRun`` per task and mode."""
    bench = TaskBench(workspace)
    runs = []
    for task in tasks:
        runs.append(bench.run_offline(task))
        if on_run is not None:
            on_run(runs[-1])
    draw = random.Random(seed)
    with ScriptedOpenAIServer() as server:
        for task in tasks:
            runs.append(bench.run_scripted(task, server, lambda: draw.uniform(*latency)))
            if on_run is not None:
                on_run(runs[-1])
    return runs


def _print_run(run: TaskRun) -> None:
    if run.mode == "offline" and not run.claimed:
        verdict = "not claimed"
    else:
        verdict = "ok" if run.success else f"FAILED ({run.problem})"
    print(f"{run.mode:8s} {run.category:11s} {run.task:20s} {run.seconds * 1000:8.1f} ms  {verdict}")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--latency", nargs=2, type=float, default=(0.3, 0.8), metavar=("MIN_S", "MAX_S"))
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ng-tasks-") as folder:
        runs = run_suite(
            TASKS, Path(folder), tuple(args.latency), args.seed, None if args.quiet else _print_run
        )
    summary = summarize(runs)
    for category, counts in summary["categories"].items():
        print(
            f"{category:11s} {counts['tasks']:2d} tasks: offline {counts['offline_ok']}/"
            f"{counts['offline_claimed']} claimed, scripted {counts['scripted_ok']}/{counts['tasks']}"
        )
    print(
        f"offline: {summary['offline_success']:.0%} of {summary['offline_claimed']} claimed tasks (of "
        f"{summary['tasks']}), p50 {summary['offline_p50_s'] * 1000:.1f} ms, p95 "
        f"{summary['offline_p95_s'] * 1000:.1f} ms; scripted model: {summary['scripted_success']:.0%}, p50 "
        f"{summary['scripted_p50_s'] * 1000:.1f} ms, p95 {summary['scripted_p95_s'] * 1000:.1f} ms without "
        f"the model's {summary['scripted_model_s']:.1f} s of latency"
    )
    summary["floors"] = described(FLOORS)
    summary["holds"] = holds(summary, FLOORS)
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()

"""The Training page: start runs of the multimodal foundation model, follow them live, steer, compare,
evaluate and interpret them.

``?page=training&run=<id>`` opens that run. One ``RunController`` per server holds the threads
of the runs it started (``shared_controller``); each session has its own view of the run
folders under ``<workspace>/training/runs`` (``RunRegistry``), so runs survive a server restart:
a run whose process is gone is listed as interrupted and can be resumed from a checkpoint.
Files are read off the session's thread (``BackgroundWork``) by two periodic callbacks that
stop with the session: the open run every second (new metric rows only), the run list every
three seconds. The page imports without torch; starting or evaluating a run then says to
install it.

Runs belong to the signed-in user who started them (the run list shows each run's owner): only
they or an admin can pause, resume or stop one, and a start is held to the operator's limits
(runs at once per person and per server, steps, window length, processes); a refusal is shown
as the page's message.
"""

from __future__ import annotations

import html
import importlib.util
import json
import os
import threading
from pathlib import Path
from typing import Any

import panel as pn
import param

from app.context import AppContext
from app.identity import session_person
from app.registry import register_page
from app.routing import PageLink
from app.settings import Settings
from components.background import BackgroundWork, is_served, on_session_thread
from components.job_watcher import JobWatcher
from components.safe_text import escape_text, text_alert
from components.training.compare import RunComparison
from components.training.controls import CheckpointList, RunControls, RunHeader
from components.training.evaluation import EvaluationPanel
from components.training.follow import RunFollower, RunSnapshot
from components.training.form import StartRunForm
from components.training.interpret import InterpretationPanel
from components.training.live import LiveCurves
from components.training.runs import RunList
from components.training.state import NO_RUN, OpenRun
from engines.errors import NeurodeckError
from engines.training import OptionalDependencyMissing, RunNotFound, RunRegistry, RunState, TrainingConfig
from engines.training.jobs import EVALUATE
from engines.training.limits import RunLimits

__all__ = ["TrainingLink", "TrainingPage", "build_training_page", "shared_controller", "INSTALL_TORCH"]

INSTALL_TORCH = (
    "Training needs PyTorch, which is not installed on this server: install it (pip install torch; "
    "the CPU wheel is enough) and restart. Runs already in the workspace are still listed and plotted."
)
FOLLOW_MS, LIST_MS = 1000, 3000
_STEERING = {
    "pause": "Pausing after the current step (it writes a checkpoint).",
    "resume": "Resuming.",
    "stop": "Stopping after the current step (it writes a final checkpoint).",
}

_CONTROLLER_LOCK = threading.Lock()
_CONTROLLERS: dict[Path, Any] = {}  # one per workspace (Settings holds dicts, so it cannot key a cache)


class TrainingLink(PageLink):
    """``?page=training&run=<id>``."""

    run = param.String(
        default="", doc="Id of the open run (its folder name under <workspace>/training/runs)."
    )


def _torch_installed() -> bool:
    """Whether torch can be imported, without importing it (seconds, and memory) just to ask."""
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def shared_controller(settings: Settings):
    """The server's one ``RunController`` (created on first use: it imports torch, seconds)."""
    with _CONTROLLER_LOCK:
        controller = _CONTROLLERS.get(settings.workspace)
        if controller is None:
            try:
                from engines.training.trainer.control import RunController
            except ImportError:
                raise OptionalDependencyMissing(INSTALL_TORCH) from None
            controller = _CONTROLLERS[settings.workspace] = RunController(
                settings.workspace, settings.source_policy()
            )
        return controller


def _error_text(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, NeurodeckError) else f"{type(exc).__name__}: {exc}"


def _read_evaluation(result_dir: Path) -> dict[str, Any]:
    return json.loads((Path(result_dir) / "evaluation.json").read_text(encoding="utf-8"))


class TrainingPage(pn.viewable.Viewer):
    """Form and run list on the left; the open run's header, controls and tabs on the right."""

    def __init__(self, ctx: AppContext, link: TrainingLink) -> None:
        super().__init__()
        self._ctx = ctx
        self._link = link
        self._registry = RunRegistry(ctx.settings.workspace)
        settings = ctx.settings
        self._person = session_person(settings)
        self._limits = RunLimits(
            runs_per_user=settings.max_runs_per_user,
            runs_total=settings.max_runs_total,
            max_steps=settings.max_train_steps,
            max_window_s=settings.max_train_window_s,
            max_processes=settings.max_train_processes,
        )
        self._work = BackgroundWork(name="training")
        self._follower: RunFollower | None = None
        self.run = OpenRun()
        self._callbacks: list[Any] = []
        self._transient = False
        self._message = pn.Column(sizing_mode="stretch_width")
        self.form = StartRunForm(
            self.start,
            default_nwb=ctx.settings.default_source,
            max_processes=min(os.cpu_count() or 1, settings.max_train_processes),
        )
        self.runs = RunList()
        self.header = RunHeader(self.run)
        self.controls = RunControls(self.run, self.command)
        self.checkpoints = CheckpointList(self.run, self.resume_from)
        self.live = LiveCurves(self.run)
        self.evaluation = EvaluationPanel(self.run, self.evaluate)
        self.interpretation = InterpretationPanel(self.run, self.interpret)
        self.comparison = RunComparison(
            self._work, lambda run_id, split, metric: self._registry.get(run_id).metric_series(split, metric)
        )
        self.runs.param.watch(lambda e: setattr(self._link, "run", e.new), "selected")
        self.runs.param.watch(
            lambda _e: self.comparison.show_runs(self.runs.visible, self.runs.compare), ["visible", "compare"]
        )
        link.param.watch(lambda e: self._open(e.new), "run")
        link.param.watch(lambda e: self._show_problems(e.new), "problems")
        self._work.on_close(self._stop_following)
        self._show_problems(link.problems)
        pn.state.onload(on_session_thread(self._on_load))  # Panel's pool runs it once loaded

    # --- following ----------------------------------------------------------------------------------
    def _on_load(self) -> None:
        self.refresh_runs()
        self._open(self._link.run)
        if is_served(pn.state.curdoc) and not self._callbacks:
            self._callbacks = [
                pn.state.add_periodic_callback(lambda: self.poll(periodic=True), period=FOLLOW_MS),
                pn.state.add_periodic_callback(lambda: self.refresh_runs(periodic=True), period=LIST_MS),
            ]

    def _stop_following(self) -> None:
        for callback in self._callbacks:
            callback.stop()
        self._callbacks = []
        self.evaluation.stop()

    def refresh_runs(self, periodic: bool = False) -> None:
        """Re-read every run folder (off the session's thread) and update the list and the comparison.

        ``periodic``: asked by the timer, which waits for the previous answer to be shown (``poll``).
        """
        ask = self._work.poll if periodic else self._work.run
        ask(
            "runs",
            self._registry.runs_frame,
            apply=self.runs.update,
            failed=lambda exc: self._notify(f"Could not list the runs: {_error_text(exc)}", "danger"),
        )

    def poll(self, periodic: bool = False) -> None:
        """Read the open run's new metric rows, status and checkpoints (off the session's thread)."""
        follower = self._follower
        if follower is not None:
            ask = self._work.poll if periodic else self._work.run
            ask(
                "follow",
                follower.read,
                apply=self._adopt,
                failed=lambda exc: self._notify(f"Could not read the run: {_error_text(exc)}", "danger"),
            )

    def _adopt(self, snapshot: RunSnapshot) -> None:
        """A read of the open run, on the session's thread: its views follow ``self.run``."""
        follower = self._follower
        if follower is None or not follower.adopt(snapshot):
            return
        previous = self.run.state
        self.run.adopt(snapshot, follower)
        if previous is not None and previous != snapshot.state:
            if self._transient:  # "Pausing…", "Started…": the new state says it now
                self._message[:] = []
            self.refresh_runs()

    def _open(self, run_id: str) -> None:
        """Show ``run_id`` (from the link, the list or a new start); '' shows nothing."""
        if self._follower is not None and self._follower.run_id == run_id:
            return
        self._follower = None
        self.evaluation.watch(None)
        self.interpretation.clear()
        self.runs.selected = run_id
        if not run_id:
            self.run.close(NO_RUN)
            return
        try:
            folder = self._registry.get(run_id)
        except RunNotFound as exc:
            self.run.close("No run open.")
            self._notify(str(exc), "warning")
            return
        self._message[:] = []
        self._follower = RunFollower(folder)
        self.run.close(f"Opening {run_id}…", run_id)
        self._work.run("evaluation", folder.evaluation, apply=self.evaluation.show_evaluation)
        self.poll()

    # --- actions --------------------------------------------------------------------------------------
    def _notify(self, text: str, kind: str = "info") -> None:
        self._transient = kind in ("info", "success")
        self._message[:] = [
            text_alert(
                text, alert_type=kind, sizing_mode="stretch_width", css_classes=["nd-training-message"]
            )
        ]

    def _show_problems(self, problems: list[str]) -> None:
        if problems:
            self._message[:] = [
                text_alert(p, alert_type="warning", sizing_mode="stretch_width") for p in problems
            ]

    @property
    def message(self) -> str:
        """The message shown above the run ('' when none): what happened, or what went wrong."""
        alerts = [pane for pane in self._message if isinstance(pane, pn.pane.Alert)]
        return "\n".join(html.unescape(str(alert.object)) for alert in alerts)  # as it reads on screen

    def start(self, config: TrainingConfig, nproc: int) -> None:
        """Start a run of ``config`` (``nproc`` > 1: torchrun) off the session's thread, then open it."""
        settings = self._ctx.settings
        self.form.busy(True)
        self._notify("Starting the run (the first start loads PyTorch: a few seconds)…")

        def started(run_id: str) -> None:
            self.form.busy(False)
            self._link.run = run_id  # opens it
            self._notify(f"Started {config.name or run_id}: preparing its data, then training.", "success")
            self.refresh_runs()

        def failed(exc: BaseException) -> None:
            self.form.busy(False)
            self._message[:] = []
            self.form.show_error(_error_text(exc))

        person, limits = self._person, self._limits
        self._work.run(
            "start",
            lambda: shared_controller(settings).start(config, nproc=nproc, person=person, limits=limits),
            apply=started,
            failed=failed,
        )

    def _steer(self, action, done: str) -> None:
        """Run a controller call off the session's thread; its typed errors become the message."""
        settings = self._ctx.settings

        def work() -> None:
            action(shared_controller(settings))

        def finished(_result: None) -> None:
            self._notify(done, "success")
            self.poll()
            self.refresh_runs()

        self._work.run(
            "steer", work, apply=finished, failed=lambda exc: self._notify(_error_text(exc), "danger")
        )

    def command(self, command: str) -> None:
        """Pause, resume or stop the open run; "resume" on a run that is not paused (stopped, failed,
        interrupted) continues it from its newest checkpoint."""
        if command not in _STEERING:
            raise ValueError(f"Unknown command {command!r}; use {', '.join(_STEERING)}.")
        if self._follower is None:
            return
        run_id, state = self._follower.run_id, self.run.state
        person, limits = self._person, self._limits
        if command == "resume" and state != RunState.PAUSED:
            self._steer(
                lambda c: c.resume_from_checkpoint(run_id, person=person, limits=limits),
                f"Resuming {run_id} from its newest checkpoint.",
            )
            return
        self._steer(lambda c: getattr(c, command)(run_id, person=person), _STEERING[command])

    def resume_from(self, step: int) -> None:
        """Continue the open run from its checkpoint at ``step`` (the later history is dropped)."""
        if self._follower is not None:
            run_id, person, limits = self._follower.run_id, self._person, self._limits
            self._steer(
                lambda c: c.resume_from_checkpoint(run_id, step, person=person, limits=limits),
                f"Resuming {run_id} from step {step}.",
            )

    def _checkpoint_step(self, step: int | None, verb: str) -> int | None:
        """``step`` of the open run (None: its newest), or None after saying why there is none to ``verb``."""
        steps = self.run.checkpoint_steps()
        if self._follower is None:
            self._notify("Open a run first.", "warning")
        elif not _torch_installed():
            self._notify(INSTALL_TORCH, "danger")
        elif step is None and not steps:
            self._notify(f"This run has no checkpoint yet; {verb} it once it has written one.", "warning")
        else:
            return step if step is not None else steps[-1]
        return None

    def evaluate(self, step: int | None, cebra_iterations: int) -> None:
        """Request the evaluation job for the open run's checkpoint ``step`` (None: the newest) and follow
        it."""
        step = self._checkpoint_step(step, "evaluate")
        if step is None or self._follower is None:
            return
        run_id = self._follower.run_id

        def ready(result_dir: Path) -> None:
            if self._follower is not None and self._follower.run_id == run_id:
                self.evaluation.show_evaluation(_read_evaluation(result_dir))
                self.refresh_runs()

        inputs = {"run": run_id, "checkpoint_step": step, "cebra_iterations": int(cebra_iterations)}
        jobs = self._ctx.jobs.acting_as(self._person, self._ctx.settings.jobs_per_minute)
        self.evaluation.watch(JobWatcher(jobs, EVALUATE, inputs, ready, f"Evaluation of step {step}"))

    def interpret(self, step: int | None) -> None:
        """Analyse the latents of the open run's checkpoint ``step`` (None: the newest) off the session's
        thread."""
        chosen = self._checkpoint_step(step, "interpret")
        if chosen is None or self._follower is None:
            return
        folder = self._follower.folder

        def compute():
            from engines.training.evaluation.evaluate import load_trained_run
            from engines.training.interpret import interpret_run

            return interpret_run(load_trained_run(folder, chosen))

        self.interpretation.working(f"Computing the latents of step {chosen} and analysing them…")
        self._work.run(
            "interpret",
            compute,
            apply=lambda result: self.interpretation.show_result(result, chosen),
            failed=lambda exc: self.interpretation.working(
                f"**Could not interpret:** {escape_text(_error_text(exc))}"
            ),
        )

    def __panel__(self) -> pn.viewable.Viewable:
        sidebar = pn.Column(
            pn.Card(self.form, title="New run", sizing_mode="stretch_width", collapsible=True),
            pn.pane.Markdown("### Runs", margin=(10, 10, 0, 10)),
            self.runs,
            width=440,
        )
        tabs = pn.Tabs(
            ("Live", self.live),
            ("Checkpoints", self.checkpoints),
            ("Evaluation", self.evaluation),
            ("Interpretability", self.interpretation),
            ("Compare runs", self.comparison),
            sizing_mode="stretch_width",
            dynamic=True,
        )
        main = pn.Column(
            self._message, self.header, self.controls, tabs, sizing_mode="stretch_width", min_width=600
        )
        return pn.Row(sidebar, main, sizing_mode="stretch_width")


@register_page("training", "Training", icon="∿", order=40, link=TrainingLink, extensions=("tabulator",))
def build_training_page(ctx: AppContext, link: TrainingLink) -> TrainingPage:
    return TrainingPage(ctx, link)

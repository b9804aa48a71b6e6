"""The Curation review page: open an analyzer, find candidate merges, judge them, review, label, apply,
export.

``?page=curation&analyzer=<folder>&group=<id>`` opens that analyzer (a folder under the
server's roots or workspace; empty: the generated demo) with that group in focus. Heavy work
(extensions, judging, applying) runs as jobs of the job system, with progress and cancel;
candidates and images are computed off the session's thread.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import panel as pn
import param

from app.context import AppContext
from app.identity import jobs_for, model_budget_for, session_person
from app.registry import register_page
from app.routing import PageLink
from components.background import BackgroundWork, on_session_thread
from components.curation.apply import ApplyMerges
from components.curation.calibration import ReliabilityDiagram
from components.curation.candidates import CandidateSearch
from components.curation.deep_dive import DeepDive
from components.curation.grid import CurationGrid
from components.curation.labels import UnitLabels
from components.curation.reviewers import ReviewersPanel
from components.job_watcher import JobWatcher
from components.safe_text import escape_text, text_alert
from engines._filesystem import build_lock
from engines.curation import (
    CandidateRequest,
    CurationReview,
    demo_truth,
    ensure_demo_analyzer,
)
from engines.curation.calibration import (
    ReliabilityReport,
    fit_reliability,
    load_calibration,
    review_reliability,
)
from engines.curation.jobs import APPLY_KIND, EXTENSIONS_KIND, JUDGE_KIND, resolve_analyzer_folder
from engines.curation.unitrefine import UnitRefineModels
from engines.errors import NeurodeckError
from engines.people import LimitReached

__all__ = ["CurationLink", "build_curation_page"]

log = logging.getLogger(__name__)


class CurationLink(PageLink):
    """``?page=curation&analyzer=<folder>&group=<id>``."""

    analyzer = param.String(default="", doc="SortingAnalyzer folder ('' = the generated demo).")
    group = param.Integer(default=None, allow_None=True, doc="The candidate group in focus.")


def _read_report(folder: str) -> dict[str, Any]:
    return json.loads((Path(folder) / "report.json").read_text())


def _demo_folder(ctx: AppContext) -> Path:
    return ensure_demo_analyzer(ctx.settings.workspace)


class CurationPage(pn.viewable.Viewer):
    """Analyzer bar on top; tabs: review grid (with spikeinterface-gui's deep dive below it), candidates &
    judge, units & labels, apply & export, calibration (the metrics judge's reliability diagram)."""

    def __init__(self, ctx: AppContext, link: CurationLink) -> None:
        super().__init__()
        self._ctx = ctx
        self._link = link
        self._work = BackgroundWork(name="curation")
        self._person = session_person(ctx.settings)
        self._jobs_service = jobs_for(ctx, self._person)
        self._review: CurationReview | None = None
        self._grid: CurationGrid | None = None
        self._calibration = ReliabilityDiagram()
        self._watchers: list[JobWatcher] = []
        self._analyzer_input = pn.widgets.TextInput(
            name="SortingAnalyzer folder",
            value=link.analyzer,
            placeholder="A folder under the server's roots; empty: the demo",
            sizing_mode="stretch_width",
        )
        open_button = pn.widgets.Button(name="Open", button_type="primary", width=80, align="end")
        open_button.on_click(self._open_analyzer)
        self._status = pn.pane.Markdown("", margin=(0, 10))
        self._message = pn.Column(sizing_mode="stretch_width")
        self._jobs = pn.Column(sizing_mode="stretch_width")
        self._body = pn.Column(sizing_mode="stretch_width", min_height=320)  # room for the loading spinner
        self._bar = pn.Row(self._analyzer_input, open_button, sizing_mode="stretch_width")
        link.param.watch(lambda _e: self._open(), ["analyzer"])
        link.param.watch(self._on_link_group, ["group"])
        self._body.loading = True
        pn.state.onload(on_session_thread(self._open))  # Panel's pool runs it once loaded

    # --- opening ---------------------------------------------------------------------------------------
    def _open_analyzer(self, _event: param.parameterized.Event) -> None:
        """Open: the typed folder goes to the link, whose watcher opens it (empty: the demo)."""
        self._link.param.update(analyzer=(self._analyzer_input.value or "").strip(), group=None)

    def _open(self) -> None:
        text = self._link.analyzer.strip()
        self._body.loading = True
        self._status.object = (
            "Opening the analyzer…"
            if text
            else "Opening the demo analyzer (generated on first use: about 30 s)…"
        )
        self._work.run("open", lambda: self._load(text), apply=self._adopt, failed=self._failed)

    def _load(self, text: str) -> CurationReview:
        """Off the session's thread: resolve the folder under the allowed roots and open it."""
        settings = self._ctx.settings
        folder = (
            _demo_folder(self._ctx) if not text else resolve_analyzer_folder(text, settings.job_environment())
        )
        review = CurationReview.open(
            settings.workspace,
            folder,
            llm=settings.llm,
            trust_pickles=settings.trust_pickles,
            owner=self._person.name,
        )
        if not review.status.missing and not review.candidates():  # first visit: something to review at once
            # once, whichever tab, server or process opens a new analyzer first; the others wait for its
            # result
            with build_lock(settings.workspace, f"curation-first-{review.key}", wait_s=600):
                if not review.candidates():
                    review.find_candidates(CandidateRequest.recommended())
                    review.judge("metrics")
        return review

    def _failed(self, exc: BaseException) -> None:
        self._body.loading = False
        self._status.object = ""
        text = str(exc) if isinstance(exc, NeurodeckError) else f"{type(exc).__name__}: {exc}"
        self._message[:] = [text_alert(text, alert_type="danger", sizing_mode="stretch_width")]

    def _adopt(self, review: CurationReview) -> None:
        self._review = review
        self._message[:] = []
        for watcher in self._watchers:
            watcher.stop()
        self._watchers = []
        self._jobs[:] = []
        self._grid = CurationGrid(review, self._work, on_rejudge=self._judge, group=self._link.group)
        self._grid.param.watch(lambda e: setattr(self._link, "group", e.new), "group")
        deep_dive = DeepDive(review, self._work, on_saved=self._refresh_grid, group=self._grid.group)
        self._grid.param.watch(lambda e: setattr(deep_dive, "group", e.new), "group")
        self._body[:] = [
            pn.Tabs(
                ("Review", pn.Column(self._grid, deep_dive, sizing_mode="stretch_width")),
                ("Candidates & judge", self._judge_panel(review)),
                ("Units & labels", UnitLabels(review, self._work, self._unitrefine())),
                ("Reviewers", ReviewersPanel(review, self._work)),
                ("Apply & export", self._apply_panel(review)),
                ("Calibration", self._calibration),
                sizing_mode="stretch_width",
                dynamic=True,
            )
        ]
        self._body.loading = False
        self._describe()
        self._calibration.update(self._reliability(review))
        if review.status.missing:
            self._message[:] = [
                pn.pane.Alert(
                    f"This analyzer lacks {', '.join(review.status.missing)}; compute them "
                    "(a job, cancellable) under Candidates & judge before finding candidates."
                    + (
                        f" {', '.join(review.status.untrusted)} were saved as pickles and left out "
                        "(the operator can allow them with --trust-pickles)."
                        if review.status.untrusted
                        else ""
                    ),
                    alert_type="warning",
                )
            ]

    def _unitrefine(self) -> UnitRefineModels:
        """The operator's UnitRefine models (none: the tab offers none); under the roots or workspace."""
        settings = self._ctx.settings
        return UnitRefineModels(
            settings.unitrefine_models,
            (*settings.allowed_roots, settings.workspace),
            settings.unitrefine_trusted_types,
        )

    def _describe(self) -> None:
        review = self._review
        if review is None:  # still opening: the status line says so already
            return
        groups = len(review.candidates())
        decided = len(review.decisions())
        judge = (
            escape_text(self._ctx.settings.llm.describe()) if self._ctx.settings.llm else "offline (metrics)"
        )
        self._status.object = (
            f"**{escape_text(review.path.name) if review.path else 'analyzer'}** · "
            f"{len(review.analyzer.unit_ids)} units · {groups} candidate groups · "
            f"{decided} judged · judge model: {judge}"
        )

    def _reliability(self, review: CurationReview) -> ReliabilityReport | None:
        """The demo's own calibration (its true merges are known); for any other analyzer, the shipped map's
        fit data, labelled as such."""
        if self._link.analyzer.strip():
            return fit_reliability(load_calibration())
        truth = demo_truth(self._ctx.settings.workspace)["true_groups"]
        return review_reliability(review.decisions("metrics").values(), truth)

    def _on_link_group(self, event) -> None:
        if self._grid is not None and event.new is not None and event.new != self._grid.group:
            self._grid.group = event.new

    # --- jobs --------------------------------------------------------------------------------------------
    def _watch(self, kind: str, inputs: dict[str, Any], label: str, on_ready) -> None:
        watcher = JobWatcher(self._jobs_service, kind, inputs, on_ready, label)
        self._watchers.append(watcher)
        self._jobs.append(watcher)

    @staticmethod
    def _analyzer_inputs(review: CurationReview) -> dict[str, Any]:
        return {"analyzer": str(review.path)}

    def _compute_extensions(self, review: CurationReview) -> None:
        missing = list(review.status.missing)
        if not missing:
            self._message[:] = [pn.pane.Alert("Every extension curation needs is there.", alert_type="info")]
            return
        self._watch(
            EXTENSIONS_KIND,
            {**self._analyzer_inputs(review), "extensions": missing},
            "Extensions",
            lambda _folder: self._open(),
        )

    def _judge(self, group_ids: list[int] | None = None) -> None:
        review = self._review
        if review is None:  # the judge's controls exist only once an analyzer is open
            return
        judge = self._judge_select.value
        settings = self._ctx.settings
        if self._workers.value is None:  # the input was cleared
            self._message[:] = [
                text_alert("Choose how many parallel model calls to make.", alert_type="warning")
            ]
            return
        params = {"num_workers": int(self._workers.value), "max_workers": settings.max_model_workers}
        try:
            if (
                judge == "vlm"
            ):  # model calls cost money: the operator caps their fan-out and each person's budget
                if params["num_workers"] > settings.max_model_workers:
                    raise LimitReached(
                        f"At most {settings.max_model_workers} parallel model calls on this server; "
                        f"choose {settings.max_model_workers} or fewer."
                    )
                count = len(group_ids) if group_ids is not None else len(review.candidates())
                model_budget_for(settings, self._person).take(count)
        except LimitReached as exc:
            self._message[:] = [text_alert(str(exc), alert_type="warning", sizing_mode="stretch_width")]
            return
        run_id = review.start_judge_run(judge, group_ids, params)
        self._watch(
            JUDGE_KIND,
            {**self._analyzer_inputs(review), "run_id": run_id},
            f"{judge} judge run {run_id}",
            lambda _folder: self._after_judging(),
        )
        self._live = pn.state.add_periodic_callback(
            on_session_thread(self._refresh_grid), period=2000, count=900
        )

    def _refresh_grid(self) -> None:
        """Decisions land in the store as they are made: show them while the run goes on."""
        if self._grid is not None and self._review is not None:
            self._grid.refresh()
            self._describe()
            self._calibration.update(self._reliability(self._review))

    def _after_judging(self) -> None:
        if getattr(self, "_live", None) is not None:
            self._live.stop()
        self._refresh_grid()

    # --- panels --------------------------------------------------------------------------------------------
    def _judge_panel(self, review: CurationReview) -> pn.viewable.Viewable:
        """Finding candidates, then judging them (the judge and its fan-out), and the missing extensions."""
        search = CandidateSearch(review, self._work, on_found=self._refresh_grid)
        self._judge_select = pn.widgets.Select(
            name="Judge", options=["metrics", "vlm"] if self._ctx.settings.llm else ["metrics"], width=160
        )
        most = self._ctx.settings.max_model_workers
        self._workers = pn.widgets.IntInput(
            name="Parallel model calls", value=min(8, most), start=1, end=most, width=160
        )
        judge_all = pn.widgets.Button(name="Judge all groups", button_type="primary", width=160)
        judge_all.on_click(lambda _e: self._judge(None))
        judge_unjudged = pn.widgets.Button(name="Judge groups not judged yet", width=220)
        judge_unjudged.on_click(
            lambda _e: self._judge(
                [g.group_id for g in review.candidates() if g.group_id not in review.decisions()] or None
            )
        )
        extensions = pn.widgets.Button(name="Compute missing extensions", width=220)
        extensions.on_click(lambda _e: self._compute_extensions(review))
        offline = (
            ""
            if self._ctx.settings.llm
            else " The vision-language judge needs a model endpoint (OPENAI_BASE_URL / OPENAI_API_KEY)."
        )
        return pn.Column(
            search,
            pn.pane.Markdown(f"### Judge{offline}"),
            pn.Row(self._judge_select, self._workers),
            pn.Row(judge_all, judge_unjudged),
            pn.pane.Markdown("### Extensions"),
            extensions,
            sizing_mode="stretch_width",
        )

    def _apply_panel(self, review: CurationReview) -> ApplyMerges:
        """Apply runs as a job; its report file is read here and shown by the panel."""
        panel = ApplyMerges(review, on_apply=lambda curation: start(curation))

        def start(curation: dict[str, Any]) -> None:
            self._watch(
                APPLY_KIND,
                {**self._analyzer_inputs(review), "curation": curation, "censor_ms": 0.4},
                "Apply merges",
                lambda folder: panel.show_report(folder, _read_report(folder)),
            )

        return panel

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            self._bar, self._status, self._message, self._jobs, self._body, sizing_mode="stretch_width"
        )


@register_page(
    "curation", "Curation review", icon="✓", order=30, link=CurationLink, extensions=("tabulator",)
)
def build_curation_page(ctx: AppContext, link: CurationLink) -> CurationPage:
    return CurationPage(ctx, link)

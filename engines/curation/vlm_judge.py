"""The VLM judge: a vision-language model looks at each group's images, reports per image, then decides.

Per group: one call per feature image (the correlogram grid, the amplitude plot, optionally
templates), each with the few-shot example groups' images of that feature, then one text
call that turns the reports into a JSON decision. Calls run concurrently under one limit
(``num_workers``, any value >= 1) with ``num_workers`` groups in flight, so the limit stays
busy whatever the number of features. Every group ends with a decision or an error row
(the reference workflow left failed groups with an empty ``merge_type``).

The calls go through the agent engine's client (``engines.agent``): its timeouts, retries
with backoff (Retry-After honoured, never on a refused key), a ``CircuitBreaker`` per run
that stops every call once the endpoint is known to be down, and per-call token usage,
priced here with ``ModelPricing``.

Model calls cost money, so the operator bounds them: ``max_workers`` caps ``num_workers`` (one
request may not fan out to hundreds of paid calls at once), and a person's ``budget`` (their
model calls per hour) is charged one judgement per group before any call is made; a batch larger
than what is left is refused whole, with how many are left and when more free up.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from engines._progress import Cancel, Progress, is_cancelled
from engines.agent import (
    CircuitBreaker,
    ImageAnswer,
    LlmConfig,
    LlmEndpointError,
    LlmSetupError,
    ModelPricing,
    OpenAICompatibleModel,
    Retrying,
    TokenUsage,
    ask_about_images_async,
    image_part,
)
from engines.agent.images import Reader
from engines.curation._reply import ParsedDecision, parse_decision
from engines.curation.errors import CurationError
from engines.curation.judge import Judge, JudgeContext, OnDecision
from engines.curation.model import MERGE, UNSURE, CandidateGroup, MergeDecision
from engines.limits import Budget
from engines.people import LimitReached

__all__ = ["VlmJudge", "VlmJudgeParams", "load_prompt", "MAX_MODEL_WORKERS"]

VLM_FEATURES = ("crosscorrelograms", "amplitude_plot", "templates")
MAX_MODEL_WORKERS = 8
"""Most model calls one judge may have in flight unless the operator says otherwise
(``Settings.max_model_workers``)."""


def load_prompt(name: str) -> str:
    """A prompt file shipped in ``engines/curation/prompts`` (package data)."""
    return resources.files("engines.curation.prompts").joinpath(f"{name}.md").read_text(encoding="utf-8")


def run_to_end(coroutine: Any) -> Any:
    """Run ``coroutine`` on an event loop of its own, also when the calling thread already runs one
    (a server's callback, a notebook): then on a short-lived thread, so that loop is never blocked
    re-entrantly."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="vlm-judge", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@dataclass(frozen=True)
class VlmJudgeParams:
    features: tuple[str, ...] = ("crosscorrelograms", "amplitude_plot")
    num_workers: int = 8
    """Most calls in flight at once (any value >= 1)."""
    pricing: ModelPricing | None = None
    """USD per million tokens for every call; None looks each model up in ``engines.agent.DEFAULT_PRICES``
    (0 when unknown)."""
    max_tokens: int = 700
    refractory_ms: float = 1.5


@dataclass
class _RunLimits:
    """What every call of one run shares: the concurrency limit and the breaker (made inside the run's
    loop)."""

    limit: asyncio.Semaphore
    breaker: CircuitBreaker


@dataclass
class _GroupCost:
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost_usd: float = 0.0
    retries: int = 0

    def count_retry(self, _notice: Retrying) -> None:
        self.retries += 1


def _unit_list(group: CandidateGroup) -> str:
    return ", ".join(str(u) for u in group.unit_ids)


class VlmJudge(Judge):
    """See the module docstring. Needs ``context.images`` (a ``GroupImages``) and an endpoint."""

    name = "vlm"

    def __init__(
        self,
        config: LlmConfig | None,
        params: VlmJudgeParams = VlmJudgeParams(),
        *,
        max_workers: int = MAX_MODEL_WORKERS,
        budget: Budget | None = None,
    ) -> None:
        if config is None:
            raise CurationError(
                "no model endpoint is configured, so the VLM judge cannot run; set the model's "
                "base URL in the settings or use the metrics judge"
            )
        if not isinstance(params.num_workers, int) or params.num_workers < 1:
            raise CurationError(
                f"num_workers must be a whole number of at least 1 (got {params.num_workers!r})"
            )
        if params.num_workers > max_workers:
            raise LimitReached(
                f"The VLM judge may make at most {max_workers} model calls at once on this server "
                f"(asked for {params.num_workers}; max_model_workers). Choose {max_workers} or fewer."
            )
        unknown = [f for f in params.features if f not in VLM_FEATURES]
        if unknown or not params.features:
            raise CurationError(f"unknown image feature(s) {unknown}; choose from {', '.join(VLM_FEATURES)}")
        # temperature 0 unless the settings say otherwise: the same images should get the same decision
        self.config = config if config.temperature is not None else replace(config, temperature=0.0)
        self.params = params
        self.budget = budget
        try:
            self.model = OpenAICompatibleModel(self.config)
        except LlmSetupError as exc:
            raise CurationError(f"{exc} Or use the metrics judge, which needs no model.") from exc
        self._limits: _RunLimits | None = None

    @property
    def endpoint_down(self) -> str | None:
        """Why the last run stopped calling the endpoint (unreachable, key or model refused), or None."""
        return None if self._limits is None else self._limits.breaker.open_reason

    def pricing(self, model: str) -> ModelPricing:
        """The price of ``model``'s tokens: the params' pricing, else its list price."""
        return self.params.pricing or ModelPricing.for_model(model)

    # --- the Judge interface ------------------------------------------------------------------
    def judge(self, group: CandidateGroup, context: JudgeContext) -> MergeDecision:
        """One group, synchronously (on its own event loop)."""
        found: list[MergeDecision] = []
        self.judge_many([group], context, found.append, lambda f, m: None, None)
        return found[0]

    def judge_many(
        self,
        groups: Sequence[CandidateGroup],
        context: JudgeContext,
        on_decision: OnDecision,
        progress: Progress,
        cancel: Cancel,
    ) -> None:
        if context.images is None:
            raise CurationError("the VLM judge needs the group images; open the analyzer through a review")
        if self.budget is not None and groups:
            self.budget.take(len(groups))
        run_to_end(self._run(list(groups), context, on_decision, progress, cancel))

    # --- the run ------------------------------------------------------------------------------
    async def _run(
        self,
        groups: list[CandidateGroup],
        context: JudgeContext,
        on_decision: OnDecision,
        progress: Progress,
        cancel: Cancel,
    ) -> None:
        limits = self._limits = _RunLimits(asyncio.Semaphore(self.params.num_workers), CircuitBreaker())
        queue: asyncio.Queue[CandidateGroup] = asyncio.Queue()
        for group in groups:
            queue.put_nowait(group)
        done = 0

        async def worker() -> None:
            nonlocal done
            while not queue.empty() and not is_cancelled(cancel):
                group = queue.get_nowait()
                decision = await self._judge_group(group, context, limits)
                on_decision(decision)
                done += 1
                progress(done / max(1, len(groups)), f"{done} of {len(groups)} groups judged")

        workers = [
            asyncio.create_task(worker()) for _ in range(min(self.params.num_workers, max(1, len(groups))))
        ]
        watcher = asyncio.create_task(self._watch(cancel, workers))
        try:
            await asyncio.gather(*workers, return_exceptions=True)
        finally:
            watcher.cancel()
            await self.model.aclose()

    @staticmethod
    async def _watch(cancel: Cancel, workers: list[asyncio.Task]) -> None:
        while not all(w.done() for w in workers):
            if is_cancelled(cancel):
                for task in workers:
                    task.cancel()
                return
            await asyncio.sleep(0.05)

    async def _judge_group(
        self, group: CandidateGroup, context: JudgeContext, limits: _RunLimits
    ) -> MergeDecision:
        started = time.perf_counter()
        cost = _GroupCost()
        try:
            reports = await asyncio.gather(
                *(self._feature_report(group, f, context, limits, cost) for f in self.params.features)
            )
            report = "\n\n".join(
                f"## {feature}\n{text.strip()}" for feature, text in zip(self.params.features, reports)
            )
            decision = await self._decide(group, report, limits, cost)
        except (CurationError, LlmEndpointError) as exc:
            decision = MergeDecision.failed(group, self.name, str(exc))
        except Exception as exc:  # a bug or library failure on one group must not lose the others
            decision = MergeDecision.failed(group, self.name, f"{type(exc).__name__}: {exc}")
        decision.tokens_in, decision.tokens_out = cost.usage.prompt_tokens, cost.usage.completion_tokens
        decision.cost_usd = round(cost.cost_usd, 6)
        decision.elapsed_s = time.perf_counter() - started
        decision.evidence = {
            **decision.evidence,
            "calls": cost.usage.requests,
            "retries": cost.retries,
            "model": self.config.model_for_images,
        }
        return decision

    def _format(self, name: str, group: CandidateGroup) -> str:
        return load_prompt(name).format(
            n_units=group.size, unit_list=_unit_list(group), refractory_ms=self.params.refractory_ms
        )

    async def _ask(
        self,
        prompt: str,
        images: Sequence[Path],
        limits: _RunLimits,
        cost: _GroupCost,
        *,
        system: str,
        model: str,
        history: Sequence[dict[str, Any]] = (),
        parse: Reader | None = None,
    ) -> ImageAnswer:
        """One question (with its one follow-up when ``parse`` cannot read the answer), counted into
        ``cost``."""
        answer = await ask_about_images_async(
            self.model,
            prompt,
            images,
            system=system,
            history=history,
            parse=parse,
            model_name=model,
            max_tokens=self.params.max_tokens,
            limit=limits.limit,
            breaker=limits.breaker,
            on_retry=cost.count_retry,
        )
        cost.usage.add(answer.usage)
        cost.cost_usd += self.pricing(model).cost(answer.usage)
        return answer

    async def _feature_report(
        self, group: CandidateGroup, feature: str, context: JudgeContext, limits: _RunLimits, cost: _GroupCost
    ) -> str:
        image = await asyncio.to_thread(context.images.image, group.unit_ids, feature)
        history = (
            await asyncio.to_thread(self._example_messages, feature, context) if context.examples else []
        )
        system = self._format("system", group) + "\n\n" + self._format(f"feature_{feature}", group)
        prompt = f"Group {group.group_id}: units {_unit_list(group)}. " + self._format(
            "feature_request", group
        )
        answer = await self._ask(
            prompt, [image], limits, cost, system=system, history=history, model=self.config.model_for_images
        )
        if not answer.text.strip():
            raise CurationError(f"the model sent an empty report for the {feature} image")
        return answer.text

    def _example_messages(self, feature: str, context: JudgeContext) -> list[dict[str, Any]]:
        content: list[dict[str, Any]] = [{"type": "text", "text": load_prompt("fewshot")}]
        for label, examples in (
            ("GOOD (merge)", context.examples.good),
            ("BAD (do not merge)", context.examples.bad),
        ):
            for example in examples:
                content.append({"type": "text", "text": f"Example {label}: units {_unit_list(example)}"})
                content.append(image_part(context.images.image(example.unit_ids, feature)))
        return [{"role": "user", "content": content}]

    async def _decide(
        self, group: CandidateGroup, report: str, limits: _RunLimits, cost: _GroupCost
    ) -> MergeDecision:
        def read(reply: str) -> ParsedDecision:
            return parse_decision(reply, group.unit_ids)

        answer = await self._ask(
            f"Reports on units {_unit_list(group)}:\n\n{report}",
            (),
            limits,
            cost,
            system=self._format("decision", group),
            model=self.config.model,
            parse=read,
        )
        parsed: ParsedDecision = answer.data
        return MergeDecision(
            group_id=group.group_id,
            unit_ids=group.unit_ids,
            judge=self.name,
            decision=parsed.decision,
            confidence=parsed.confidence,
            score=_score(parsed),
            reasoning=parsed.reasoning,
            report=report,
            merge_groups=parsed.merge_groups,
        )


def _score(parsed: ParsedDecision) -> float:
    """The merge score a decision implies: "not enough evidence" is a coin toss, whatever its confidence."""
    if parsed.decision == MERGE:
        return parsed.confidence
    return 0.5 if parsed.decision == UNSURE else 1 - parsed.confidence

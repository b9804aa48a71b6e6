"""What tokens cost: list prices per model, so a run can show its spend next to its token counts.

Prices change and local servers (Ollama, vLLM) cost nothing per token, so an unknown model
costs 0 and a caller can pass its own ``ModelPricing``.
"""

from __future__ import annotations

from dataclasses import dataclass

from engines.agent.replies import TokenUsage

__all__ = ["DEFAULT_PRICES", "ModelPricing"]

DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
}
"""USD per million (input, output) tokens, OpenAI's list prices when written; pass ``ModelPricing`` to
override."""


@dataclass(frozen=True)
class ModelPricing:
    """USD per million input (prompt) and output (completion) tokens."""

    input_per_million: float = 0.0
    output_per_million: float = 0.0

    @classmethod
    def for_model(cls, model: str) -> ModelPricing:
        """The list price of ``model`` from ``DEFAULT_PRICES``; free (0) when the model is not listed."""
        return cls(*DEFAULT_PRICES.get(model, (0.0, 0.0)))

    def cost(self, usage: TokenUsage) -> float:
        """USD for the tokens in ``usage``."""
        return (
            usage.prompt_tokens * self.input_per_million + usage.completion_tokens * self.output_per_million
        ) / 1e6

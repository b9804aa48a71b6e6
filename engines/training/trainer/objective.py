"""The per-batch objective: which tasks a batch allows, their losses, and their uncertainty-weighted sum."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from engines.training.data.windows import Batch, WindowDataset
from engines.training.losses import (
    UncertaintyWeighting,
    domain_adversarial_loss,
    reconstruction_loss,
    tri_modal_info_nce,
)
from engines.training.model.foundation import FoundationModel

__all__ = ["TensorBatch", "to_tensors", "behaviour_loss", "Objective"]


@dataclass
class TensorBatch:
    session: int
    inputs: dict[str, torch.Tensor]
    targets: dict[str, torch.Tensor]
    masks: dict[str, torch.Tensor]
    behaviour: torch.Tensor | None
    stimulus: torch.Tensor | None
    species: torch.Tensor
    heldout: torch.Tensor
    n_tokens: int


def to_tensors(batch: Batch, dataset: WindowDataset, device: torch.device) -> TensorBatch:
    def move(array: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.as_tensor(array, dtype=dtype).to(device, non_blocking=True)

    def move_optional(array: np.ndarray | None, dtype: torch.dtype = torch.float32) -> torch.Tensor | None:
        return None if array is None else move(array, dtype)

    size = next(iter(batch.inputs.values())).shape[0]
    return TensorBatch(
        session=batch.session,
        inputs={m: move(a) for m, a in batch.inputs.items()},
        targets={m: move(a) for m, a in batch.targets.items()},
        masks={m: move(a, torch.bool) for m, a in batch.masks.items()},
        behaviour=move_optional(batch.behaviour),
        stimulus=move_optional(batch.stimulus, torch.long),
        species=torch.full((size,), batch.species, dtype=torch.long, device=device),
        heldout=torch.as_tensor(dataset.heldout_units(batch.session), dtype=torch.long, device=device),
        n_tokens=batch.n_tokens,
    )


def _reconstruction_losses(
    predictions: dict[str, torch.Tensor], batch: TensorBatch
) -> dict[str, torch.Tensor]:
    """Each modality's reconstruction loss: masked bins, and for spikes every bin of the held-out units."""
    return {
        m: reconstruction_loss(
            pred.float(),
            batch.targets[m],
            batch.masks[m],
            m == "spikes",
            batch.heldout if m == "spikes" else None,
        )
        for m, pred in predictions.items()
    }


def behaviour_loss(
    prediction: torch.Tensor, behaviour: torch.Tensor, masks: dict[str, torch.Tensor]
) -> torch.Tensor:
    """Squared error of the decoded behaviour on the windows with no masked input (all windows when
    every one has some): decoding is learnt from inputs as an evaluation gives them."""
    masked = torch.stack([m.any(dim=1) for m in masks.values()]).any(dim=0) if masks else None
    if masked is None or bool(masked.all()):
        return F.mse_loss(prediction, behaviour)
    return F.mse_loss(prediction[~masked], behaviour[~masked])


class Objective(nn.Module):
    """Task losses for a batch and their weighted total; ``tasks`` are the enabled ones from the config."""

    def __init__(self, tasks: Sequence[str], temperature: float) -> None:
        super().__init__()
        self.tasks = list(tasks)
        self.temperature = temperature
        self.weighting = UncertaintyWeighting(self.tasks)
        self.modality_losses: dict[str, float] = {}
        """The last batch's reconstruction loss per modality (the Live tab plots them; not weighted)."""

    def task_losses(
        self,
        model: FoundationModel | DistributedDataParallel,
        batch: TensorBatch,
        generator: torch.Generator | None = None,
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """(loss per task the batch supports, a zero that touches every model output).

        ``model`` is the model itself or its DDP wrapper, which forwards the same call.

        Add the zero to the total: under DistributedDataParallel every output of the forward pass
        must reach the loss, or ranks wait forever for gradients that never come.
        """
        out = model(
            batch.inputs,
            batch.session,
            batch.masks,
            reconstruct=list(batch.inputs),
            behaviour=batch.behaviour if "contrastive" in self.tasks else None,
        )
        losses: dict[str, torch.Tensor] = {}
        if "behaviour" in self.tasks and out.behaviour is not None and batch.behaviour is not None:
            losses["behaviour"] = behaviour_loss(out.behaviour.float(), batch.behaviour, batch.masks)
        if "reconstruction" in self.tasks and out.reconstruction:
            parts = _reconstruction_losses(out.reconstruction, batch)
            self.modality_losses = {m: float(part.detach()) for m, part in parts.items()}
            losses["reconstruction"] = torch.stack(list(parts.values())).mean()
        if "contrastive" in self.tasks:
            behaviour = out.behaviour_embedding
            term = tri_modal_info_nce(
                out.embedding.float(),
                None if behaviour is None else behaviour.float(),
                batch.stimulus,
                out.stimulus_table,
                self.temperature,
                generator=generator,
            )
            if term is not None:
                losses["contrastive"] = term
        if "adversarial" in self.tasks and out.species_logits is not None:
            losses["adversarial"] = domain_adversarial_loss(out.species_logits.float(), batch.species)
        outputs = [
            out.latent,
            out.behaviour,
            out.embedding,
            out.species_logits,
            out.behaviour_embedding,
            out.stimulus_table,
            *out.reconstruction.values(),
        ]
        anchor = sum(t.float().sum() * 0.0 for t in outputs if t is not None)
        return losses, anchor

    def forward(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.weighting(losses)

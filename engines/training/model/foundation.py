"""The multimodal foundation model: tokenizers -> modality embeddings -> latent encoder -> Mamba -> heads.

Built from a ``ModelConfig`` and the data's ``DataSpec`` (sessions, their feature counts,
stimuli, species). A forward pass takes any subset of the modalities a session has. Named
components can be frozen and unfrozen (``set_trainable``) for fine-tuning.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engines.training.config import MODALITIES, ModelConfig
from engines.training.data.windows import DataSpec
from engines.training.errors import DataError
from engines.training.model.heads import (
    BehaviourHead,
    ContrastiveHeads,
    ReconstructionHead,
    SpeciesClassifier,
)
from engines.training.model.mamba import MambaBackbone
from engines.training.model.perceiver import LatentEncoder
from engines.training.model.tokenizers import TOKENIZERS, Tokenizer

__all__ = ["FoundationModel", "ModelOutput", "COMPONENTS"]

COMPONENTS = (
    "tokenizers",
    "embeddings",
    "encoder",
    "backbone",
    "behaviour_head",
    "reconstruction_head",
    "contrastive_heads",
    "species_classifier",
)
"""Names ``set_trainable`` accepts; ``tokenizers.<modality>`` names one tokenizer."""


@dataclass
class ModelOutput:
    """Per-bin states ``latent`` (b, L, d_model) and what the heads made of them."""

    latent: torch.Tensor
    behaviour: torch.Tensor | None
    reconstruction: dict[str, torch.Tensor]
    embedding: torch.Tensor
    species_logits: torch.Tensor | None
    behaviour_embedding: torch.Tensor | None = None
    stimulus_table: torch.Tensor | None = None


class FoundationModel(nn.Module):
    def __init__(self, config: ModelConfig, spec: DataSpec) -> None:
        super().__init__()
        self.config, self.spec = config, spec
        d = config.d_model
        bins = {i: s.bin_s for i, s in enumerate(spec.sessions)}
        self.tokenizers = nn.ModuleDict(
            {
                m: TOKENIZERS[m](
                    {i: s.inputs[m] for i, s in enumerate(spec.sessions) if m in s.inputs}, d, bins
                )
                for m in spec.modalities
            }
        )
        self.modality_embedding = nn.Embedding(len(MODALITIES), d)
        self.mask_embedding = nn.Embedding(len(MODALITIES), d)
        self.encoder = LatentEncoder(d, config.n_latents, config.n_heads, config.dropout)
        self.backbone = MambaBackbone(
            d,
            config.n_blocks,
            config.d_state,
            config.d_conv,
            config.expand,
            config.bidirectional,
            config.dropout,
            config.scan,
        )
        behaviour_dims = {i: s.behaviour_dims for i, s in enumerate(spec.sessions)}
        self.behaviour_head = BehaviourHead(d, behaviour_dims)
        self.reconstruction_head = ReconstructionHead(
            d,
            {
                m: {i: s.outputs[m] for i, s in enumerate(spec.sessions) if m in s.outputs}
                for m in spec.modalities
            },
        )
        self.contrastive_heads = ContrastiveHeads(d, config.embed_dim, behaviour_dims, spec.n_stimuli)
        self.species_classifier = SpeciesClassifier(d, len(spec.species)) if len(spec.species) > 1 else None

    def encode(
        self, inputs: dict[str, torch.Tensor], session: int, masks: dict[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Per-bin states (b, L, d_model) from any non-empty subset of the session's modalities."""
        tokens = []
        for m in MODALITIES:
            if m not in inputs:
                continue
            tokenizer = self.tokenizers[m] if m in self.tokenizers else None
            if not isinstance(tokenizer, Tokenizer) or not tokenizer.readin.has(session):
                raise DataError(
                    f"The model has no {m} tokenizer for session {session}; it was built for "
                    f"{', '.join(self.spec.sessions[session].inputs)}."
                )
            index = MODALITIES.index(m)
            token = tokenizer(inputs[m], session) + self.modality_embedding.weight[index]
            if masks is not None and m in masks:
                token = token + masks[m].unsqueeze(-1).to(token.dtype) * self.mask_embedding.weight[index]
            tokens.append(token)
        if not tokens:
            raise DataError("A forward pass needs at least one modality; the batch has none.")
        return self.backbone(self.encoder(torch.stack(tokens, dim=2)))

    def forward(
        self,
        inputs: dict[str, torch.Tensor],
        session: int,
        masks: dict[str, torch.Tensor] | None = None,
        reconstruct: list[str] | None = None,
        behaviour: torch.Tensor | None = None,
    ) -> ModelOutput:
        """Everything the objective needs comes out of this call (so DistributedDataParallel sees every
        parameter used): ``behaviour`` (b, L, dims), when given, is embedded for the contrastive loss."""
        latent = self.encode(inputs, session, masks)
        heads = self.contrastive_heads
        return ModelOutput(
            behaviour_embedding=heads.embed_behaviour(behaviour, session) if behaviour is not None else None,
            stimulus_table=heads.stimulus.weight.view_as(heads.stimulus.weight),  # a non-leaf: DDP traces it
            latent=latent,
            behaviour=self.behaviour_head(latent, session) if self.behaviour_head.has(session) else None,
            reconstruction=self.reconstruction_head(
                latent, session, reconstruct if reconstruct is not None else list(inputs)
            ),
            embedding=self.contrastive_heads.neural(latent),
            species_logits=self.species_classifier(latent) if self.species_classifier is not None else None,
        )

    def _component(self, name: str) -> nn.Module | list[nn.Module]:
        if name.startswith("tokenizers."):
            modality = name.split(".", 1)[1]
            if modality not in self.tokenizers:
                raise DataError(f"No tokenizer for {modality!r}; the model has {', '.join(self.tokenizers)}.")
            return self.tokenizers[modality]
        if name == "embeddings":
            return [self.modality_embedding, self.mask_embedding]
        if name not in COMPONENTS:
            raise ValueError(
                f"Unknown component {name!r}; choose from {', '.join(COMPONENTS)} or tokenizers.<m>."
            )
        module = getattr(self, name)
        return module if module is not None else []

    def set_trainable(self, name: str, trainable: bool) -> int:
        """Freeze (False) or unfreeze (True) a component; returns how many parameter tensors changed."""
        found = self._component(name)
        modules = found if isinstance(found, list) else [found]
        count = 0
        for module in modules:
            for parameter in module.parameters():
                parameter.requires_grad_(trainable)
                count += 1
        return count

    def parameter_count(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

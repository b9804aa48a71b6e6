"""The model (imports torch): tokenizers, latent encoder, Mamba backbone, heads, and the selective scan."""

from engines.training.model.foundation import COMPONENTS, FoundationModel, ModelOutput
from engines.training.model.heads import GradientReversal, grad_reverse
from engines.training.model.mamba import MambaBackbone, MambaBlock, MambaMixer
from engines.training.model.scan import cuda_kernel_available, selective_scan
from engines.training.model.tokenizers import TOKENIZERS

__all__ = [
    "FoundationModel",
    "ModelOutput",
    "COMPONENTS",
    "MambaMixer",
    "MambaBlock",
    "MambaBackbone",
    "selective_scan",
    "cuda_kernel_available",
    "GradientReversal",
    "grad_reverse",
    "TOKENIZERS",
]

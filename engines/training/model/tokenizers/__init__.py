"""One tokenizer per modality, each mapping (batch, L, features) to (batch, L, d_model)."""

from engines.training.model.tokenizers.base import SessionLinear, Tokenizer
from engines.training.model.tokenizers.calcium import CalciumTokenizer
from engines.training.model.tokenizers.eeg import EEG_BANDS, EegTokenizer
from engines.training.model.tokenizers.fmri import FmriTokenizer
from engines.training.model.tokenizers.lfp import LfpTokenizer
from engines.training.model.tokenizers.spikes import SpikeTokenizer

TOKENIZERS: dict[str, type[Tokenizer]] = {
    "spikes": SpikeTokenizer,
    "lfp": LfpTokenizer,
    "calcium": CalciumTokenizer,
    "eeg": EegTokenizer,
    "fmri": FmriTokenizer,
}
"""The tokenizer class of each modality kind (the keys are ``config.MODALITIES``)."""

__all__ = [
    "TOKENIZERS",
    "Tokenizer",
    "SessionLinear",
    "SpikeTokenizer",
    "LfpTokenizer",
    "CalciumTokenizer",
    "EegTokenizer",
    "FmriTokenizer",
    "EEG_BANDS",
]

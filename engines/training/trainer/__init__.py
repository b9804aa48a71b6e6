"""Training (imports torch): the loop, checkpoints, torchrun support, metric sinks and the run controller."""

from engines.training.trainer.checkpoint import load_checkpoint, save_checkpoint
from engines.training.trainer.control import RunController, start_folder_training
from engines.training.trainer.distributed import DistContext, init_distributed
from engines.training.trainer.loop import Trainer
from engines.training.trainer.optim import warmup_cosine

__all__ = [
    "Trainer",
    "RunController",
    "start_folder_training",
    "save_checkpoint",
    "load_checkpoint",
    "DistContext",
    "init_distributed",
    "warmup_cosine",
]

"""Training, evaluation, checkpoints, schedule, distributed helpers and the demo."""
from .checkpoint import CheckpointError, load_checkpoint, load_model, read_meta, save_checkpoint
from .evaluate import boundary_band, cityscapes_official, evaluate, feature_alignment
from .train import train

__all__ = ["train", "evaluate", "boundary_band", "feature_alignment", "cityscapes_official", "save_checkpoint",
           "load_checkpoint", "load_model", "read_meta", "CheckpointError"]

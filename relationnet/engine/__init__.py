"""The training core: training, evaluation, checkpoints, the run log, the schedule and distributed helpers (the demo
and the studies are applications above it, in :mod:`relationnet.experiments`)."""
from .checkpoint import CheckpointError, load_checkpoint, load_model, read_meta, save_checkpoint
from .evaluate import boundary_band, cityscapes_official, evaluate, feature_alignment
from .train import train

__all__ = ["train", "evaluate", "boundary_band", "feature_alignment", "cityscapes_official", "save_checkpoint",
           "load_checkpoint", "load_model", "read_meta", "CheckpointError"]

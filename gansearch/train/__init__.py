"""Training, family-agnostic: the one adversarial loop, its callbacks, state and losses.

What a family trains on and with which objective is the family's (``gansearch.families``);
teachers are trained by ``gansearch.families.teacher`` (``gansearch train``).
"""

from gansearch.train.adversarial import Batch, LoopConfig, PlainLoss, adversarial_train
from gansearch.train.loop import Callback, DivergedError, ProgressBar, TrainState, resolve_device

__all__ = [
    "Batch",
    "Callback",
    "DivergedError",
    "LoopConfig",
    "PlainLoss",
    "ProgressBar",
    "TrainState",
    "adversarial_train",
    "resolve_device",
]

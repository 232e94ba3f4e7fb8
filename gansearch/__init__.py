"""gansearch: find the smallest GAN generator that still makes good images.

The compression core and the metrics are plain PyTorch; the search layer runs them as Ray Tune
trials tracked in MLflow. ``gansearch.profile`` measures what a model costs.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Cost", "profile"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `import gansearch` (e.g. by the CLI's --help) does not import torch.
    if name in __all__:
        from gansearch.metrics import cost

        return getattr(cost, name)
    raise AttributeError(f"module 'gansearch' has no attribute {name!r}")

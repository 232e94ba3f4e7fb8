"""Pruning from scratch: the same architecture with fewer filters, trained from random weights.

Method 1 of the SinGAN compression paper (seeds/000_*.txt sec. 3.1 and 4.1): generators with 4,
12 or 16 filters instead of 32, still doubled every 4th scale. The paper states the savings as
87.5%, 62.5% and 50%, the share of filters removed; a convolution's weights and MACs shrink with
the square of the width, so the measured weights fall further (to 2.4%, 15.7% and 26.7%;
docs/benchmarks.md). After Liu et al. 2019 ("Rethinking the value of network pruning"), what a
structurally pruned network is worth lies mostly in its architecture, not its inherited weights.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from gansearch.config import check_range
from gansearch.errors import ConfigError
from gansearch.models import build, family
from gansearch.models.layers import init_weights


def scratch_config(config: Any, filters: int) -> Any:
    """``config`` (a generator config of any family) with ``filters`` filters at its widest
    setting; the family's own rule (SinGAN's doubling every 4th scale, DCGAN and ResNet widths
    multiplied from ``filters``) sets the rest."""
    check_range("filters", filters, 1)
    if not dataclasses.is_dataclass(config) or "filters" not in {f.name for f in dataclasses.fields(config)}:
        raise ConfigError(f"{type(config).__name__} has no 'filters' to shrink; "
                          f"pruning from scratch needs a SinGAN, DCGAN or ResNet generator config")
    changes = {"filters": filters}
    if getattr(config, "max_filters", filters) < filters:  # a cap below the asked width would hide it
        changes["max_filters"] = filters
    return dataclasses.replace(config, **changes)


def scratch_generator(model: str, config: Any, filters: int) -> nn.Module:
    """A randomly initialized ``model`` generator (family name) with ``filters`` filters."""
    family(model)
    generator = build(model, "generator", scratch_config(config, filters))
    init_weights(generator)
    return generator

"""The compression core: one technique per module, plain PyTorch, usable without Ray."""

from gansearch.compress.structured import prune_filters
from gansearch.compress.unstructured import make_permanent, prune_unstructured

__all__ = ["make_permanent", "prune_filters", "prune_unstructured"]

"""The compression core: one technique per module, plain PyTorch, usable without Ray.

- ``unstructured``: magnitude pruning with masks kept through fine-tuning
- ``structured`` (+ ``dependency``): filter pruning that physically removes channels
- ``prune_distill``, ``distill``, ``slimming``, ``regrow``, ``fake_quant``: the seed papers'
  techniques that act during training (Gong et al., GAN Slimming, Re-GAN)
- ``pipeline``: SinGAN's per-scale train-prune-fine-tune
- ``precision``: fp16 / bf16, int8 per-channel weights
- ``static_int8``: int8 weights and activations on PyTorch's int8 kernels (torchao PT2E)
- ``weight_sharing``: k-means weight sharing with a 2^bits codebook
- ``lowrank``: SVD factorization of convolutions
- ``runtime``: BatchNorm folding, and the deployment runtime a student runs fastest under
"""

from gansearch.compress.lowrank import factorize
from gansearch.compress.precision import quantize_int8, to_dtype
from gansearch.compress.structured import PruningReport, prune_filters, prune_filters_reported
from gansearch.compress.unstructured import make_permanent, prune_unstructured
from gansearch.compress.weight_sharing import share_weights

__all__ = ["PruningReport", "factorize", "make_permanent", "prune_filters", "prune_filters_reported",
           "prune_unstructured", "quantize_int8", "share_weights", "to_dtype"]

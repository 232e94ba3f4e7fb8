"""Compressed generators save as checkpoints and reload into the same architecture."""

import pytest
import torch

import gansearch
from gansearch.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from gansearch.compress import prune_filters, prune_unstructured
from gansearch.compress.lowrank import factorize
from gansearch.compress.precision import quantize_int8, to_dtype
from gansearch.compress.weight_sharing import share_weights
from gansearch.families import build, example_input
from gansearch.models import SinGANConfig


def _resnet():
    return build("resnet", "generator", {"filters": 8, "n_blocks": 2, "norm": "batch"}).eval()


def _dcgan():
    return build("dcgan", "generator", {"image_size": 16, "latent_dim": 8, "filters": 8}).eval()


def _singan():
    return build("singan", "generator", SinGANConfig(sizes=((12, 12), (16, 16)), filters=8)).eval()


RECIPES = {
    "structured+int8": lambda m, x: quantize_int8(prune_filters(m, x, 0.5)),
    "structured+lowrank": lambda m, x: factorize(prune_filters(m, x, 0.5), 0.5),
    "lowrank+int8": lambda m, x: quantize_int8(factorize(m, 0.25)),
    "unstructured+kmeans": lambda m, x: share_weights(prune_unstructured(m, 0.8), 3),
    "structured+fp16": lambda m, x: to_dtype(prune_filters(m, x, 0.25), "float16"),
}


@pytest.mark.parametrize("recipe", RECIPES)
@pytest.mark.parametrize("family,make", [("resnet", _resnet), ("dcgan", _dcgan), ("singan", _singan)])
def test_compressed_generator_reloads_and_reproduces(recipe, family, make, tmp_path):
    model = make()
    x = example_input(model, 2, 16)
    student = RECIPES[recipe](model, x).eval()
    dtype = next(student.parameters()).dtype if "fp16" in recipe else torch.float32
    x = tuple(t.to(dtype) for t in x)
    path = save_checkpoint(tmp_path / "s.pt", Checkpoint(family, student))
    loaded = load_checkpoint(path).generator
    with torch.no_grad():
        torch.testing.assert_close(loaded(*x), student(*x))
    a, b = (gansearch.profile(m, x, latency_runs=0) for m in (student, loaded))
    assert (a.params, a.macs, a.weight_bytes) == (b.params, b.macs, b.weight_bytes)

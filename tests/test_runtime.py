"""Deployment: BatchNorm folding, runtimes timed side by side, and int8 students that script,
export and run on int8 kernels."""

import io
import warnings

import numpy as np
import onnxruntime
import pytest
import torch
from torch import nn

from gansearch.compress import prune_unstructured, quantize_int8
from gansearch.compress.runtime import check_runtimes, fold_batchnorm, measure_runtimes, prepare
from gansearch.compress.static_int8 import quantize_static
from gansearch.compress.unstructured import make_permanent
from gansearch.errors import ConfigError
from gansearch.families import build, example_input
from gansearch.models.compressed import dequantized_weight


def _trained_looking(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_()
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.bias is not None:
                m.bias.normal_(0, 0.1)
    return model.eval()


class SharedConv(nn.Module):
    """A conv whose output feeds its norm and a skip: folding the norm would change the skip."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 3, 3, padding=1), nn.BatchNorm2d(3)

    def forward(self, x):
        y = self.conv(x)
        return self.bn(y) + y


def test_batchnorm_folds_into_convolutions_and_transposed_ones_exactly():
    dcgan = _trained_looking(build("dcgan", "generator", {"image_size": 32, "latent_dim": 16, "filters": 8}))
    folded, n = fold_batchnorm(dcgan)
    assert n == 3 and not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    x = example_input(dcgan, 4, 32)
    with torch.no_grad():
        torch.testing.assert_close(folded(*x), dcgan(*x), atol=1e-5, rtol=1e-4)
    shared = _trained_looking(SharedConv())
    kept, n = fold_batchnorm(shared)
    assert n == 0
    unet = _trained_looking(build("unet", "generator", {"filters": 4, "num_downs": 5}))
    folded, n = fold_batchnorm(unet)
    assert n > 0
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), unet(x), atol=1e-5, rtol=1e-4)


def test_runtimes_compute_the_same_and_the_fastest_is_named():
    model = _trained_looking(build("resnet", "generator", {"filters": 8, "n_blocks": 2, "norm": "batch"}))
    x = (torch.randn(1, 3, 32, 32),)
    with torch.no_grad():
        expected = model(*x)
        for runtime in ("eager", "channels_last", "onnxruntime"):
            torch.testing.assert_close(prepare(fold_batchnorm(model)[0], x, runtime)(*x), expected,
                                       atol=1e-4, rtol=1e-3)
    times = measure_runtimes(model, x, runs=3)
    assert set(times.latency_ms) == {"eager", "channels_last", "onnxruntime"}
    assert times.fastest == min(times.latency_ms, key=times.latency_ms.get)
    assert times.batchnorm_folded == 9 and times.as_dict()["device"] == "cpu"


def test_a_runtime_that_cannot_run_is_reported_with_its_reason():
    class Opaque(nn.Module):  # an operator with no ONNX form
        def forward(self, x):
            return torch.linalg.eigvalsh(x @ x.transpose(-1, -2))

    times = measure_runtimes(Opaque(), torch.randn(2, 4, 4), runtimes=("eager", "onnxruntime"), runs=2)
    assert "eager" in times.latency_ms and "onnxruntime" in times.failed
    assert check_runtimes("all") == ("eager", "channels_last", "compile", "onnxruntime")
    with pytest.raises(ConfigError, match="unknown runtime 'tensorrt'"):
        check_runtimes("eager,tensorrt")


def test_int8_student_scripts_exports_and_matches_its_dequantized_reference():
    model = _trained_looking(build("dcgan", "generator", {"image_size": 32, "latent_dim": 16, "filters": 8}))
    reference = {name: m.weight.detach().clone() for name, m in model.named_modules()
                 if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))}
    x = example_input(model, 2, 32)
    quantize_int8(model)
    with torch.no_grad():
        out = model(*x)
    float_model = build("dcgan", "generator", {"image_size": 32, "latent_dim": 16, "filters": 8})
    float_model.load_state_dict(model.state_dict(), strict=False)  # norms and biases
    for name, m in float_model.named_modules():
        if name in reference:
            m.weight.data = dequantized_weight(model.get_submodule(name))
            step = m.weight.detach() - reference[name]
            scale = model.get_submodule(name).weight_scale
            axis = 1 if isinstance(m, nn.ConvTranspose2d) else 0
            shape = [1] * step.dim()
            shape[axis] = -1
            assert (step.abs() <= scale.reshape(shape) / 2 + 1e-7).all()  # within half a step
    with torch.no_grad():
        torch.testing.assert_close(out, float_model.eval()(*x), atol=1e-5, rtol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(model)
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    buffer.seek(0)
    exported = torch.export.export(model, x)
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.load(buffer)(*x), out)
        torch.testing.assert_close(exported.module()(*x), out)
    run = prepare(model, x, "onnxruntime")
    torch.testing.assert_close(run(*x), out, atol=1e-5, rtol=1e-4)


def test_unstructured_student_scripts_once_its_masks_are_folded():
    model = build("resnet", "generator", {"filters": 8, "n_blocks": 1}).eval()
    prune_unstructured(model, 0.5)
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        out = model(x)
    make_permanent(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(model)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), out)


@pytest.mark.slow
def test_static_int8_runs_on_int8_kernels_within_a_step_of_its_reference():
    torch.manual_seed(0)
    model = _trained_looking(build("resnet", "generator", {"filters": 8, "n_blocks": 2, "norm": "batch"}))
    calibration = [torch.randn(4, 3, 32, 32) for _ in range(4)]
    x = torch.randn(1, 3, 32, 32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lowered = quantize_static(model, calibration, example_input=x)
        reference = quantize_static(model, calibration, lower=False)
    kernels = {str(n.target) for n in lowered.graph.nodes if n.op == "call_function"}
    assert any("qconv" in k for k in kernels), "convolutions run on int8 kernels"
    with torch.no_grad():
        fp32, ref, got = model(x), reference(x), lowered(x)
    step = (ref.max() - ref.min()) / 127  # one step of an 8-bit output range
    assert (got - ref).abs().max() <= step
    assert (ref - fp32).abs().max() < 0.25 * fp32.abs().max()  # int8 is close to fp32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(reference, (x,), dynamo=True, verbose=False)
    session = onnxruntime.InferenceSession(program.model_proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    onnx_out = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    assert np.abs(onnx_out - ref.numpy()).max() <= float(step)
    buffer = io.BytesIO()
    torch.export.save(torch.export.export(reference, (x,)), buffer)
    buffer.seek(0)
    with torch.no_grad():
        torch.testing.assert_close(torch.export.load(buffer).module()(x), ref)

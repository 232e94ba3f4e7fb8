"""Recipe steps that train the student against its teacher or reconfigure it while training:
distillation and iterative prune-distill (Gong et al.), GAN Slimming, and Re-GAN.

They run the one adversarial loop (``gansearch.train.adversarial``) with the compression
core's objectives and callbacks (``distill``, ``prune_distill``, ``slimming``, ``regrow``) on
batches of the teacher's data that its family makes. They need a family that trains on batches
(latent or image inputs: DCGAN, the translators, a user's module); SinGAN sweeps compress with
``prune_*``, ``scratch`` and ``finetune``, and a step here refuses a SinGAN teacher before the
sweep starts (``fits``).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch

from gansearch.compress.distill import KDConfig, KDLoss
from gansearch.compress.prune_distill import (
    PruneDistillConfig,
    distill_recovery,
    paired_quality,
    prune_distill,
)
from gansearch.compress.regrow import ReganCallback, ReganConfig
from gansearch.compress.slimming import SlimmingConfig, slim
from gansearch.config import check_range
from gansearch.errors import ConfigError
from gansearch.train.adversarial import LoopConfig, adversarial_train


def _fits(step: str, family) -> None:
    if family.inputs not in ("latent", "image"):
        raise ConfigError(f"recipe step {step!r} trains on batches of latent vectors or images; the "
                          f"{family.name} family's generator takes {family.inputs} (compress it with "
                          "prune_filters / prune_unstructured / scratch and finetune)")


def _batches(s, batch_size: int):
    return s.family.batches(s.generator, s.data, batch_size, s.seed)


def _finetune(s, iterations: int) -> LoopConfig:
    return s.family.loop(s.train_params, iterations)


def _kd(s, alpha_feature: float, alpha_rec: float, alpha_gan: float, transformation: bool) -> KDConfig:
    # Gong et al. eq. 8: L = L_T + a1 L_F + a2 L_rec + a3 L_GAN; no L_T gives the L_F-only KD.
    layers, pairs = s.family.distill_taps(s.teacher)
    return KDConfig(alpha_feature=alpha_feature, alpha_rec=alpha_rec, alpha_gan=alpha_gan,
                    layers=layers, pairs=pairs if transformation else ())


@dataclass(frozen=True)
class Distill:
    """Fine-tune the student by distillation from the teacher (Gong et al. sec. 3.3)."""

    name: ClassVar[str] = "distill"
    iterations: int = 200
    alpha_feature: float = 1.0  # a1 (L_F)
    alpha_rec: float = 10.0  # a2 (L_rec: ground truth when paired, else the teacher's output)
    alpha_gan: float = 1.0  # a3 (L_GAN with the teacher's discriminator)
    transformation: bool = True  # L_T on the transformation-information matrices
    batch_size: int = 4

    def __post_init__(self) -> None:
        check_range("distill.iterations", self.iterations, 1)
        check_range("distill.batch_size", self.batch_size, 1)
        KDConfig(alpha_feature=self.alpha_feature, alpha_rec=self.alpha_rec, alpha_gan=self.alpha_gan)

    def fits(self, family) -> None:
        _fits(self.name, family)

    def apply(self, s) -> None:
        kd = _kd(s, self.alpha_feature, self.alpha_rec, self.alpha_gan, self.transformation)
        batches = _batches(s, self.batch_size)
        objective = KDLoss(s.teacher, s.generator, s.example_input(), kd).to(s.device)
        adversarial_train(s.generator, s.discriminator, batches, objective, _finetune(s, self.iterations),
                             callbacks=s.callbacks)
        s.generator.eval()


@dataclass(frozen=True)
class PruneDistill:
    """Iterative prune-distill (Gong et al. Fig. 1): remove ``step_ratio`` of the original
    filters (distance to the filter centre), distill, repeat up to ``target_ratio``; stop early
    when the student's PSNR to the teacher on held-out inputs falls below ``min_psnr`` dB."""

    name: ClassVar[str] = "prune_distill"
    step_ratio: float = 0.05  # f_step
    target_ratio: float = 0.5  # f
    iterations_per_step: int = 50
    min_psnr: float = 0.0  # dB against the teacher's output; 0: always go on to the target
    alpha_feature: float = 1.0
    alpha_rec: float = 10.0
    alpha_gan: float = 1.0
    transformation: bool = True
    batch_size: int = 4

    def __post_init__(self) -> None:
        PruneDistillConfig(self.step_ratio, self.target_ratio)
        check_range("prune_distill.iterations_per_step", self.iterations_per_step, 1)
        check_range("prune_distill.min_psnr", self.min_psnr, 0.0)
        check_range("prune_distill.batch_size", self.batch_size, 1)

    @property
    def costs_known(self) -> bool:
        return self.min_psnr == 0  # then it always reaches target_ratio

    def restructure(self, generator, example, family, seed):
        """The architecture it ends with when it reaches its target (untrained weights)."""
        from gansearch.compress.prune_distill import group_sizes, prune_to_ratio

        return prune_to_ratio(generator, example, self.target_ratio, group_sizes(generator, example))

    def fits(self, family) -> None:
        _fits(self.name, family)

    def apply(self, s) -> None:
        kd = _kd(s, self.alpha_feature, self.alpha_rec, self.alpha_gan, self.transformation)
        batches = _batches(s, self.batch_size)
        example = s.example_input()
        recover = distill_recovery(s.teacher, s.discriminator, batches, example, kd,
                                   _finetune(s, self.iterations_per_step))
        held_out = s.family.fixed_inputs(s.generator, s.held_out, 8, s.seed + 1)
        with torch.no_grad():
            target = s.teacher.eval()(*held_out)
        quality = paired_quality(held_out, target)
        # The teacher's PSNR to itself is infinite: the bar is the absolute min_psnr instead.
        config = PruneDistillConfig(self.step_ratio, self.target_ratio, tolerance=0.0)
        result = prune_distill(s.generator, example, recover, quality, config,
                               reference=self.min_psnr if self.min_psnr > 0 else -math.inf)
        s.generator = result.student.eval()


@dataclass(frozen=True)
class Slim:
    """GAN Slimming (Wang et al. 2020): distillation, L1 on norm-layer scales and b-bit
    quantization-aware training in one objective; then channels whose scales fell to the
    threshold are cut away. Needs BatchNorm (DCGAN; the ResNet generator with norm: batch)."""

    name: ClassVar[str] = "slim"
    costs_known: ClassVar[bool] = False  # which channels go depends on training
    iterations: int = 200
    sparsity: float = 1e-2  # rho on |gamma|
    bits: int = 8  # weights and activations during training; 32: no quantization
    threshold: float = 1e-3  # channels whose scales are all <= this are cut
    batch_size: int = 4

    def __post_init__(self) -> None:
        check_range("slim.iterations", self.iterations, 1)
        check_range("slim.bits", self.bits, 2, 32)
        SlimmingConfig(sparsity=self.sparsity, bits=None, threshold=self.threshold)

    def fits(self, family) -> None:
        _fits(self.name, family)

    def apply(self, s) -> None:
        config = SlimmingConfig(sparsity=self.sparsity, bits=None if self.bits >= 32 else self.bits,
                                threshold=self.threshold)
        result = slim(s.generator, s.discriminator, _batches(s, self.batch_size),
                      s.example_input(), config, _finetune(s, self.iterations), callbacks=s.callbacks)
        s.generator = result.student.eval()


@dataclass(frozen=True)
class Regan:
    """Re-GAN (Saxena et al., Algorithm 1): train on with prune-and-regrow every
    ``update_interval`` iterations at ratio ``sparsity``; keep the sparse or the dense result.
    Written for unconditional GANs: the family's generator takes latent vectors (DCGAN, a
    module with latent input), its discriminator one image."""

    name: ClassVar[str] = "regan"
    iterations: int = 500
    sparsity: float = 0.3  # rho
    update_interval: int = 100  # g
    network: Literal["G", "D", "both"] = "G"
    keep: Literal["sparse", "dense"] = "sparse"

    def __post_init__(self) -> None:
        check_range("regan.iterations", self.iterations, 1)
        ReganConfig(sparsity=self.sparsity, update_interval=self.update_interval, network=self.network)

    @property
    def costs_known(self) -> bool:
        return self.keep == "dense"  # the sparse weights' storage depends on training

    def fits(self, family) -> None:
        if family.inputs != "latent":
            raise ConfigError(f"recipe step 'regan' needs a generator of latent vectors and an "
                              f"unconditional discriminator (Re-GAN's setting); the {family.name} family's "
                              f"generator takes {family.inputs}")

    def apply(self, s) -> None:
        data = s.data

        def probe(state):  # fixed inputs: the stability samples and the profile come from them
            return s.family.fixed_inputs(state.generator, data, 16, s.seed)

        regan = ReganCallback(ReganConfig(sparsity=self.sparsity, update_interval=self.update_interval,
                                          network=self.network), probe=probe)
        s.family.train(s.generator, s.discriminator, s.data,
                       s.family.finetune_params(s.train_params, self.iterations), seed=s.seed,
                       callbacks=[regan, *s.callbacks], fresh=False)
        trained = regan.result.sparse if self.keep == "sparse" else regan.result.dense
        s.generator = copy.deepcopy(trained.get("G", s.generator)).eval()


STEPS = (Distill, PruneDistill, Slim, Regan)

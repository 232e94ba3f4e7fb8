"""Knowledge distillation from a teacher generator to a (pruned) student, Gong et al. sec. 3.3.

The student learns from the teacher through four terms (seeds/001_*.txt eq. 8):

    L = L_T + a1 L_F + a2 L_rec + a3 L_GAN

- L_T (eq. 4-5): transformation information, how the network turns one feature map into the
  next: for pairs of layers (i, j) with the same spatial size, M = sum_{m,n} F_i[:,m,n]
  F_j[:,m,n]^T / (w h), and the student's M is pulled toward the teacher's;
- L_F (eq. 6): the feature maps themselves (the distillation loss of GAN Compression, Li et al.
  2020), through learnable 1x1 conv adapters where the student has fewer channels;
- L_rec (eq. 7): the output against the ground truth (paired data) or against the teacher's
  output for the same input (unpaired data);
- L_GAN: the adversarial loss against the teacher's discriminator, added by the training loop
  (``gansearch.train.adversarial``) which also trains that discriminator.

Features are read by forward hooks on named modules. Structured pruning keeps module names, so
the same names exist in the teacher and the pruned student.

Every squared norm is taken as a mean over its entries (and the batch) rather than a sum, so
that no term grows with the width or resolution of the layers it reads: the paper tunes a1..a3
to bring the terms to one order of magnitude (sec. 4.1), and with means that tuning carries over
from one model size to the next.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gansearch import families
from gansearch.config import check_choice, check_range
from gansearch.errors import ConfigError
from gansearch.train.adversarial import REC_NORMS, reconstruction_loss


@dataclass(frozen=True)
class KDConfig:
    """Weights and layers of the distillation loss (seeds/001_*.txt eq. 8; L_T has weight 1)."""

    alpha_feature: float = 1.0  # a1, weight of L_F
    alpha_rec: float = 10.0  # a2, weight of L_rec
    alpha_gan: float = 1.0  # a3, weight of L_GAN
    layers: tuple[str, ...] | None = None  # modules whose outputs L_F matches; None: the family's
    pairs: tuple[tuple[str, str], ...] | None = None  # (i, j) for L_T; None: the family's; (): no L_T
    rec_norm: Literal["l2", "l1"] = "l2"  # l2 as eq. 7; l1 as pix2pix

    def __post_init__(self) -> None:
        for name in ("alpha_feature", "alpha_rec", "alpha_gan"):
            check_range(f"kd.{name}", getattr(self, name), 0.0)
        check_choice("kd.rec_norm", self.rec_norm, REC_NORMS)
        if self.layers is not None:
            if isinstance(self.layers, str) or not all(isinstance(n, str) for n in self.layers):
                raise ConfigError(f"kd.layers must be a list of module names, got {self.layers!r}")
            object.__setattr__(self, "layers", tuple(self.layers))
        if self.pairs is not None:
            pairs = tuple(tuple(p) for p in self.pairs)
            if not all(len(p) == 2 and all(isinstance(n, str) for n in p) for p in pairs):
                raise ConfigError(f"kd.pairs must be a list of [layer_i, layer_j] name pairs, got "
                                  f"{self.pairs!r}")
            object.__setattr__(self, "pairs", pairs)


# -- the loss terms -----------------------------------------------------------------------------


def transformation_matrix(f_i: Tensor, f_j: Tensor) -> Tensor:
    """M = sum_{m,n} F_i[:,m,n] F_j[:,m,n]^T / (w h), per sample (Gong et al. eq. 4).

    ``f_i`` (B, C_i, H, W) and ``f_j`` (B, C_j, H, W) -> (B, C_i, C_j).
    """
    if f_i.shape[0] != f_j.shape[0] or f_i.shape[2:] != f_j.shape[2:]:
        raise ConfigError(f"a transformation matrix needs two feature maps of one spatial size, got "
                          f"{tuple(f_i.shape)} and {tuple(f_j.shape)}; pair layers of equal resolution")
    hw = f_i.shape[2:].numel()
    return f_i.flatten(2) @ f_j.flatten(2).transpose(1, 2) / hw


def transformation_loss(student: dict[str, Tensor], teacher: dict[str, Tensor],
                        pairs: Iterable[tuple[str, str]]) -> Tensor:
    """L_T = sum over pairs of ||M^T - M^S||^2, each a mean over entries and batch (eq. 5).

    ``student`` holds the student's features already mapped to the teacher's channels.
    """
    total = _zero(teacher)
    for i, j in pairs:
        m_t = transformation_matrix(teacher[i], teacher[j])
        m_s = transformation_matrix(student[i], student[j])
        total = total + F.mse_loss(m_s, m_t)
    return total


def feature_loss(student: dict[str, Tensor], teacher: dict[str, Tensor], layers: Iterable[str]) -> Tensor:
    """L_F = sum over layers of ||F^S - F^T||^2, each a mean over entries (eq. 6)."""
    total = _zero(teacher)
    for name in layers:
        total = total + F.mse_loss(student[name], teacher[name])
    return total


def _zero(features: dict[str, Tensor]) -> Tensor:
    t = next(iter(features.values()), None)
    return torch.zeros((), device=t.device) if t is not None else torch.zeros(())


# -- where the features come from ---------------------------------------------------------------


class FeatureTaps:
    """Keeps the outputs of named modules while a model runs (forward hooks, removed on exit).

        with FeatureTaps(model, ["model.4", "model.5"]) as taps:
            model(x)
        taps.features["model.4"]
    """

    def __init__(self, model: nn.Module, names: Iterable[str]) -> None:
        modules = dict(model.named_modules())
        self.names = tuple(dict.fromkeys(names))
        unknown = [n for n in self.names if n not in modules]
        if unknown:
            known = ", ".join(n for n in list(modules)[1:13])
            raise ConfigError(f"kd layer {unknown[0]!r} is not a module of {type(model).__name__}; "
                              f"name modules as model.named_modules() does, e.g. {known}")
        self._modules = [modules[n] for n in self.names]
        self._handles: list = []
        self.features: dict[str, Tensor] = {}

    def __enter__(self) -> FeatureTaps:
        self.features = {}
        for name, module in zip(self.names, self._modules, strict=True):
            self._handles.append(module.register_forward_hook(
                lambda m, i, o, name=name: self.features.__setitem__(name, o)))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


def default_taps(generator: nn.Module) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """The layers (for L_F) and layer pairs (for L_T) distilled when the config names none: those
    of the generator's family (``Family.distill_taps`` in ``gansearch.families``)."""
    try:
        family = families.of(generator)
    except ConfigError:
        raise ConfigError(f"no default distillation layers for {type(generator).__name__}; set kd.layers "
                          "and kd.pairs to module names of the generator") from None
    return family.distill_taps(generator)


# -- the objective ------------------------------------------------------------------------------


class KDLoss(nn.Module):
    """L_T + a1 L_F + a2 L_rec for one student; a3 L_GAN is the training loop's.

    Built for one teacher/student pair: it runs both once on ``example_input`` to learn each
    tapped layer's channels and creates a 1x1 conv adapter (student channels -> teacher
    channels, as GAN Compression) only for layers whose channel counts differ. The adapters are
    parameters of this module and train with the student. After the student is pruned again,
    build a new KDLoss.
    """

    def __init__(self, teacher: nn.Module, student: nn.Module,
                 example_input: Tensor | Sequence[Tensor], config: KDConfig) -> None:
        super().__init__()
        layers, pairs = default_taps(teacher) if config.layers is None or config.pairs is None \
            else ((), ())
        self.config = config
        self.layers = config.layers if config.layers is not None else layers
        self.pairs = config.pairs if config.pairs is not None else pairs
        self.names = tuple(dict.fromkeys([*self.layers, *(n for p in self.pairs for n in p)]))
        self.teacher = [teacher]  # a list: not a submodule, so never trained or saved with us
        self._teacher_taps = FeatureTaps(teacher, self.names)
        t_feats, s_feats = self._probe(teacher, student, _as_args(example_input))
        self.adapters = nn.ModuleDict()
        for name in self.names:
            c_s, c_t = s_feats[name].shape[1], t_feats[name].shape[1]
            if c_s != c_t:
                self.adapters[_key(name)] = nn.Conv2d(c_s, c_t, 1, bias=False).to(s_feats[name].device)
        for i, j in self.pairs:  # fail here, not in the middle of training
            transformation_matrix(t_feats[i], t_feats[j])

    @property
    def alpha_gan(self) -> float:
        return self.config.alpha_gan

    def adapted(self, name: str) -> bool:
        """Whether the student's ``name`` goes through an adapter (its channels differ)."""
        return _key(name) in self.adapters

    def forward(self, student: nn.Module, inputs: Sequence[Tensor], target: Tensor | None
                ) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """Run teacher and student on ``inputs``.

        Returns the student's output, the teacher's output and the weighted loss terms.
        ``target`` is the ground truth where the data is paired; None distills the output too.
        """
        teacher = self.teacher[0]
        was_training = teacher.training
        teacher.eval()  # in train mode a BatchNorm teacher would drift with the student's batches
        try:
            with torch.no_grad(), self._teacher_taps as t_taps:
                t_out = teacher(*inputs)
        finally:
            teacher.train(was_training)
        with FeatureTaps(student, self.names) as s_taps:
            out = student(*inputs)
        # The student's features go through the adapters before both L_F and L_T. For L_T this is
        # what makes a pruned student's M (C_i^S x C_j^S) comparable with the teacher's
        # (C_i^T x C_j^T): a student channel is not the teacher channel of the same index once
        # filters are removed, and a 1x1 adapter A (no bias) gives M(A F_i, A' F_j) = A M A'^T,
        # the student's own transformation seen in the teacher's channel basis.
        s_feats = {n: self._adapt(n, f) for n, f in s_taps.features.items()}
        t_feats = t_taps.features
        c = self.config
        terms = {
            "transform": transformation_loss(s_feats, t_feats, self.pairs),
            "feature": c.alpha_feature * feature_loss(s_feats, t_feats, self.layers),
            "rec": c.alpha_rec * reconstruction_loss(out, t_out if target is None else target,
                                                     c.rec_norm),
        }
        return out, t_out, terms

    def _adapt(self, name: str, feature: Tensor) -> Tensor:
        key = _key(name)
        return self.adapters[key](feature) if key in self.adapters else feature

    def _probe(self, teacher: nn.Module, student: nn.Module, args: tuple[Tensor, ...]):
        modes = teacher.training, student.training
        teacher.eval()
        student.eval()
        try:
            with torch.no_grad(), self._teacher_taps as t, FeatureTaps(student, self.names) as s:
                teacher(*args)
                student(*args)
        finally:
            teacher.train(modes[0])
            student.train(modes[1])
        return t.features, s.features


def _key(name: str) -> str:
    return name.replace(".", "_")  # ModuleDict keys cannot hold dots


def _as_args(example_input: Tensor | Sequence[Tensor]) -> tuple[Tensor, ...]:
    return (example_input,) if isinstance(example_input, Tensor) else tuple(example_input)

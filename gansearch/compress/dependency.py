"""Which channels of a model must be removed together, found by running it once.

Removing an output channel of a convolution is only correct if the channel also goes from every
place it flows to: the norm layers that scale it, the input of every layer that reads it, and,
through a residual addition, the matching channel of every other layer whose output is added to
it. A concatenation shifts channels by the width of what comes before them.

``trace`` runs the model on an example input and labels every channel of every tensor with an
id. Convolutions and linear layers create fresh ids for their outputs; norm layers, activations,
padding, resizing and element-wise arithmetic pass them on; adding two tensors unites their ids
channel by channel (a union-find); concatenating along channels concatenates the labels. An
operation that does anything else to the channel dimension (a reshape, a slice, a mean over
channels, an unknown layer) freezes the channels it touches, as do the model's inputs and
outputs: frozen channels are never removed. Being conservative where it does not understand is
what makes the result safe on any model: the worst case is that less gets pruned.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from gansearch.models.compressed import NORMS, PRODUCERS

# Functions that act on every channel alike (or only on spatial dimensions).
_ELEMENTWISE = {
    "add", "add_", "__add__", "__radd__", "__iadd__", "sub", "sub_", "__sub__", "__rsub__",
    "__isub__", "mul", "mul_", "__mul__", "__rmul__", "__imul__", "div", "div_", "__truediv__",
    "__itruediv__", "__neg__", "neg", "relu", "relu_", "leaky_relu", "leaky_relu_", "tanh",
    "tanh_", "sigmoid", "sigmoid_", "gelu", "silu", "elu", "hardtanh", "relu6", "softplus",
    "clamp", "clamp_", "clip", "abs", "pow", "__pow__", "exp", "dropout", "dropout2d", "pad",
    "interpolate", "upsample", "clone", "contiguous", "to", "float", "half", "bfloat16",
    "detach", "requires_grad_", "zeros_like", "ones_like", "randn_like", "rand_like",
    "empty_like", "full_like",
}
_RESHAPES = {"view", "reshape", "flatten", "unsqueeze", "squeeze", "unflatten"}
_CONCATS = {"cat", "concat", "concatenate"}


class _UnionFind:
    def __init__(self) -> None:
        self.parent: list[int] = []

    def new(self, n: int) -> list[int]:
        start = len(self.parent)
        self.parent.extend(range(start, start + n))
        return list(range(start, start + n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass
class LayerChannels:
    """The channel ids a layer touches: its output (producers), input (consumers), or both."""

    name: str
    module: nn.Module
    out_ids: list[int] | None = None
    in_ids: list[int] | None = None


@dataclass
class Group:
    """Channel classes that share producers, e.g. one conv's filters, or a ResNet trunk.

    ``classes[i]`` is the set of (layer name, channel index) pairs that must go together; a
    pruning amount is applied per group so every layer keeps the same share of its filters.
    """

    producers: tuple[str, ...]
    roots: list[int] = field(default_factory=list)  # one id per class (its union-find root)
    classes: list[list[tuple[str, int]]] = field(default_factory=list)  # producer channels
    norms: list[list[tuple[str, int]]] = field(default_factory=list)  # norm-layer channels


@dataclass
class ChannelGraph:
    layers: dict[str, LayerChannels]
    groups: list[Group]
    norms: dict[str, list[int]]  # norm layer -> the channel ids it scales
    frozen_producers: set[str]  # producers with at least one channel that cannot be removed
    class_of: dict[int, int]  # channel id -> class root

    def kept(self, ids: list[int], removed: set[int]) -> list[int]:
        """Positions in ``ids`` whose class is not in ``removed``."""
        return [c for c, i in enumerate(ids) if self.class_of[i] not in removed]


def trace(model: nn.Module, example_input: Tensor | Sequence[Tensor]) -> ChannelGraph:
    """Run ``model`` once (eval mode, no grad) and find its prunable channel groups."""
    args = (example_input,) if isinstance(example_input, Tensor) else tuple(example_input)
    tracer = _Tracer(model)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), tracer.hooks():
            for a in args:
                tracer.label_input(a)
            with tracer:
                out = model(*args)
            for t in _tensors(out):
                tracer.freeze(tracer.label(t))
    finally:
        model.train(was_training)
    return tracer.graph()


class _Tracer(TorchFunctionMode):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.uf = _UnionFind()
        self.frozen: set[int] = set()
        self.labels: dict[int, list[int]] = {}  # id(tensor) -> channel ids along dim 1
        self.alive: list[Tensor] = []  # keeps labelled tensors alive so their ids stay unique
        self.layers: dict[str, LayerChannels] = {}
        self.norm_ids: dict[str, list[int]] = {}
        self.depth = 0  # > 0 while inside a layer handled by a hook

    # -- labels --------------------------------------------------------------------------

    def label(self, t: Tensor) -> list[int]:
        """The channel ids of ``t``; a tensor never seen before gets fresh, frozen ids."""
        if id(t) not in self.labels:
            ids = self.uf.new(t.shape[1] if t.dim() >= 2 else 0)
            self.freeze(ids)
            self.set_label(t, ids)
        return self.labels[id(t)]

    def set_label(self, t: Tensor, ids: list[int]) -> None:
        self.labels[id(t)] = ids
        self.alive.append(t)

    def label_input(self, t: object) -> None:
        if isinstance(t, Tensor):
            self.label(t)

    def freeze(self, ids: list[int]) -> None:
        self.frozen.update(ids)

    def unite(self, a: list[int], b: list[int]) -> None:
        for i, j in zip(a, b, strict=True):
            self.uf.union(i, j)

    # -- layers we understand, through module hooks ----------------------------------------

    def hooks(self):
        handles = []
        names = {m: n for n, m in self.model.named_modules()}
        for module, name in names.items():
            if isinstance(module, PRODUCERS + NORMS):
                handles.append(module.register_forward_pre_hook(self._enter))
                handles.append(module.register_forward_hook(
                    lambda m, i, o, name=name: self._leave(name, m, i, o)))
        return _Removing(handles)

    def _enter(self, module: nn.Module, inputs) -> None:
        self.depth += 1

    def _leave(self, name: str, module: nn.Module, inputs, output) -> None:
        self.depth -= 1
        if self.depth > 0:
            return  # a known layer nested in another one: the outer one speaks for both
        x = inputs[0]
        in_ids = self.label(x)
        if isinstance(module, NORMS):
            if x.dim() < 2 or getattr(module, "num_features", x.shape[1]) != x.shape[1]:
                self.freeze(in_ids)
                self.label(output)
                return
            ids = self.norm_ids.setdefault(name, in_ids)
            self.unite(ids, in_ids)
            self.set_label(output, in_ids)
            return
        layer = self.layers.get(name)
        if layer is None:
            layer = self.layers[name] = LayerChannels(name, module)
        supported = (
            _parametrized(module) is False
            and getattr(module, "groups", 1) == 1
            and (not isinstance(module, nn.Linear) or x.dim() == 2)
        )
        if not supported:
            self.freeze(in_ids)
            self.freeze(self.label(output))
            return
        if layer.in_ids is None:
            layer.in_ids = in_ids
            layer.out_ids = self.uf.new(output.shape[1])
        else:  # called again: the same filters, so the same channels
            self.unite(layer.in_ids, in_ids)
        self.set_label(output, layer.out_ids)

    # -- everything else, through torch functions -------------------------------------------

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.depth == 0:
            self._propagate(_name(func), args, kwargs, out)
        return out

    def _propagate(self, name: str, args, kwargs, out) -> None:
        outs = [t for t in _tensors(out) if t.dim() >= 2]
        ins = [t for t in _tensors((args, kwargs)) if id(t) in self.labels]
        if not outs:
            if _tensors(out):  # reduced to fewer than 2 dimensions: channels were mixed
                for t in ins:
                    self.freeze(self.label(t))
            return
        if name in _CONCATS:
            self._concat(args, kwargs, outs[0])
        elif name in _ELEMENTWISE and len(outs) == 1:
            self._elementwise(name, args, kwargs, outs[0])
        elif name in _RESHAPES and len(outs) == 1 and len(ins) == 1 and _keeps_channels(ins[0], outs[0]):
            self.set_label(outs[0], self.label(ins[0]))
        else:
            for t in ins:
                self.freeze(self.label(t))
            for t in outs:
                if id(t) not in self.labels:
                    self.label(t)  # fresh and frozen

    def _elementwise(self, name: str, args, kwargs, out: Tensor) -> None:
        if name == "pad":
            pad = args[1] if len(args) > 1 else kwargs.get("pad", ())
            if len(pad) > 2 * (out.dim() - 2):  # pads the channel dimension itself
                self._opaque(args, kwargs, out)
                return
        operands = [t for t in _tensors((args, kwargs)) if t is not out or id(t) in self.labels]
        label = None
        for t in operands:
            aligned = t.dim() - (out.dim() - 1)  # the dimension broadcast onto out's channels
            if id(t) in self.labels and t.dim() == out.dim() and t.shape[1] == out.shape[1]:
                if label is None:
                    label = self.labels[id(t)]
                else:
                    self.unite(label, self.labels[id(t)])
            elif aligned < 0 or (t.shape[aligned] == 1 and out.shape[1] > 1):
                continue  # a scalar, or the same for every channel
            else:  # a per-channel constant or a misaligned operand: channels are not free
                self._opaque(args, kwargs, out)
                return
        if label is None:
            label = self.label(out) if id(out) in self.labels else self._fresh_frozen(out)
        self.set_label(out, label)

    def _concat(self, args, kwargs, out: Tensor) -> None:
        tensors = list(args[0]) if args else list(kwargs.get("tensors", ()))
        dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
        dim = dim + out.dim() if dim < 0 else dim
        if dim == 1:
            self.set_label(out, list(itertools.chain.from_iterable(self.label(t) for t in tensors)))
        elif dim == 0:
            for t in tensors[1:]:
                self.unite(self.label(tensors[0]), self.label(t))
            self.set_label(out, self.label(tensors[0]))
        else:
            self._opaque(args, kwargs, out)

    def _opaque(self, args, kwargs, out: Tensor) -> None:
        for t in _tensors((args, kwargs)):
            if id(t) in self.labels:
                self.freeze(self.labels[id(t)])
        self.set_label(out, self._fresh_frozen(out))

    def _fresh_frozen(self, t: Tensor) -> list[int]:
        ids = self.uf.new(t.shape[1])
        self.freeze(ids)
        return ids

    # -- result ---------------------------------------------------------------------------

    def graph(self) -> ChannelGraph:
        find = self.uf.find
        frozen_roots = {find(i) for i in self.frozen}
        members: dict[int, list[tuple[str, int]]] = defaultdict(list)
        for name, layer in self.layers.items():
            for c, i in enumerate(layer.out_ids or ()):
                members[find(i)].append((name, c))
        norm_members: dict[int, list[tuple[str, int]]] = defaultdict(list)
        for name, ids in self.norm_ids.items():
            for c, i in enumerate(ids):
                norm_members[find(i)].append((name, c))
        groups: dict[tuple[str, ...], Group] = {}
        frozen_producers: set[str] = set()
        for root, channels in members.items():
            producers = tuple(sorted({n for n, _ in channels}))
            if root in frozen_roots:
                frozen_producers.update(producers)
                continue
            group = groups.setdefault(producers, Group(producers))
            group.roots.append(root)
            group.classes.append(sorted(channels))
            group.norms.append(sorted(norm_members.get(root, [])))
        class_of = {i: find(i) for i in range(len(self.uf.parent))}
        return ChannelGraph(self.layers, list(groups.values()), self.norm_ids, frozen_producers,
                            class_of)


class _Removing:
    def __init__(self, handles) -> None:
        self.handles = handles

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        for h in self.handles:
            h.remove()


def _parametrized(module: nn.Module) -> bool:
    return bool(getattr(module, "parametrizations", None))


def _name(func) -> str:
    return getattr(func, "__name__", "") or str(func)


def _keeps_channels(src: Tensor, out: Tensor) -> bool:
    return src.dim() >= 2 and out.dim() >= 2 and src.shape[:2] == out.shape[:2]


def _tensors(obj) -> list[Tensor]:
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensors(o)]
    return []

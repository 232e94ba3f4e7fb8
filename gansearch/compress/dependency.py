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
outputs: frozen channels are never removed, and each frozen class keeps the reason it was
frozen, so a pruning result can say what it left alone and why. Being conservative where it
does not understand is what makes the result safe on any model: the worst case is that less gets
pruned.

Grouped convolutions. A depthwise convolution (``groups == in_channels``) computes output
channel ``j`` from input channel ``j // multiplier`` alone, so its outputs are united with their
inputs: removing a channel before it removes its filters and the channels after it. A grouped
convolution with several inputs per group may lose channels only evenly: every group the same
number of inputs and of outputs. Its groups split the channel classes into *blocks*; a
:class:`Group` holds classes that share producers and blocks, and pruning one share of every
group keeps the blocks even when, for every grouped layer, each block is made of groups of the
same sizes. Where that does not hold the layer's channels are frozen.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
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
MODEL_INPUT, MODEL_OUTPUT = "the model's input", "the model's output"  # channels fixed by its interface
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
    ``blocks`` names the groups of grouped convolutions the classes fall in (empty for most
    models), so that ``key`` tells apart the parts of one layer's filters that must shrink evenly.
    """

    producers: tuple[str, ...]
    blocks: tuple[str, ...] = ()
    roots: list[int] = field(default_factory=list)  # one id per class (its union-find root)
    classes: list[list[tuple[str, int]]] = field(default_factory=list)  # producer channels
    norms: list[list[tuple[str, int]]] = field(default_factory=list)  # norm-layer channels

    @property
    def key(self) -> tuple[str, ...]:
        """Names the group stably across pruning: its producers, then its blocks."""
        return self.producers + self.blocks


@dataclass
class ChannelGraph:
    layers: dict[str, LayerChannels]
    groups: list[Group]
    norms: dict[str, list[int]]  # norm layer -> the channel ids it scales
    frozen: dict[tuple[str, ...], str]  # producers of channels that cannot go -> why
    class_of: dict[int, int]  # channel id -> class root
    interface: int = 0  # producer channels tied to the model's inputs or outputs: never prunable

    @property
    def frozen_producers(self) -> set[str]:
        """Producers with at least one channel that cannot be removed."""
        return {name for producers in self.frozen for name in producers}

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
                tracer.freeze(tracer.label(t), MODEL_OUTPUT)
    finally:
        model.train(was_training)
    return tracer.graph()


class _Tracer(TorchFunctionMode):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.uf = _UnionFind()
        self.frozen: dict[int, str] = {}  # channel id -> why it cannot be removed
        self.blocks: list[tuple[str, list[list[int]]]] = []  # grouped layer side -> its blocks
        self.skipped: dict[str, str] = {}  # producer layers not traced -> why
        self.labels: dict[int, list[int]] = {}  # id(tensor) -> channel ids along dim 1
        self.alive: list[Tensor] = []  # keeps labelled tensors alive so their ids stay unique
        self.layers: dict[str, LayerChannels] = {}
        self.norm_ids: dict[str, list[int]] = {}
        self.depth = 0  # > 0 while inside a layer handled by a hook

    # -- labels --------------------------------------------------------------------------

    def label(self, t: Tensor, reason: str = "made by an operation that is not traced") -> list[int]:
        """The channel ids of ``t``; a tensor never seen before gets fresh, frozen ids."""
        if id(t) not in self.labels:
            ids = self.uf.new(t.shape[1] if t.dim() >= 2 else 0)
            self.freeze(ids, reason)
            self.set_label(t, ids)
        return self.labels[id(t)]

    def set_label(self, t: Tensor, ids: list[int]) -> None:
        self.labels[id(t)] = ids
        self.alive.append(t)

    def label_input(self, t: object) -> None:
        if isinstance(t, Tensor):
            self.label(t, MODEL_INPUT)

    def freeze(self, ids: list[int], reason: str) -> None:
        for i in ids:
            self.frozen.setdefault(i, reason)

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
                self.freeze(in_ids, f"{name} normalizes across channels")
                self.label(output, f"{name} normalizes across channels")
                return
            ids = self.norm_ids.setdefault(name, in_ids)
            self.unite(ids, in_ids)
            self.set_label(output, in_ids)
            return
        unsupported = (
            f"{name} is parametrized" if _parametrized(module)
            else f"{name} reads a {x.dim()}-d input" if isinstance(module, nn.Linear) and x.dim() != 2
            else None
        )
        if unsupported:
            self.skipped.setdefault(name, unsupported)
            self.freeze(in_ids, unsupported)
            self.freeze(self.label(output, unsupported), unsupported)
            return
        layer = self.layers.get(name)
        if layer is None:
            layer = self.layers[name] = LayerChannels(name, module)
        if layer.in_ids is None:
            layer.in_ids = in_ids
            layer.out_ids = self._outputs(name, module, in_ids, output.shape[1])
        else:  # called again: the same filters, so the same channels
            self.unite(layer.in_ids, in_ids)
        self.set_label(output, layer.out_ids)

    def _outputs(self, name: str, module: nn.Module, in_ids: list[int], n_out: int) -> list[int]:
        """Fresh ids for a layer's output channels, tied to its inputs as its groups say."""
        groups = getattr(module, "groups", 1)
        if groups == 1:
            return self.uf.new(n_out)
        if groups == len(in_ids):  # depthwise: output j is input j // multiplier, filtered
            multiplier = n_out // groups
            return [in_ids[j // multiplier] for j in range(n_out)]
        out_ids = self.uf.new(n_out)
        for side, ids in (("in", in_ids), ("out", out_ids)):
            size = len(ids) // groups
            self.blocks.append((f"{name}.{side}", [ids[g * size:(g + 1) * size] for g in range(groups)]))
        return out_ids

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
                    self.freeze(self.label(t), f"{name} reduces over channels")
            return
        if name in _CONCATS:
            self._concat(args, kwargs, outs[0])
        elif name in _ELEMENTWISE and len(outs) == 1:
            self._elementwise(name, args, kwargs, outs[0])
        elif name in _RESHAPES and len(outs) == 1 and len(ins) == 1 and _keeps_channels(ins[0], outs[0]):
            self.set_label(outs[0], self.label(ins[0]))
        else:
            reason = f"{name} is not known to keep channels apart"
            for t in ins:
                self.freeze(self.label(t), reason)
            for t in outs:
                if id(t) not in self.labels:
                    self.label(t, reason)  # fresh and frozen

    def _elementwise(self, name: str, args, kwargs, out: Tensor) -> None:
        if name == "pad":
            pad = args[1] if len(args) > 1 else kwargs.get("pad", ())
            if len(pad) > 2 * (out.dim() - 2):  # pads the channel dimension itself
                self._opaque("pad along channels", args, kwargs, out)
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
                self._opaque(f"{name} with a per-channel operand", args, kwargs, out)
                return
        if label is None:
            label = (self.label(out) if id(out) in self.labels
                     else self._fresh_frozen(out, "made from constants"))
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
            self._opaque(f"concatenation along dimension {dim}", args, kwargs, out)

    def _opaque(self, reason: str, args, kwargs, out: Tensor) -> None:
        for t in _tensors((args, kwargs)):
            if id(t) in self.labels:
                self.freeze(self.labels[id(t)], reason)
        self.set_label(out, self._fresh_frozen(out, reason))

    def _fresh_frozen(self, t: Tensor, reason: str) -> list[int]:
        ids = self.uf.new(t.shape[1])
        self.freeze(ids, reason)
        return ids

    # -- result ---------------------------------------------------------------------------

    def graph(self) -> ChannelGraph:
        find = self.uf.find
        why: dict[int, str] = {}  # frozen class root -> reason
        for i in sorted(self.frozen):
            why.setdefault(find(i), self.frozen[i])
        members: dict[int, list[tuple[str, int]]] = defaultdict(list)
        for name, layer in self.layers.items():
            for c, i in enumerate(layer.out_ids or ()):
                members[find(i)].append((name, c))
        norm_members: dict[int, list[tuple[str, int]]] = defaultdict(list)
        for name, ids in self.norm_ids.items():
            for c, i in enumerate(ids):
                norm_members[find(i)].append((name, c))
        producers_of = {root: tuple(sorted({n for n, _ in ch})) for root, ch in members.items()}
        blocks_of = _even_blocks(self.blocks, find, producers_of, why)
        groups: dict[tuple[str, ...], Group] = {}
        frozen: dict[tuple[str, ...], str] = {(n,): why for n, why in self.skipped.items()}
        interface = 0
        for root, channels in members.items():
            producers = producers_of[root]
            if root in why:
                frozen.setdefault(producers, why[root])
                interface += len(channels) if why[root] in (MODEL_INPUT, MODEL_OUTPUT) else 0
                continue
            blocks = blocks_of.get(root, ())
            group = groups.setdefault(producers + blocks, Group(producers, blocks))
            group.roots.append(root)
            group.classes.append(sorted(channels))
            group.norms.append(sorted(norm_members.get(root, [])))
        class_of = {i: find(i) for i in range(len(self.uf.parent))}
        return ChannelGraph(self.layers, list(groups.values()), self.norm_ids, frozen, class_of, interface)


def _even_blocks(blocks: list[tuple[str, list[list[int]]]], find, producers_of: dict[int, tuple],
                 why: dict[int, str]) -> dict[int, tuple[str, ...]]:
    """The blocks of grouped layers each class falls in; freezes (in ``why``) the classes of a
    layer whose groups could not all lose the same number of channels."""
    sides = [(side, [Counter(find(i) for i in ids) for ids in parts]) for side, parts in blocks]
    changed = True
    while changed:
        changed = False
        signature: dict[int, tuple[str, ...]] = defaultdict(tuple)
        for side, parts in sides:
            for g, counts in enumerate(parts):
                for r, n in counts.items():  # n > 1: the class is read n times in the group
                    signature[r] += (f"{side}[{g}]" + (f"x{n}" if n > 1 else ""),)
        sizes: dict[tuple, int] = defaultdict(int)  # group of classes -> how many classes
        for r, sig in signature.items():
            if r not in why and r in producers_of:
                sizes[producers_of[r] + sig] += 1
        for side, parts in sides:
            shapes = {tuple(sorted((sizes[producers_of[r] + signature[r]], n) for r, n in counts.items()
                                   if r not in why and r in producers_of)) for counts in parts}
            roots = {r for counts in parts for r in counts}
            if len(shapes) > 1 and any(r not in why for r in roots):
                layer = side.rsplit(".", 1)[0]
                for r in roots:
                    why.setdefault(r, f"{layer} has {len(parts)} groups that cannot lose "
                                      f"channels evenly")
                changed = True
    return dict(signature)


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

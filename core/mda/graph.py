"""The channel graph of a CNN, found with torch.fx: which channels of which tensors are one physical
channel, and how relevance demands flow backwards between tensors.

The unit is the tensor, not the layer (the official code walked a reversed module list as if every
net were a chain). Every traced tensor of rank 2 or 4 gets one id per channel; ops that keep a
channel's identity (BN, activations, pooling, dropout, depthwise convs, residual additions) unite
the ids of their inputs and output, a concatenation unites each input channel with its offset in
the output, a flatten unites each feature with its channel. A union-find root is then one physical
channel: pruning keeps or drops it everywhere at once. Channels the method cannot reason about
(the image, inputs and outputs of unknown ops) are *fixed*: always kept.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from core.errors import InvalidInput

LAYER_TYPES = (nn.Conv2d, nn.Linear)
NORM_TYPES = (nn.BatchNorm2d, nn.BatchNorm1d)
PASS_MODULES: tuple[type[nn.Module], ...] = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.SiLU,
    nn.GELU,
    nn.Hardswish,
    nn.Tanh,
    nn.Dropout,
    nn.Dropout2d,
    nn.Identity,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveMaxPool2d,
)
PASS_FUNCTIONS: set[Any] = {
    F.relu,
    F.relu6,
    F.gelu,
    F.silu,
    F.dropout,
    F.max_pool2d,
    F.avg_pool2d,
    F.adaptive_avg_pool2d,
    F.adaptive_max_pool2d,
    torch.relu,
    torch.flatten,
}
PASS_METHODS = {"relu", "relu_", "contiguous", "clone", "flatten", "view", "reshape", "mean", "float"}
ELEMENTWISE = {operator.add, operator.iadd, operator.mul, operator.imul, operator.sub, torch.add, torch.mul}
ELEMENTWISE_METHODS = {"add", "add_", "mul", "mul_", "sub"}
IGNORED_FUNCTIONS = {getattr, operator.getitem}
OPAQUE_CLASSES = {"ConvMlp"}  # timm's VGG pre-logits branch on the input size: a leaf, kept whole


class _Tracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return type(m).__name__ in OPAQUE_CLASSES or super().is_leaf_module(m, module_qualified_name)


def trace(model: nn.Module, example: torch.Tensor) -> fx.GraphModule:
    """fx graph of ``model`` with every node's output shape (``node.meta['tensor_meta']``)."""
    try:
        graph = _Tracer().trace(model)
    except Exception as exc:  # fx raises many types for untraceable control flow
        raise InvalidInput(
            f"{type(model).__name__} cannot be traced with torch.fx ({exc}); Model LEGO needs a static graph"
        ) from exc
    gm = fx.GraphModule(model, graph)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(example)
    finally:
        model.train(was_training)
    return gm


def shape(node: Any) -> tuple[int, ...] | None:
    """The output shape of a traced node, or None when it is not a single tensor."""
    meta = getattr(node, "meta", {}).get("tensor_meta") if isinstance(node, fx.Node) else None
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else None


def channels(node: Any) -> int | None:
    """Channel count (dim 1) of a rank-2 or rank-4 tensor node."""
    s = shape(node)
    return s[1] if s is not None and len(s) in (2, 4) else None


def tensor_args(node: fx.Node) -> list[fx.Node]:
    out: list[fx.Node] = []
    for a in list(node.args) + list(node.kwargs.values()):
        for b in a if isinstance(a, (list, tuple)) else (a,):
            if isinstance(b, fx.Node) and shape(b) is not None:
                out.append(b)
    return out


@dataclass
class Step:
    """How one node relates its output channels to its inputs' channels."""

    kind: str  # layer | norm | pass | flatten | cat | elementwise | depthwise | unknown | ignore | output
    node: fx.Node
    inputs: list[fx.Node] = field(default_factory=list)
    module: nn.Module | None = None


def classify(gm: fx.GraphModule, node: fx.Node) -> Step:
    """The channel rule of one node."""
    modules = dict(gm.named_modules())
    ins = tensor_args(node)
    if node.op == "output":
        return Step("output", node, ins)
    if node.op in ("placeholder", "get_attr"):
        return Step("unknown", node, [])
    out_ch = channels(node)
    if node.op == "call_module":
        module = modules[str(node.target)]
        if isinstance(module, nn.Conv2d):
            if module.groups == 1:
                return Step("layer", node, ins, module)
            if module.groups == module.in_channels == module.out_channels:
                return Step("depthwise", node, ins, module)
            return Step("unknown", node, ins, module)  # grouped: scored, never pruned
        if isinstance(module, nn.Linear):
            if out_ch is None or channels(ins[0]) is None:
                return Step("unknown", node, ins, module)
            return Step("layer", node, ins, module)
        if isinstance(module, NORM_TYPES):
            return Step("norm", node, ins, module)
        if isinstance(module, nn.Flatten):
            return _flatten_or_pass(node, ins)
        if isinstance(module, PASS_MODULES):
            return _pass(node, ins)
        return Step("unknown", node, ins, module)
    if node.op == "call_function":
        if node.target in IGNORED_FUNCTIONS:
            return Step("ignore", node, ins)
        if node.target is torch.cat:
            dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
            return Step("cat" if dim == 1 and out_ch is not None else "unknown", node, ins)
        if node.target in ELEMENTWISE:
            return Step("elementwise" if out_ch is not None else "unknown", node, ins)
        if node.target is torch.flatten:
            return _flatten_or_pass(node, ins)
        if node.target in PASS_FUNCTIONS:
            return _pass(node, ins)
        return Step("unknown", node, ins)
    if node.op == "call_method":
        name = str(node.target)
        if name in ("size", "dim"):
            return Step("ignore", node, ins)
        if name in ELEMENTWISE_METHODS:
            return Step("elementwise" if out_ch is not None else "unknown", node, ins)
        if name in ("flatten", "view", "reshape"):
            return _flatten_or_pass(node, ins[:1])
        if name in PASS_METHODS:
            return _pass(node, ins[:1])
    return Step("unknown", node, ins)


def _pass(node: fx.Node, ins: list[fx.Node]) -> Step:
    out_ch = channels(node)
    if len(ins) == 1 and out_ch is not None and channels(ins[0]) == out_ch:
        return Step("pass", node, ins)
    return Step("unknown", node, ins)


def _flatten_or_pass(node: fx.Node, ins: list[fx.Node]) -> Step:
    out, src = shape(node), shape(ins[0]) if ins else None
    if out is None or src is None:
        return Step("unknown", node, ins)
    if len(src) == len(out) and src[:2] == out[:2]:
        return _pass(node, ins)
    if len(src) == 4 and len(out) == 2 and out[1] == src[1] * src[2] * src[3]:
        return Step("flatten", node, ins)
    if len(src) == 2 and len(out) == 4 and src[1] == out[1]:
        return Step("pass", node, ins)
    return Step("unknown", node, ins)


class UnionFind:
    def __init__(self) -> None:
        self.parent: list[int] = []

    def add(self, count: int) -> range:
        start = len(self.parent)
        self.parent.extend(range(start, start + count))
        return range(start, start + count)

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
class ChannelGraph:
    """Steps in topological order, channel ids per tensor node, and the fixed channel ids."""

    gm: fx.GraphModule
    steps: list[Step]
    ids: dict[fx.Node, range]
    uf: UnionFind
    fixed: set[int]
    output: fx.Node  # the logits node

    def roots(self, node: fx.Node) -> list[int]:
        return [self.uf.find(i) for i in self.ids[node]]

    def layer_steps(self) -> Iterator[Step]:
        return (s for s in self.steps if s.kind in ("layer", "depthwise"))


def build_channel_graph(gm: fx.GraphModule) -> ChannelGraph:
    """Classify every node and unite the channel ids that are one physical channel."""
    uf = UnionFind()
    ids: dict[fx.Node, range] = {}
    steps = [classify(gm, n) for n in gm.graph.nodes]
    fixed: set[int] = set()
    calls: dict[str, int] = {}
    output: fx.Node | None = None
    for step in steps:
        node = step.node
        c = channels(node)
        if c is not None:
            ids[node] = uf.add(c)
        if node.op == "call_module":
            calls[str(node.target)] = calls.get(str(node.target), 0) + 1
    for step in steps:
        node, ins = step.node, step.inputs
        if step.kind == "output":
            if len(ins) != 1 or ins[0] not in ids or len(shape(ins[0]) or ()) != 2:
                raise InvalidInput("the model must return one tensor of logits (batch × classes)")
            output = ins[0]
        elif step.kind in ("pass", "norm", "depthwise"):
            for a, b in zip(ids[ins[0]], ids[node], strict=True):
                uf.union(a, b)
        elif step.kind == "flatten":
            src = shape(ins[0])
            assert src is not None
            per = src[2] * src[3]
            for f, feature in enumerate(ids[node]):
                uf.union(ids[ins[0]][f // per], feature)
        elif step.kind == "cat":
            offset = 0
            for part in ins:
                for j, i in enumerate(ids[part]):
                    uf.union(i, ids[node][offset + j])
                offset += len(ids[part])
        elif step.kind == "elementwise":
            for operand in ins:
                if operand in ids and len(ids[operand]) == len(ids[node]):
                    for x, y in zip(ids[operand], ids[node], strict=True):
                        uf.union(x, y)
                elif operand in ids and len(ids[operand]) != 1:
                    fixed.update(ids[operand])
                    fixed.update(ids[node])
        elif step.kind == "unknown":
            for touched in [*ins, node]:
                if touched in ids:
                    fixed.update(ids[touched])
    for name, count in calls.items():
        module = gm.get_submodule(name)
        if count > 1 and isinstance(module, (*LAYER_TYPES, *NORM_TYPES)):
            raise InvalidInput(f"module {name!r} is called {count} times; shared layers cannot be pruned")
    assert output is not None
    return ChannelGraph(gm, steps, ids, uf, {uf.find(i) for i in fixed}, output)


def propagate(
    graph: ChannelGraph,
    output_demand: torch.Tensor,
    layer_rule: Callable[[Step, torch.Tensor], torch.Tensor],
) -> dict[fx.Node, torch.Tensor]:
    """Per-class demands (K × channels, bool) of every tensor, flowing backwards from the logits.

    A tensor's demand is the OR of what its consumers demand of it. ``layer_rule(step, out_demand)``
    gives a layer's input demand from its output demand (the relevance recursion)."""
    k = output_demand.shape[0]
    device = output_demand.device
    demand: dict[fx.Node, torch.Tensor] = {graph.output: output_demand.clone()}

    def give(node: fx.Node, value: torch.Tensor) -> None:
        if node in graph.ids:
            demand[node] = demand[node] | value if node in demand else value.clone()

    for step in reversed(graph.steps):
        node = step.node
        if step.kind in ("output", "ignore") or node not in graph.ids and step.kind != "unknown":
            continue
        out = demand.get(node)
        if out is None:
            out = torch.zeros(k, len(graph.ids.get(node, ())), dtype=torch.bool, device=device)
        if step.kind in ("layer", "depthwise"):
            give(step.inputs[0], layer_rule(step, out))
        elif step.kind in ("pass", "norm"):
            give(step.inputs[0], out)
        elif step.kind == "flatten":
            src = shape(step.inputs[0])
            assert src is not None
            give(step.inputs[0], out.view(k, src[1], src[2] * src[3]).any(-1))
        elif step.kind == "cat":
            offset = 0
            for a in step.inputs:
                n = len(graph.ids[a])
                give(a, out[:, offset : offset + n])
                offset += n
        elif step.kind == "elementwise":
            for a in step.inputs:
                if a in graph.ids and len(graph.ids[a]) == out.shape[1]:
                    give(a, out)
        elif step.kind == "unknown":
            for a in step.inputs:
                if a in graph.ids:
                    give(a, torch.ones(k, len(graph.ids[a]), dtype=torch.bool, device=device))
    return demand

"""Stem and head as runnable modules, cut out of the model's own ``forward`` with torch.fx.

The stem is everything ``forward`` computes before node 0 (patch embedding, class token, position
embedding: also code that is no module), the head everything after the last node (final norm, token
pooling, classifier). Every module that is neither a node nor holds one is a leaf for the tracer, so
only the glue code of ``forward`` and of the containers is traced. The cut graphs keep only what they
use, so their parameters are the stem's and the head's own, shared with the source model.

Python-level ``self.training`` tests in ``forward`` are frozen by tracing; when the train-mode and the
eval-mode cuts differ (e.g. a functional dropout before the classifier), both are kept and the one
matching the module's mode runs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import fx, nn

from core.errors import DissectionMismatch, NotALineGraph


class _Tracer(fx.Tracer):
    def __init__(self, traced_through: set[str]):
        super().__init__(autowrap_functions=_timm_notrace_functions())
        self.traced_through = traced_through

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return module_qualified_name not in self.traced_through


def _timm_notrace_functions() -> tuple[Callable[..., object], ...]:
    try:
        from timm.layers import _fx
    except ImportError:  # pragma: no cover - timm is a dependency
        return ()
    return tuple(f for f in _fx.get_notrace_functions() if callable(f))


class ModeSwitch(nn.Module):
    """Runs the train-mode cut in training mode and the eval-mode cut otherwise (same weights)."""

    _train_cut: tuple[fx.GraphModule]  # a plain attribute, not a child: it shares eval_cut's weights

    def __init__(self, eval_cut: fx.GraphModule, train_cut: fx.GraphModule):
        super().__init__()
        self.cut = eval_cut
        self._train_cut = (train_cut,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._train_cut[0](x) if self.training else self.cut(x)


def cut_stem_and_head(model: nn.Module, members: list[tuple[str, ...]]) -> tuple[nn.Module, nn.Module]:
    """(stem, head) for a model whose nodes have the given member module paths, in order."""
    first, last = members[0][0], members[-1][-1]
    through = {""}
    for group in members:
        for path in group:
            parts = path.split(".")
            through.update(".".join(parts[:i]) for i in range(1, len(parts)))
    cuts: dict[bool, tuple[fx.GraphModule, fx.GraphModule]] = {}
    was_training = model.training
    try:
        for mode in (False, True):
            model.train(mode)
            try:
                graph = _Tracer(through).trace(model)
            except Exception as exc:
                raise DissectionMismatch(
                    "could not trace the model's forward to cut its stem and head "
                    f"({type(exc).__name__}: {exc})",
                    details={"first_node": first, "last_node": last},
                ) from exc
            stem = fx.GraphModule(model, _stem_graph(graph, first), class_name="Stem")
            head = fx.GraphModule(model, _head_graph(graph, last), class_name="Head")
            cuts[mode] = (stem, head)
    finally:
        model.train(was_training)
    pieces = []
    for i in range(2):
        eval_cut, train_cut = cuts[False][i], cuts[True][i]
        pieces.append(eval_cut if eval_cut.code == train_cut.code else ModeSwitch(eval_cut, train_cut))
    return pieces[0], pieces[1]


def _only_call(graph: fx.Graph, target: str) -> fx.Node:
    calls = [n for n in graph.nodes if n.op == "call_module" and n.target == target]
    if len(calls) != 1:
        raise NotALineGraph(
            f"module {target!r} is called {len(calls)} times in the traced forward; a node must run once",
            details={"node": target},
        )
    return calls[0]


def _ancestors(start: list[fx.Node], stop: fx.Node | None = None) -> set[fx.Node]:
    seen: set[fx.Node] = set()
    todo = list(start)
    while todo:
        node = todo.pop()
        if node in seen or node is stop:
            continue
        seen.add(node)
        todo.extend(node.all_input_nodes)
    return seen


def _stem_graph(graph: fx.Graph, first: str) -> fx.Graph:
    call = _only_call(graph, first)
    if not call.args or not isinstance(call.args[0], fx.Node):
        raise NotALineGraph(f"node {first!r} is not called with a tensor", details={"node": first})
    source = call.args[0]
    keep = _ancestors([source])
    out = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    for node in graph.nodes:
        if node in keep:
            env[node] = out.node_copy(node, lambda n: env[n])
    out.output(env[source])
    out.lint()
    return out


def _head_graph(graph: fx.Graph, last: str) -> fx.Graph:
    call = _only_call(graph, last)
    result = next(n for n in graph.nodes if n.op == "output")
    keep = _ancestors(list(result.all_input_nodes), stop=call)
    if any(n.op == "placeholder" for n in keep):
        raise NotALineGraph(
            f"the part after the last node {last!r} also reads the model's input or something computed "
            "from it before that node; the output does not depend on the last node alone",
            details={"node": last},
        )
    out = fx.Graph()
    env: dict[fx.Node, fx.Node] = {call: out.placeholder("x")}
    for node in graph.nodes:
        if node in keep:
            env[node] = out.node_copy(node, lambda n: env[n])
    out.output(fx.map_arg(result.args[0], lambda n: env[n]))
    out.lint()
    return out

"""One traced forward pass that proves the line-graph property.

Hooks on the candidate nodes record each node's input and output tensors; a TorchFunctionMode records
every tensor operation that runs *outside* the nodes (stem, head, glue code in ``forward``). The
trunk is a line graph when, in execution order, node i's output tensor is the very object node i+1
receives, and nothing else reads it (nor the input of node 0) — a skip connection, a concatenation
of earlier features or a second consumer shows up as an extra reader and is refused by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.hooks import RemovableHandle

from core.dissect.candidates import Candidate
from core.dissect.paths import member_paths
from core.errors import NotALineGraph


@dataclass
class TracedNode:
    path: str
    role: str
    members: tuple[str, ...]
    calls: int = 0
    start: int = -1
    end: int = -1
    inputs: list[torch.Tensor] = field(default_factory=list)
    output: Any = None
    member_break: str | None = None  # set when the members of a range node do not chain


@dataclass
class _State:
    seq: int = 0
    depth: int = 0
    readers: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    keep: list[torch.Tensor] = field(default_factory=list)  # keeps ids unique during the pass

    def tick(self) -> int:
        self.seq += 1
        return self.seq

    def read(self, tensor: torch.Tensor, who: str) -> None:
        self.keep.append(tensor)
        self.readers.setdefault(id(tensor), []).append((self.tick(), who))

    def readers_after(self, tensor: Any, after: int) -> list[str]:
        return [who for seq, who in self.readers.get(id(tensor), []) if seq > after]


class _OpRecorder(TorchFunctionMode):
    def __init__(self, state: _State):
        super().__init__()
        self.state = state

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.state.depth == 0:
            produced = list(tensors_in(out))
            if produced:  # metadata queries (shape, dim, size) read nothing that matters
                name = getattr(func, "__name__", None) or repr(func)
                for tensor in tensors_in((args, kwargs)):
                    self.state.read(tensor, f"operation {name!r}")
                self.state.keep.extend(produced)
        return out


def tensors_in(value: Any) -> Iterator[torch.Tensor]:
    """Every tensor inside nested tuples, lists and dicts."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from tensors_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from tensors_in(item)


@torch.no_grad()
def trace_nodes(
    model: nn.Module, candidates: list[Candidate], x: torch.Tensor
) -> tuple[list[TracedNode], Any]:
    """Run ``model(x)`` once; return the nodes of the verified line in execution order, and the output.

    Raises ``NotALineGraph`` naming the first node where the data flow branches."""
    state = _State()
    traced = [TracedNode(c.path, c.role, member_paths(model, c.path)) for c in candidates]
    handles: list[RemovableHandle] = []
    for node in traced:
        handles += _hook(model, node, state)
    try:
        with _OpRecorder(state):
            output = model(x)
    finally:
        for handle in handles:
            handle.remove()
    return _verify(traced, state), output


def _hook(model: nn.Module, node: TracedNode, state: _State) -> list[RemovableHandle]:
    label = f"node {node.path!r}"
    modules = [model.get_submodule(m) for m in node.members]
    handles = []
    last_out: list[Any] = [None]

    def pre(position: int) -> Any:
        def hook(_: nn.Module, args: Any, kwargs: Any) -> None:
            given = list(tensors_in((args, kwargs)))
            if position == 0:
                node.calls += 1
                if node.calls == 1:
                    node.inputs = given
                    for tensor in given:
                        state.read(tensor, label)
                    node.start = state.tick()
                state.depth += 1
            elif len(given) != 1 or given[0] is not last_out[0]:
                node.member_break = node.members[position]

        return hook

    def post(position: int) -> Any:
        def hook(_: nn.Module, args: Any, output: Any) -> None:
            last_out[0] = output
            if position == len(modules) - 1:
                state.depth -= 1
                if node.calls == 1:
                    node.output = output
                    node.end = state.tick()
                    state.keep.extend(tensors_in(output))

        return hook

    for position, module in enumerate(modules):
        handles.append(module.register_forward_pre_hook(pre(position), with_kwargs=True))
        handles.append(module.register_forward_hook(post(position)))
    return handles


def _verify(traced: list[TracedNode], state: _State) -> list[TracedNode]:
    for node in traced:
        if node.calls > 1:
            raise _branch(node, f"it runs {node.calls} times in one forward pass (shared or recurrent)")
    ran = sorted((n for n in traced if n.calls == 1), key=lambda n: n.start)
    blocks = [i for i, n in enumerate(ran) if n.role == "block"]
    if not blocks:
        raise NotALineGraph(
            "no candidate block ran in the forward pass: nothing to dissect",
            details={"candidates": [n.path for n in traced]},
        )
    nodes = ran[blocks[0] : blocks[-1] + 1]
    # The trunk ends where features become pooled vectors (a classifier found among the containers).
    for index, node in enumerate(nodes):
        if _is_vector(node.inputs[0] if node.inputs else None) or _is_vector(node.output):
            nodes = nodes[:index]
            break
    if not nodes:
        raise NotALineGraph(
            "no candidate block maps a feature map or token sequence to another; nothing to dissect",
            details={"candidates": [n.path for n in traced]},
        )
    for index, node in enumerate(nodes):
        if index and node.start < nodes[index - 1].end:
            raise _branch(node, f"it runs inside node {nodes[index - 1].path!r}", index)
        if node.member_break is not None:
            raise _branch(
                node, f"its layer {node.member_break!r} does not take the previous layer's output", index
            )
        if len(node.inputs) != 1:
            raise _branch(
                node, f"it takes {len(node.inputs)} tensors as input, a line-graph node takes one", index
            )
        if not isinstance(node.output, torch.Tensor):
            raise _branch(node, "its output is not a single tensor", index)
        if index == 0:
            readers = state.readers_after(node.inputs[0], node.start - 2)
            if readers != [f"node {node.path!r}"]:
                raise _branch(node, f"its input is also read by {_others(readers, node.path)}", 0)
        if index + 1 == len(nodes):
            break
        following = nodes[index + 1]
        readers = state.readers_after(node.output, node.end)
        if not following.inputs or following.inputs[0] is not node.output:
            why = f"its output reaches the next node {following.path!r} only through {_others(readers, '')}"
            raise _branch(node, why, index)
        if readers != [f"node {following.path!r}"]:
            why = f"its output is read by {_others(readers, following.path)} besides the next node"
            raise _branch(node, why, index)
    return nodes


def _is_vector(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and value.dim() < 3


def _others(readers: list[str], path: str) -> str:
    rest = [r for r in readers if r != f"node {path!r}"]
    if not rest:
        return "nothing"
    shown = ", ".join(dict.fromkeys(rest))
    return shown if len(shown) < 300 else shown[:300] + "…"


def _branch(node: TracedNode, why: str, index: int | None = None) -> NotALineGraph:
    where = f"node {index} ({node.path})" if index is not None else f"node {node.path}"
    return NotALineGraph(
        f"the model is not a line graph at {where}: {why}. Only models whose trunk is a chain of blocks "
        "(each block's output feeding only the next block) can be dissected.",
        details={"node": node.path, "index": index},
    )

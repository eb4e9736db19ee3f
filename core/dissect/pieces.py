"""A dissected model as runnable pieces: stem → nodes → head, sharing the source model's weights."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from core.dissect.graph import cut_stem_and_head
from core.dissect.paths import member_paths, node_module
from core.dissect.types import Dissection
from core.errors import InvalidInput


class SplitModel(nn.Module):
    """``forward(x) = head(nodes[L-1](… nodes[0](stem(x))))``; every piece shares the source weights."""

    def __init__(self, stem: nn.Module, nodes: Sequence[nn.Module], head: nn.Module, paths: Sequence[str]):
        super().__init__()
        self.stem = stem
        self.nodes = nn.ModuleList(nodes)
        self.head = head
        self.paths: tuple[str, ...] = tuple(paths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for node in self.nodes:
            x = node(x)
        return self.head(x)

    def block(self, first: int, last: int) -> nn.Sequential:
        """Nodes ``first .. last`` (inclusive) as one runnable module."""
        count = len(self.nodes)
        if not 0 <= first <= last < count:
            raise InvalidInput(
                f"block({first}, {last}) is not a node range of this model: it has nodes 0..{count - 1}",
                details={"first": first, "last": last, "nodes": count},
            )
        return nn.Sequential(*(self.nodes[i] for i in range(first, last + 1)))


def split(model: nn.Module, dissection: Dissection) -> SplitModel:
    """Runnable stem, nodes and head of ``model`` as described by ``dissection``."""
    if not dissection.nodes:
        raise InvalidInput("the dissection has no nodes")
    return split_at(model, [node.path for node in dissection.nodes])


def split_at(model: nn.Module, paths: Sequence[str]) -> SplitModel:
    members = [member_paths(model, path) for path in paths]
    stem, head = cut_stem_and_head(model, members)
    return SplitModel(stem, [node_module(model, path) for path in paths], head, paths)

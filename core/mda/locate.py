"""Locating a task-aware component: per-class contributions of every layer on the selected samples,
then the backward relevance recursion over the channel graph, then which physical channels to keep.

Per class and per layer we accumulate ŝ = Σ_samples max(s, 0) (K×O×I); the recursion runs per class
from the class's own logit, and the component for a class set keeps the OR of the classes' masks
(the official code ORs per-class masks the same way).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import fx, nn

from core.errors import InvalidInput
from core.mda.contrib import contributions, relevance
from core.mda.graph import ChannelGraph, Step, build_channel_graph, propagate, trace
from core.progress import Progress, no_progress


@dataclass(frozen=True)
class Thresholds:
    """α (kernel) and β (input channel) thresholds; the paper's defaults."""

    alpha_conv: float = 0.3
    beta_conv: float = 0.2
    alpha_linear: float = 0.4
    beta_linear: float = 0.3

    def of(self, module: nn.Module) -> tuple[float, float]:
        if isinstance(module, nn.Linear):
            return self.alpha_linear, self.beta_linear
        return self.alpha_conv, self.beta_conv


@dataclass
class Location:
    """Everything the pruning step needs: the graph, per-tensor class demands and kept channel roots."""

    graph: ChannelGraph
    demand: dict[fx.Node, torch.Tensor]
    keep: set[int]  # union-find roots of the channels to keep
    order: dict[int, int]  # logit root -> position in the requested class list


@torch.no_grad()
def accumulate_contributions(
    model: nn.Module,
    graph: ChannelGraph,
    images: torch.Tensor,
    positions: torch.Tensor,
    num_classes: int,
    batch_size: int = 32,
    progress: Progress = no_progress,
) -> dict[str, torch.Tensor]:
    """ŝ summed per class: ``{layer name: K×O×I}``; ``positions[i]`` is image i's class position."""
    device = next(model.parameters()).device
    sums: dict[str, torch.Tensor] = {}
    current: list[torch.Tensor] = []
    handles = []
    for step in graph.layer_steps():
        name = str(step.node.target)
        module = graph.gm.get_submodule(name)

        def hook(mod: nn.Module, args: tuple[torch.Tensor, ...], name: str = name) -> None:
            s = contributions(mod, args[0]).clamp_min_(0)  # ReLU per sample
            if name not in sums:
                sums[name] = s.new_zeros(num_classes, s.shape[1], s.shape[2])
            sums[name].index_add_(0, current[0], s)

        handles.append(module.register_forward_pre_hook(hook))
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(images), batch_size):
            current[:] = [positions[start : start + batch_size].to(device)]
            model(images[start : start + batch_size].to(device))
            progress(min(1.0, (start + batch_size) / len(images)), "contributions")
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return sums


def locate(
    model: nn.Module,
    images: torch.Tensor,
    positions: torch.Tensor,
    classes: list[int],
    thresholds: Thresholds,
    progress: Progress = no_progress,
) -> Location:
    """Trace ``model``, score its layers on the selected samples and decide which channels stay."""
    device = next(model.parameters()).device
    gm = trace(model, images[:2].to(device))
    graph = build_channel_graph(gm)
    k = len(classes)
    sums = accumulate_contributions(model, graph, images, positions, k, progress=progress)

    def rule(step: Step, out: torch.Tensor) -> torch.Tensor:
        name = str(step.node.target)
        module = graph.gm.get_submodule(name)
        alpha, beta = thresholds.of(module)
        if name not in sums:  # never ran (dead branch): nothing is relevant through it
            return torch.zeros(k, len(graph.ids[step.inputs[0]]), dtype=torch.bool, device=out.device)
        return relevance(sums[name], out, alpha, beta).rhat_p

    logits = len(graph.ids[graph.output])
    start = torch.zeros(k, logits, dtype=torch.bool, device=device)
    start[torch.arange(k), torch.tensor(classes)] = True
    demand = propagate(graph, start, rule)
    keep = set(graph.fixed)
    for node, d in demand.items():
        if node is graph.output:
            continue
        for root, wanted in zip(graph.roots(node), d.any(0).tolist(), strict=True):
            if wanted:
                keep.add(root)
    logit_roots = graph.roots(graph.output)
    if set(logit_roots) & graph.fixed or len(set(logit_roots)) != len(logit_roots):
        raise InvalidInput(
            "the logits do not come from a Linear or 1×1 convolution through shape-keeping ops, so a "
            "component cannot keep only the requested classes; use a model whose classifier is its last layer"
        )
    keep -= set(logit_roots)
    order = {logit_roots[c]: i for i, c in enumerate(classes)}
    keep |= set(order)
    _keep_at_least_one(graph, keep)
    return Location(graph, demand, keep, order)


def _keep_at_least_one(graph: ChannelGraph, keep: set[int]) -> None:
    """A tensor with no relevant channel would become zero-width; keep its first channel instead."""
    changed = True
    while changed:
        changed = False
        for node in graph.ids:
            roots = graph.roots(node)
            if roots and not any(r in keep for r in roots):
                keep.add(roots[0])
                changed = True

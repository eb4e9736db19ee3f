"""Physical pruning: a dense, smaller copy of the model holding only the kept channels.

Every Conv2d, Linear and BatchNorm of the traced graph is replaced by a layer sliced to the kept
input and output channels (filters, BN entries and consumers' input channels go together because
they share union-find roots); the logits keep the requested classes in the requested order.
"""

from __future__ import annotations

import copy
from typing import Any, cast

import torch
from torch import fx, nn

from core.mda.locate import Location


def describe(module: nn.Module) -> dict[str, Any]:
    """The JSON shape of a replaceable layer."""
    if isinstance(module, nn.Conv2d):
        return {
            "type": "Conv2d",
            "in_channels": module.in_channels,
            "out_channels": module.out_channels,
            "kernel_size": list(module.kernel_size),
            "stride": list(module.stride),
            "padding": module.padding if isinstance(module.padding, str) else list(module.padding),
            "dilation": list(module.dilation),
            "groups": module.groups,
            "bias": module.bias is not None,
            "padding_mode": module.padding_mode,
        }
    if isinstance(module, nn.Linear):
        return {
            "type": "Linear",
            "in_features": module.in_features,
            "out_features": module.out_features,
            "bias": module.bias is not None,
        }
    if isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d)):
        return {
            "type": type(module).__name__,
            "num_features": module.num_features,
            "eps": module.eps,
            "momentum": module.momentum,
            "affine": module.affine,
            "track_running_stats": module.track_running_stats,
        }
    raise TypeError(f"{type(module).__name__} is not a replaceable layer")


def make_module(entry: dict[str, Any]) -> nn.Module:
    """An empty layer of a recorded shape (weights are loaded after)."""
    args = {k: v for k, v in entry.items() if k != "type"}
    kind = entry["type"]
    if kind == "Conv2d":
        for key in ("kernel_size", "stride", "dilation"):
            args[key] = tuple(args[key])
        if not isinstance(args["padding"], str):
            args["padding"] = tuple(args["padding"])
        return nn.Conv2d(**args)
    if kind == "Linear":
        return nn.Linear(**args)
    if kind == "BatchNorm2d":
        return nn.BatchNorm2d(**args)
    if kind == "BatchNorm1d":
        return nn.BatchNorm1d(**args)
    raise TypeError(f"unknown layer type {kind!r}")


def kept_indices(location: Location, node: fx.Node) -> list[int]:
    """Indices of ``node``'s channels that stay, logits in the requested order."""
    roots = location.graph.roots(node)
    kept = [j for j, r in enumerate(roots) if r in location.keep]
    return sorted(kept, key=lambda j: (location.order.get(roots[j], 0), j))


@torch.no_grad()
def prune(model: nn.Module, location: Location) -> tuple[nn.Module, dict[str, dict[str, Any]]]:
    """A pruned deep copy of ``model`` and the shapes of every layer it replaced."""
    pruned = copy.deepcopy(model)
    shapes: dict[str, dict[str, Any]] = {}
    for step in location.graph.steps:
        if step.kind not in ("layer", "depthwise", "norm"):
            continue
        name = str(step.node.target)
        old = pruned.get_submodule(name)
        out_idx = kept_indices(location, step.node)
        in_idx = kept_indices(location, step.inputs[0])
        new = slice_layer(old, in_idx, out_idx)
        pruned.set_submodule(name, new)
        shapes[name] = describe(new)
    return pruned, shapes


def slice_layer(old: nn.Module, in_idx: list[int], out_idx: list[int]) -> nn.Module:
    """``old`` restricted to the given input and output channels (depthwise/BN: out only)."""
    device = next(old.parameters(), torch.empty(0)).device
    o = torch.tensor(out_idx, dtype=torch.long, device=device)
    i = torch.tensor(in_idx, dtype=torch.long, device=device)
    if isinstance(old, nn.Conv2d):
        depthwise = old.groups > 1
        entry = describe(old) | {
            "in_channels": len(out_idx) if depthwise else len(in_idx),
            "out_channels": len(out_idx),
            "groups": len(out_idx) if depthwise else 1,
        }
        new = make_module(entry).to(device)
        weight = old.weight[o] if depthwise else old.weight[o][:, i]
        cast(torch.Tensor, new.weight).copy_(weight)
    elif isinstance(old, nn.Linear):
        new = make_module(describe(old) | {"in_features": len(in_idx), "out_features": len(out_idx)}).to(
            device
        )
        cast(torch.Tensor, new.weight).copy_(old.weight[o][:, i])
    else:
        assert isinstance(old, (nn.BatchNorm2d, nn.BatchNorm1d))
        new = make_module(describe(old) | {"num_features": len(out_idx)}).to(device)
        assert isinstance(new, (nn.BatchNorm2d, nn.BatchNorm1d))
        if old.affine:
            new.weight.copy_(old.weight[o])
        if old.running_mean is not None and old.running_var is not None:
            cast(torch.Tensor, new.running_mean).copy_(old.running_mean[o])
            cast(torch.Tensor, new.running_var).copy_(old.running_var[o])
            cast(torch.Tensor, new.num_batches_tracked).copy_(cast(torch.Tensor, old.num_batches_tracked))
    bias = cast("torch.Tensor | None", getattr(old, "bias", None))
    new_bias = cast("torch.Tensor | None", getattr(new, "bias", None))
    if bias is not None and new_bias is not None:
        new_bias.copy_(bias[o])
    new.train(old.training)
    return new

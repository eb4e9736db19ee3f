"""``dissect``: discover, verify and measure the atomic nodes of a line-graph model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from core.dissect.candidates import find_candidates
from core.dissect.pieces import SplitModel, split_at
from core.dissect.trace import TracedNode, tensors_in, trace_nodes
from core.dissect.types import Dissection, NodeKind, NodeSpec
from core.errors import DissectionMismatch, InvalidInput, NotALineGraph
from core.flops import count_flops, count_params
from core.progress import Progress, no_progress

TOLERANCE = 1e-5
PROBE_SEED = 0
PROBE_BATCH = 2  # two images: a batch dimension mix-up cannot pass unnoticed


def dissect(
    model: nn.Module, input_size: tuple[int, int, int], *, progress: Progress | None = None
) -> Dissection:
    """Nodes, stem and head of ``model`` at ``input_size`` (C, H, W), verified by one traced pass and
    by reconstruction: stem + nodes + head must reproduce ``model(x)`` in eval mode within 1e-5."""
    report = progress or no_progress
    size = _check_size(input_size)
    candidates, source = find_candidates(model)
    if not candidates:
        raise NotALineGraph(
            "found no candidate blocks: the model has no timm group_matcher block groups and no "
            "nn.Sequential/nn.ModuleList of blocks",
        )
    was_training = model.training
    model.eval()
    try:
        x = _probe(model, size)
        report(0.05, f"tracing {len(candidates)} candidate nodes ({source})")
        traced, expected = _run(lambda: trace_nodes(model, candidates, x), size)
        report(0.35, f"cutting stem and head around {len(traced)} nodes")
        pieces = split_at(model, [node.path for node in traced])
        pieces.eval()
        error = _reconstruction_error(expected, pieces, x)
        report(0.5, f"reconstruction verified (max |Δ| = {error:.2e}); counting FLOPs")
        specs = []
        for index, node in enumerate(traced):
            specs.append(_spec(model, pieces, index, node, size))
            report(0.5 + 0.45 * (index + 1) / len(traced), f"measured node {index} ({node.path})")
        last_output = traced[-1].output
        dissection = Dissection(
            input_size=size,
            nodes=tuple(specs),
            stem_params=count_params(pieces.stem),
            stem_flops=count_flops(pieces.stem, x[:1]),
            head_params=count_params(pieces.head),
            head_flops=count_flops(pieces.head, last_output[:1]),
            total_params=count_params(model),
            total_flops=count_flops(model, x[:1]),
            max_abs_error=error,
            extras={
                "candidate_source": source,
                "candidates_outside_trunk": sorted({c.path for c in candidates} - {n.path for n in traced}),
                "probe": {"seed": PROBE_SEED, "batch": PROBE_BATCH, "distribution": "standard normal"},
                "tolerance": TOLERANCE,
            },
        )
    finally:
        model.train(was_training)
    report(1.0, f"dissected into {len(specs)} nodes")
    return dissection


def _check_size(input_size: tuple[int, int, int]) -> tuple[int, int, int]:
    if len(input_size) != 3 or not all(isinstance(v, int) and v > 0 for v in input_size):
        raise InvalidInput(
            f"input_size must be (channels, height, width) with positive integers, got {input_size!r}",
            details={"input_size": list(input_size)},
        )
    return (input_size[0], input_size[1], input_size[2])


def _probe(model: nn.Module, size: tuple[int, int, int]) -> torch.Tensor:
    reference = next(iter(model.parameters()), None)
    dtype = reference.dtype if reference is not None else torch.float32
    device = reference.device if reference is not None else torch.device("cpu")
    generator = torch.Generator().manual_seed(PROBE_SEED)
    return torch.randn((PROBE_BATCH, *size), generator=generator).to(device=device, dtype=dtype)


def _run(
    call: Callable[[], tuple[list[TracedNode], Any]], size: tuple[int, int, int]
) -> tuple[list[TracedNode], Any]:
    try:
        return call()
    except (NotALineGraph, InvalidInput):
        raise
    except RuntimeError as exc:
        raise InvalidInput(
            f"the model fails on an input of size {list(size)} (C, H, W): {exc}. Use the channels and an "
            "image size the architecture accepts.",
            details={"input_size": list(size)},
        ) from exc


@torch.no_grad()
def _reconstruction_error(output: Any, pieces: SplitModel, x: torch.Tensor) -> float:
    expected = list(tensors_in(output))
    got = list(tensors_in(pieces(x)))
    if len(expected) != len(got) or any(a.shape != b.shape for a, b in zip(expected, got, strict=True)):
        raise DissectionMismatch(
            "stem + nodes + head return outputs of other shapes than the model "
            f"({[tuple(t.shape) for t in got]} vs {[tuple(t.shape) for t in expected]})",
        )
    error = max(
        (float((a - b).abs().max()) if a.numel() else 0.0 for a, b in zip(expected, got, strict=True)),
        default=0.0,
    )
    if not error <= TOLERANCE:
        raise DissectionMismatch(
            f"stem + nodes + head differ from the model by max |Δ| = {error:.3g} > {TOLERANCE}; the "
            "dissection is refused",
            details={"max_abs_error": error},
        )
    return error


def _spec(
    model: nn.Module, pieces: SplitModel, index: int, node: TracedNode, size: tuple[int, int, int]
) -> NodeSpec:
    inp, out = node.inputs[0], node.output
    kind, in_kind = _kind(model, out, size), _kind(model, inp, size)
    prefix = int(getattr(model, "num_prefix_tokens", 0) or 0) if "tokens" in (kind, in_kind) else 0
    module = pieces.nodes[index]
    return NodeSpec(
        index=index,
        path=node.path,
        kind=kind,
        in_kind=in_kind,
        num_prefix_tokens=prefix,
        in_shape=tuple(inp.shape[1:]),
        out_shape=tuple(out.shape[1:]),
        params=count_params(module),
        flops=count_flops(module, inp[:1]),
    )


def _kind(model: nn.Module, tensor: torch.Tensor, size: tuple[int, int, int]) -> NodeKind:
    """Layout of a node tensor: a 3-D sample is a map (channels first or last), 2-D is tokens."""
    shape = tuple(tensor.shape[1:])
    if len(shape) == 2:
        return "tokens"
    if len(shape) != 3:
        raise InvalidInput(
            f"a node tensor has shape {list(shape)} per sample; only maps (C,H,W or H,W,C) and token "
            "sequences (T,C) can be dissected",
            details={"shape": list(shape)},
        )
    height, width = size[1], size[2]

    def spatial(p: int, q: int) -> bool:  # does (p, q) keep the image's aspect ratio?
        return abs(p * width - q * height) <= max(height, width)

    first, last = spatial(shape[1], shape[2]), spatial(shape[0], shape[1])
    if first != last:
        return "map_nchw" if first else "map_nhwc"
    return "map_nhwc" if str(getattr(model, "output_fmt", "NCHW")) == "NHWC" else "map_nchw"

"""Assembling components: alignment padding and parameter scaling.

Alignment padding is done by tracking, for every tensor of the assembled graph, which component
and which of its channels each physical channel is (its *layout*). A Conv2d/Linear puts each
component's filters in its own rows and, for every input channel, copies the kernels of the
component that owns it (all components for a shared channel such as the image): the first layer
is thereby concatenated, later layers block-diagonal. BN and depthwise convs gather their entries by
layout. A concatenation concatenates its inputs' layouts, so its consumer's input columns follow
the interleaved order [A_b1, B_b1, A_b2, …] the concatenation really produces; the official code's
block-diagonal weights assumed [A_all; B_all] and mixed the models up. The logits layer's rows are
laid out in the requested class order.
"""

from __future__ import annotations

import copy
from typing import Any, cast

import torch
from torch import fx, nn

from core.errors import InvalidInput
from core.mda.checkpoint import Component
from core.mda.graph import Step, classify, shape, trace
from core.mda.prune import describe, make_module

Layout = list[tuple[int, int]]  # (component index, its channel); component -1 = shared by all
SHARED = -1


def check_family(components: list[Component]) -> None:
    """Alignment padding needs n ≥ 2 components of one architecture and one input size."""
    if len(components) < 2:
        raise InvalidInput(f"a composition needs at least 2 components, got {len(components)}")
    first = components[0].spec
    for i, c in enumerate(components[1:], 1):
        if c.spec.base.family() != first.base.family():
            raise InvalidInput(
                f"component {i} is a {c.spec.base.source} {c.spec.base.arch!r} {c.spec.base.kwargs} but "
                f"component 0 is a {first.base.source} {first.base.arch!r} {first.base.kwargs}; alignment "
                "padding pairs layers one to one, so every component must come from the same architecture",
                details={"architectures": [x.spec.base.arch for x in components]},
            )
        if tuple(c.spec.input_size) != tuple(first.input_size):
            raise InvalidInput(
                f"component {i} takes inputs {list(c.spec.input_size)} but component 0 takes "
                f"{list(first.input_size)}; components must share the input size"
            )


def output_order(components: list[Component], classes: list[int] | None) -> list[tuple[int, int]]:
    """(component, output index) of each assembled logit, in the requested class order."""
    owner: dict[int, tuple[int, int]] = {}
    for m, c in enumerate(components):
        for q, label in enumerate(c.spec.class_labels):
            if label in owner:
                raise InvalidInput(
                    f"class {label} is served by component {owner[label][0]} and component {m}; "
                    "each class must come from exactly one component"
                )
            owner[label] = (m, q)
    if classes is None:
        return [owner[label] for c in components for label in c.spec.class_labels]
    missing, unknown = sorted(set(owner) - set(classes)), sorted(set(classes) - set(owner))
    if missing or unknown or len(set(classes)) != len(classes):
        raise InvalidInput(
            f"the class list must name every class of the components exactly once (components serve "
            f"{sorted(owner)}; missing {missing}, unknown {unknown})"
        )
    return [owner[label] for label in classes]


def logits_step(steps: list[Step]) -> Step:
    """The Conv2d/Linear that produces the logits, through shape-keeping ops only."""
    by_node = {s.node: s for s in steps}
    node = next(s for s in steps if s.kind == "output").inputs[0]
    while by_node[node].kind == "pass":
        node = by_node[node].inputs[0]
    if by_node[node].kind != "layer":
        raise InvalidInput("the logits do not come from a Conv2d or Linear layer; cannot lay out the classes")
    return by_node[node]


@torch.no_grad()
def align(
    components: list[Component], classes: list[int] | None, device: torch.device
) -> tuple[nn.Module, dict[str, dict[str, Any]], list[int], str]:
    """The block-diagonal model, its replaced layers' shapes, its class labels and the logits layer."""
    check_family(components)
    order = output_order(components, classes)
    example = torch.zeros(2, *components[0].spec.input_size, device=device)
    gms = [trace(c.model, example) for c in components]
    signature = [(n.op, str(n.target)) for n in gms[0].graph.nodes]
    for i, gm in enumerate(gms[1:], 1):
        other = [(n.op, str(n.target)) for n in gm.graph.nodes]
        if other != signature:
            raise InvalidInput(
                f"component {i}'s traced graph differs from component 0's; they cannot be aligned"
            )
    steps = [classify(gms[0], n) for n in gms[0].graph.nodes]
    head = logits_step(steps)
    mods = [dict(c.model.named_modules()) for c in components]
    layouts: dict[fx.Node, Layout] = {}
    replaced: dict[str, nn.Module] = {}
    for step in steps:
        node = step.node
        kind = step.kind
        if node.op == "placeholder":
            s = shape(node)
            if s is not None and len(s) in (2, 4):
                layouts[node] = [(SHARED, c) for c in range(s[1])]
        elif kind in ("layer", "depthwise", "norm"):
            name = str(node.target)
            parts = [m[name] for m in mods]
            src = layouts[step.inputs[0]]
            if kind == "layer":
                out = (
                    order if step is head else [(m, q) for m, p in enumerate(parts) for q in range(_width(p))]
                )
                replaced[name] = _widen(parts, src, out)
            else:
                if any(m == SHARED for m, _ in src):
                    raise InvalidInput(
                        f"{name} normalises the shared input; it cannot be split per component"
                    )
                out = src
                replaced[name] = _gather(parts, src)
            layouts[node] = out
        elif kind == "pass":
            layouts[node] = layouts[step.inputs[0]]
        elif kind == "flatten":
            s = shape(step.inputs[0])
            assert s is not None
            per = s[2] * s[3]
            layouts[node] = [(m, c * per + p) for m, c in layouts[step.inputs[0]] for p in range(per)]
        elif kind == "cat":
            layouts[node] = _cat_layout([layouts[a] for a in step.inputs])
        elif kind == "elementwise":
            same = [layouts[a] for a in step.inputs if a in layouts]
            if not same or any(lay != same[0] for lay in same):
                raise InvalidInput(f"{node.name} adds tensors whose channels are ordered differently")
            layouts[node] = same[0]
        elif kind == "unknown" and (node in layouts or any(a in layouts for a in step.inputs)):
            raise InvalidInput(f"alignment padding cannot widen {node.op} {node.target!s}")
    model = copy.deepcopy(components[0].model)
    shapes: dict[str, dict[str, Any]] = {}
    for name, module in replaced.items():
        model.set_submodule(name, module)
        shapes[name] = describe(module)
    labels = [components[m].spec.class_labels[q] for m, q in order]
    return model.to(device).eval(), shapes, labels, str(head.node.target)


def _cat_layout(parts: list[Layout]) -> Layout:
    """Physical order = the inputs' channels one after the other; each component's own index of a
    channel is its offset in *that component's* concatenation (branch widths differ per component)."""
    offset: dict[int, int] = {}
    out: Layout = []
    for part in parts:
        out += [(m, c + offset.get(m, 0)) for m, c in part]
        for m, _ in part:
            offset[m] = offset.get(m, 0) + 1
    return out


def _width(module: nn.Module) -> int:
    return int(module.out_channels if isinstance(module, nn.Conv2d) else cast(nn.Linear, module).out_features)


def _weight(module: nn.Module) -> torch.Tensor:
    return cast(torch.Tensor, module.weight)


def _bias(module: nn.Module) -> torch.Tensor | None:
    return cast("torch.Tensor | None", getattr(module, "bias", None))


def _widen(parts: list[nn.Module], src: Layout, out: Layout) -> nn.Module:
    """A Conv2d/Linear whose row r (component m, filter q) reads column j with component m's kernel
    for j's channel, zero for other components' channels (alignment padding)."""
    first = parts[0]
    if isinstance(first, nn.Conv2d):
        entry = describe(first) | {"in_channels": len(src), "out_channels": len(out), "groups": 1}
    else:
        entry = describe(first) | {"in_features": len(src), "out_features": len(out)}
    if any((_bias(p) is None) != (_bias(first) is None) for p in parts):
        raise InvalidInput("components disagree on whether a layer has a bias")
    device = _weight(first).device
    new = make_module(entry).to(device)
    new_w, new_b = _weight(new), _bias(new)
    new_w.zero_()
    for m, part in enumerate(parts):
        rows = [r for r, (mm, _) in enumerate(out) if mm == m]
        if not rows:
            continue
        qs = torch.tensor([out[r][1] for r in rows], device=device)
        cols = [j for j, (mm, _) in enumerate(src) if mm in (m, SHARED)]
        cs = torch.tensor([src[j][1] for j in cols], device=device)
        r_idx = torch.tensor(rows, device=device)
        new_w[r_idx.view(-1, 1), torch.tensor(cols, device=device).view(1, -1)] = _weight(part)[qs][:, cs]
        bias = _bias(part)
        if bias is not None and new_b is not None:
            new_b[r_idx] = bias[qs]
    return new


def _gather(parts: list[nn.Module], layout: Layout) -> nn.Module:
    """A depthwise conv or BN whose entry j is component m's entry c for layout[j] = (m, c)."""
    first = parts[0]
    n = len(layout)
    if isinstance(first, nn.Conv2d):
        entry = describe(first) | {"in_channels": n, "out_channels": n, "groups": n}
    else:
        entry = describe(first) | {"num_features": n}
    device = next(first.parameters(), torch.empty(0)).device
    new = make_module(entry).to(device)
    params = dict(new.named_parameters()) | dict(new.named_buffers())
    for key, target in params.items():
        if key == "num_batches_tracked":
            continue
        sources = [dict(p.named_parameters()) | dict(p.named_buffers()) for p in parts]
        target.copy_(torch.stack([sources[m][key][c] for m, c in layout]))
    return new


@torch.no_grad()
def scale_logits(model: nn.Module, head: str, factors: torch.Tensor) -> None:
    """Parameter scaling: multiply logits layer row j (weight and bias) by ``factors[j]``."""
    layer = model.get_submodule(head)
    weight, bias = _weight(layer), _bias(layer)
    f = factors.to(device=weight.device, dtype=weight.dtype)
    weight.mul_(f.view(-1, *([1] * (weight.dim() - 1))))
    if bias is not None:
        bias.mul_(f)

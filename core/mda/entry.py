"""The two Model LEGO entry points a job handler calls: make a component, compose components.

Both take prepared image tensors (N×C×H×W, normalised as the model expects), run on ``device``
(the model is moved there; every tensor they create follows the module's device) and report
progress through ``core.progress``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import InvalidInput
from core.flops import count_flops, count_params
from core.mda.assemble import align, scale_logits
from core.mda.checkpoint import Component
from core.mda.locate import Thresholds, locate
from core.mda.prune import prune
from core.mda.request import ComponentRequest, CompositionRequest
from core.mda.samples import predict, select_samples
from core.mda.spec import BaseArch, ComponentSpec
from core.progress import Progress, no_progress, scaled


@dataclass
class ComponentResult:
    """A component and what it costs and scores next to its base model (on the eval images)."""

    component: Component
    classes: list[int]  # source model output indices
    class_labels: list[int]
    samples_per_class: list[int]
    params_before: int
    params_after: int
    flops_before: int
    flops_after: int
    accuracy_base: float | None  # base model, argmax over all its outputs (the paper's "Base")
    accuracy_base_restricted: float | None  # base model, argmax over the requested logits only
    accuracy_component: float | None  # the paper's "Disa."
    eval_images: int
    seconds: float


@dataclass
class CompositionResult:
    """An assembled model and its scores (Score1: no fine-tuning; Score2: after fine-tuning)."""

    composition: Component
    class_labels: list[int]
    scales: list[float] | None  # parameter-scaling factor of each output (1 / mean winning logit)
    params: int
    flops: int
    score1_unscaled: float | None
    score1: float | None  # with parameter scaling when requested (else = score1_unscaled)
    score2: float | None
    eval_images: int
    max_abs_diff: float  # assembled vs concatenated component outputs before scaling (validation images)
    seconds: float


def make_component(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    request: ComponentRequest,
    device: str | torch.device = "cpu",
    progress: Progress | None = None,
    *,
    eval_images: torch.Tensor | None = None,
    eval_labels: torch.Tensor | None = None,
) -> ComponentResult:
    """Disassemble ``model`` into the component of ``request.classes``.

    ``images``/``labels`` are training images and their model output indices (the samples are
    chosen among them); ``eval_*`` (optional, test images with output indices) give Base vs Disa."""
    report = progress or no_progress
    start = time.perf_counter()
    dev = torch.device(device)
    model = model.to(dev).eval()
    example = torch.zeros(1, *request.input_size, device=dev)
    with torch.no_grad():
        width = model(example).shape[-1]
    bad = [c for c in request.classes if c >= width]
    if bad:
        raise InvalidInput(f"classes {bad} do not exist: the model has {width} outputs (0–{width - 1})")
    if images.shape[1:] != torch.Size(request.input_size):
        raise InvalidInput(
            f"images are {list(images.shape[1:])} but input_size is {list(request.input_size)}"
        )
    report(0.0, "selecting samples")
    chosen, positions = select_samples(
        model,
        images,
        labels,
        request.classes,
        fraction=request.sample_fraction,
        min_count=request.min_samples,
        seed=request.seed,
    )
    t = request.thresholds
    thresholds = Thresholds(t.alpha_conv, t.beta_conv, t.alpha_linear, t.beta_linear)
    location = locate(model, images[chosen], positions, request.classes, thresholds, scaled(report, 0.1, 0.8))
    report(0.8, "pruning")
    pruned, shapes = prune(model, location)
    spec = ComponentSpec(
        kind="component",
        base=BaseArch(request.arch, dict(request.arch_kwargs), request.source),
        input_size=request.input_size,
        modules=shapes,
        class_labels=request.labels(),
        source_classes=list(request.classes),
        thresholds=t.model_dump(),
        extra=dict(request.extra),
    )
    base_acc = restricted = comp_acc = None
    n_eval = 0
    if eval_images is not None and eval_labels is not None:
        report(0.9, "evaluating")
        target = torch.as_tensor(eval_labels).long().cpu()
        keep = torch.isin(target, torch.tensor(request.classes))
        x, y = eval_images[keep], target[keep]
        n_eval = len(y)
        if n_eval:
            lookup = {c: k for k, c in enumerate(request.classes)}
            positions_eval = torch.tensor([lookup[int(v)] for v in y])
            logits = predict(model, x)
            base_acc = float((logits.argmax(1) == y).float().mean())
            restricted = float((logits[:, request.classes].argmax(1) == positions_eval).float().mean())
            comp_acc = float((predict(pruned, x).argmax(1) == positions_eval).float().mean())
    samples = torch.bincount(positions, minlength=len(request.classes)).tolist()
    result = ComponentResult(
        component=Component(pruned.eval(), spec),
        classes=list(request.classes),
        class_labels=request.labels(),
        samples_per_class=samples,
        params_before=count_params(model),
        params_after=count_params(pruned),
        flops_before=count_flops(model, example),
        flops_after=count_flops(pruned, example),
        accuracy_base=base_acc,
        accuracy_base_restricted=restricted,
        accuracy_component=comp_acc,
        eval_images=n_eval,
        seconds=round(time.perf_counter() - start, 3),
    )
    report(
        1.0,
        f"component of {len(request.classes)} classes: {result.params_after}/{result.params_before} params",
    )
    return result


def compose(
    components: Sequence[Component],
    val_images: torch.Tensor,
    val_labels: torch.Tensor,
    request: CompositionRequest,
    device: str | torch.device = "cpu",
    progress: Progress | None = None,
    *,
    eval_images: torch.Tensor | None = None,
    eval_labels: torch.Tensor | None = None,
    train_images: torch.Tensor | None = None,
    train_labels: torch.Tensor | None = None,
) -> CompositionResult:
    """Assemble ``components`` (alignment padding), then parameter scaling on the *validation*
    images and, when ``request.finetune_epochs`` > 0, a short fine-tuning on ``train_*`` (Score2).

    All labels are in the components' shared label space (``spec.class_labels``)."""
    report = progress or no_progress
    start = time.perf_counter()
    dev = torch.device(device)
    parts = [Component(c.model.to(dev).eval(), c.spec) for c in components]
    report(0.0, "alignment padding")
    model, shapes, labels, head = align(parts, request.classes, dev)
    val_y = torch.as_tensor(val_labels).long().cpu()
    diff = _check_concatenation(model, parts, labels, val_images[:64])
    scales: list[float] | None = None
    unscaled = _score(model, labels, eval_images, eval_labels)
    if request.parameter_scaling:
        report(0.3, "parameter scaling")
        scales = scaling_factors(parts, val_images, val_y, labels)
        scale_logits(model, head, torch.tensor(scales))
    score1 = _score(model, labels, eval_images, eval_labels)
    base = parts[0].spec.base
    spec = ComponentSpec(
        kind="composition",
        base=base,
        input_size=parts[0].spec.input_size,
        modules=shapes,
        class_labels=labels,
        scales=scales,
        sources=[
            {
                "class_labels": c.spec.class_labels,
                "source_classes": c.spec.source_classes,
                "extra": c.spec.extra,
            }
            for c in parts
        ],
        extra=dict(request.extra),
    )
    score2 = None
    if request.finetune_epochs > 0:
        if train_images is None or train_labels is None:
            raise InvalidInput("finetune_epochs > 0 needs training images for the fine-tuning")
        report(0.5, "fine-tuning")
        tuned = _finetune(model, labels, train_images, train_labels, request, scaled(report, 0.5, 0.95))
        score2 = _score(tuned, labels, eval_images, eval_labels)
        model = tuned
    example = torch.zeros(1, *parts[0].spec.input_size, device=dev)
    n_eval = (
        0
        if eval_labels is None
        else int(torch.isin(torch.as_tensor(eval_labels), torch.tensor(labels)).sum())
    )
    report(1.0, f"composition of {len(parts)} components, {len(labels)} classes")
    return CompositionResult(
        composition=Component(model.eval(), spec),
        class_labels=labels,
        scales=scales,
        params=count_params(model),
        flops=count_flops(model, example),
        score1_unscaled=unscaled,
        score1=score1,
        score2=score2,
        eval_images=n_eval,
        max_abs_diff=diff,
        seconds=round(time.perf_counter() - start, 3),
    )


def _positions(labels: list[int], y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask of the images whose label the model serves, and their output positions."""
    keep = torch.isin(y, torch.tensor(labels))
    lookup = {c: k for k, c in enumerate(labels)}
    return keep, torch.tensor([lookup[int(v)] for v in y[keep]], dtype=torch.long)


def _score(
    model: nn.Module, labels: list[int], images: torch.Tensor | None, y: torch.Tensor | None
) -> float | None:
    if images is None or y is None:
        return None
    keep, pos = _positions(labels, torch.as_tensor(y).long().cpu())
    if not len(pos):
        return None
    return float((predict(model, images[keep]).argmax(1) == pos).float().mean())


@torch.no_grad()
def _check_concatenation(
    model: nn.Module, parts: list[Component], labels: list[int], x: torch.Tensor
) -> float:
    """max |assembled − concatenated component logits| before scaling (alignment is exact)."""
    if not len(x):
        return 0.0
    got = predict(model, x)
    want = torch.zeros_like(got)
    for c in parts:
        out = predict(c.model, x)
        for q, label in enumerate(c.spec.class_labels):
            want[:, labels.index(label)] = out[:, q]
    return float((got - want).abs().max())


def scaling_factors(
    parts: Sequence[Component], images: torch.Tensor, labels: torch.Tensor, order: list[int]
) -> list[float]:
    """1 / mean winning logit of each class over the validation images of that class its own
    component classifies correctly; in ``order`` (the assembled logits' labels)."""
    means: dict[int, float] = {}
    for m, c in enumerate(parts):
        keep, pos = _positions(c.spec.class_labels, labels)
        logits = predict(c.model, images[keep]) if len(pos) else torch.zeros(0, len(c.spec.class_labels))
        hit = logits.argmax(1) == pos
        for q, label in enumerate(c.spec.class_labels):
            sel = hit & (pos == q)
            if not bool(sel.any()):
                raise InvalidInput(
                    f"no validation image of class {label} is classified correctly by component {m} "
                    f"({int((pos == q).sum())} images of it given); parameter scaling needs at least one — "
                    "give more validation images of that class or set parameter_scaling to false"
                )
            mean = float(logits[sel, q].mean())
            if not mean > 0 or not math.isfinite(mean):
                raise InvalidInput(
                    f"the mean winning logit of class {label} is {mean:.4g}; scaling by its inverse would "
                    "flip or break the logit — set parameter_scaling to false for this composition"
                )
            means[label] = mean
    return [1.0 / means[label] for label in order]


def _finetune(
    model: nn.Module,
    labels: list[int],
    images: torch.Tensor,
    y: torch.Tensor,
    request: CompositionRequest,
    report: Progress,
) -> nn.Module:
    """Score2: every weight trained for a few epochs (AdamW, cosine), cross-entropy on the served classes."""
    keep, pos = _positions(labels, torch.as_tensor(y).long().cpu())
    x = images[keep]
    if not len(x):
        raise InvalidInput("none of the fine-tuning images belongs to the composition's classes")
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(request.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=request.finetune_lr, weight_decay=0.0)
    steps = request.finetune_epochs * math.ceil(len(x) / request.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(1, steps))
    model.train()
    step = 0
    for _ in range(request.finetune_epochs):
        perm = torch.randperm(len(x), generator=generator)
        for s in range(0, len(x), request.batch_size):
            batch = perm[s : s + request.batch_size]
            loss = F.cross_entropy(model(x[batch].to(device)), pos[batch].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            report(step / steps, "fine-tuning")
    return model.eval()

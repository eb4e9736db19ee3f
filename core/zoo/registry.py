"""Build registered models from timm + safetensors, and check user weights strictly.

Every registered model gets one canonical safetensors weight file; similarity, dissection and
assembly all load exactly that file (the official DeRy code loaded different weights in
different stages).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from core.errors import InvalidInput, ReassemblyError
from core.flops import count_flops, count_params
from core.model_kwargs import check_model_kwargs
from core.progress import Progress, no_progress


@dataclass(frozen=True)
class ModelCard:
    """What registration records about an architecture at its input size."""

    input_size: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    params: int
    flops: int


def build_model(
    architecture: str,
    *,
    num_classes: int | None,
    model_kwargs: Mapping[str, Any] | None = None,
    pretrained: bool = False,
    seed: int = 0,
) -> nn.Module:
    """``timm.create_model`` with clear errors; random init is seeded so it is reproducible."""
    import timm

    import core.zoo  # noqa: F401  (registers the project's architectures with timm)

    if not timm.is_model(architecture):
        close = timm.list_models(f"*{architecture.split('.')[0][:6]}*")[:8]
        raise InvalidInput(
            f"timm has no model named {architecture!r}"
            + (f"; similar names: {', '.join(close)}" if close else "; see timm.list_models()"),
            details={"architecture": architecture, "similar": close},
            code="unknown_architecture",
        )
    kwargs = check_model_kwargs(model_kwargs or {})
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    torch.manual_seed(seed)
    try:
        model = timm.create_model(architecture, pretrained=pretrained, **kwargs)
    except TypeError as exc:
        raise InvalidInput(
            f"{architecture} does not accept these arguments: {exc}", details={"model_kwargs": kwargs}
        ) from exc
    except (OSError, RuntimeError, ValueError) as exc:
        if pretrained:
            raise ReassemblyError(
                f"could not load pretrained weights for {architecture}: {exc}. Without internet access, "
                "upload the weights as safetensors with POST /v1/models:upload instead",
                code="pretrained_unavailable",
            ) from exc
        raise InvalidInput(f"could not build {architecture}: {exc}") from exc
    return model.eval()


def check_state_dict(
    model: nn.Module, state: Mapping[str, torch.Tensor], *, arch: str = "the architecture"
) -> None:
    """Raise InvalidInput listing the missing, unexpected and wrong-shape keys, if there are any."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = sorted(
        f"{k}: expected {list(expected[k].shape)}, got {list(state[k].shape)}"
        for k in set(expected) & set(state)
        if tuple(expected[k].shape) != tuple(state[k].shape)
    )
    if missing or unexpected or mismatched:
        raise InvalidInput(
            f"the weights do not fit {arch}: {len(missing)} missing, {len(unexpected)} unexpected, "
            f"{len(mismatched)} with the wrong shape keys; check the architecture name, num_classes and "
            "model_kwargs",
            details={"missing": missing, "unexpected": unexpected, "mismatched": mismatched},
            code="weights_mismatch",
        )


def load_weights_strict(
    model: nn.Module, state: Mapping[str, torch.Tensor], *, arch: str = "the architecture"
) -> None:
    """Load ``state`` into ``model``, or explain exactly which keys and shapes disagree."""
    check_state_dict(model, state, arch=arch)
    model.load_state_dict(dict(state), strict=True)


def describe(model: nn.Module, input_size: tuple[int, int, int] | None = None) -> ModelCard:
    """Input config (from timm's pretrained_cfg unless given), params and FLOPs at that size."""
    cfg: dict[str, Any] = dict(getattr(model, "pretrained_cfg", None) or {})
    size = tuple(input_size or cfg.get("input_size") or (3, 224, 224))
    if len(size) != 3:
        raise InvalidInput(f"input_size must be [channels, height, width], got {list(size)}")
    channels = int(size[0])
    mean = tuple(cfg.get("mean") or (0.5,) * channels)
    std = tuple(cfg.get("std") or (0.5,) * channels)
    if len(mean) != channels:  # e.g. a 1-channel model with ImageNet's 3-channel statistics
        mean, std = (float(sum(mean) / len(mean)),) * channels, (float(sum(std) / len(std)),) * channels
    example = torch.zeros(1, *size)
    try:
        flops = count_flops(model, example)
    except RuntimeError as exc:
        raise InvalidInput(
            f"the model does not run at input_size {list(size)}: {exc}; give the input size it expects",
            details={"input_size": list(size)},
        ) from exc
    return ModelCard((channels, int(size[1]), int(size[2])), mean, std, count_params(model), flops)


@dataclass(frozen=True)
class Registration:
    """A model built and checked for the registry: its card, and its weights as safetensors when
    they were made here (an upload keeps the bytes it came with)."""

    card: ModelCard
    num_classes: int
    new_weights: bytes | None


def register(
    architecture: str,
    *,
    num_classes: int | None,
    model_kwargs: dict[str, Any],
    pretrained: bool,
    seed: int,
    input_size: Sequence[int] | None,
    mean: Sequence[float],
    std: Sequence[float],
    weights: bytes | None,
    progress: Progress | None = None,
) -> Registration:
    """Build the architecture, check uploaded ``weights`` against it strictly (or make the initial
    weights), check the normalisation against the input channels, and measure params and FLOPs."""
    report = progress or no_progress
    report(0.05, f"building {architecture}")
    net = build_model(
        architecture, num_classes=num_classes, model_kwargs=model_kwargs, pretrained=pretrained, seed=seed
    )
    if weights is not None:
        report(0.3, "checking the uploaded weights against the architecture")
        load_weights_strict(net, safetensors_state(weights), arch=architecture)
    channels = int(input_size[0]) if input_size else 0
    for label, values in (("mean", mean), ("std", std)):
        if values and channels and len(values) != channels:
            raise InvalidInput(f"{label} has {len(values)} values but the input has {channels} channels")
    report(0.6, "measuring parameters and FLOPs")
    card = describe(net, tuple(input_size) if input_size else None)  # type: ignore[arg-type]
    return Registration(
        card=card,
        num_classes=int(getattr(net, "num_classes", num_classes) or num_classes or 0),
        new_weights=state_to_safetensors(net) if weights is None else None,
    )


def safetensors_state(data: bytes) -> dict[str, torch.Tensor]:
    """Parse safetensors bytes (never pickle)."""
    from safetensors.torch import load

    try:
        return load(data)
    except Exception as exc:
        raise InvalidInput(f"the weights are not a valid safetensors file: {exc}") from exc


def state_to_safetensors(model: nn.Module) -> bytes:
    from safetensors.torch import save

    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    return save(state)

"""Saving and loading components and compositions: safetensors weights + a JSON spec, no pickle."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

import core.zoo  # noqa: F401  (registers the project's architectures with timm)
from core.errors import InvalidInput
from core.mda.prune import make_module
from core.mda.spec import BaseArch, ComponentSpec
from core.model_kwargs import check_model_kwargs
from core.zoo.registry import load_weights_strict
from core.zoo.train import sha256_file


@dataclass
class Component:
    """A runnable component or composition and the spec that rebuilds it."""

    model: nn.Module
    spec: ComponentSpec


def build_base(base: BaseArch) -> nn.Module:
    """The base architecture at random init, never with downloaded weights. A spec comes from an
    archive, which may have travelled: its kwargs pass the same allowlist as a request's."""
    kwargs = check_model_kwargs(base.kwargs)
    if base.source == "torchvision":
        import torchvision

        return torchvision.models.get_model(base.arch, weights=None, **kwargs)
    import timm

    return timm.create_model(base.arch, pretrained=False, **kwargs)


def build_from_spec(spec: ComponentSpec) -> nn.Module:
    """The spec's network with empty weights, in eval mode."""
    model = build_base(spec.base)
    for name, entry in spec.modules.items():
        try:
            model.get_submodule(name)
        except AttributeError as exc:
            raise InvalidInput(f"spec replaces {name!r}, which {spec.base.arch} does not have") from exc
        model.set_submodule(name, make_module(entry))
    return model.eval()


def save_component(component: Component, weights_path: str | Path, spec_path: str | Path) -> str:
    """Write the weights (safetensors, the spec in its header too) and the spec JSON; return the
    weights' sha256."""
    weights, spec_file = Path(weights_path), Path(spec_path)
    header = json.dumps(component.spec.to_dict(), sort_keys=True)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in component.model.state_dict().items()}
    tmp = weights.with_suffix(weights.suffix + ".tmp")
    save_file(tensors, str(tmp), metadata={"reassembly_mda": header})
    os.chmod(tmp, 0o644)
    os.replace(tmp, weights)
    spec_file.write_text(json.dumps(component.spec.to_dict(), indent=2, sort_keys=True) + "\n")
    return sha256_file(weights)


def load_component(
    weights_path: str | Path, spec_path: str | Path, device: str | torch.device = "cpu"
) -> Component:
    """Rebuild a saved component or composition on ``device`` (strict weight loading)."""
    try:
        document: Any = json.loads(Path(spec_path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"cannot read the component spec {spec_path}: {exc}") from exc
    spec = ComponentSpec.from_dict(document)
    try:
        state = load_file(str(weights_path))
    except Exception as exc:  # safetensors raises its own error types
        raise InvalidInput(f"{Path(weights_path).name} is not a valid safetensors file: {exc}") from exc
    model = build_from_spec(spec)
    load_weights_strict(model, state, arch=spec.base.arch)
    return Component(model.to(device).eval(), spec)

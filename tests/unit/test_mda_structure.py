"""Model LEGO on real library graphs at random init (timm resnet18 and vgg11_bn, torchvision
googlenet): a component runs, is smaller, outputs only its classes, survives a safetensors + JSON
round trip; two components of the same net compose exactly; mixed architectures are refused.

Labels are the model's own predictions, so every image counts as correctly classified."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import timm
import torch
import torchvision
from torch import nn

import core.zoo  # noqa: F401  (registers the MDA nets)
from core.errors import InvalidInput
from core.mda.checkpoint import load_component, save_component
from core.mda.entry import compose, make_component
from core.mda.request import ComponentRequest, CompositionRequest

NETS: dict[str, tuple[str, dict[str, Any], tuple[int, int, int]]] = {
    "resnet18": ("timm", {"num_classes": 10}, (3, 32, 32)),
    "vgg11_bn": ("timm", {"num_classes": 10, "mlp_ratio": 0.0625}, (3, 32, 32)),
    "googlenet": ("torchvision", {"num_classes": 10, "aux_logits": False, "init_weights": True}, (3, 32, 32)),
}


def build(name: str) -> nn.Module:
    source, kwargs, _ = NETS[name]
    torch.manual_seed(0)
    if source == "torchvision":
        return torchvision.models.get_model(name, weights=None, **kwargs).eval()
    return timm.create_model(name, **kwargs).eval()


def predicted_data(
    model: nn.Module, size: tuple[int, int, int]
) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    torch.manual_seed(1)
    x = torch.randn(16, *size)
    with torch.no_grad():
        y = model(x).argmax(1)
    common = torch.bincount(y, minlength=10).argsort(descending=True)[:4].tolist()
    return x, y, common


def request(name: str, classes: list[int]) -> ComponentRequest:
    source, kwargs, size = NETS[name]
    return ComponentRequest(
        classes=classes, arch=name, arch_kwargs=kwargs, source=source, input_size=size, min_samples=2
    )


@pytest.mark.parametrize("name", list(NETS))
def test_component_and_composition_on_library_nets(name: str, tmp_path: Path) -> None:
    model = build(name)
    x, y, common = predicted_data(model, NETS[name][2])
    present = [c for c in common if int((y == c).sum()) > 0]
    a_classes, b_classes = present[:2], present[2:4] or present[:1]
    a = make_component(model, x, y, request(name, a_classes), eval_images=x, eval_labels=y)
    assert a.params_after < a.params_before and a.flops_after < a.flops_before
    with torch.no_grad():
        out = a.component.model(x[:3])
    assert out.shape == (3, len(a_classes))
    # round trip: safetensors + JSON spec rebuild the same network
    digest = save_component(a.component, tmp_path / "c.safetensors", tmp_path / "c.json")
    assert len(digest) == 64
    again = load_component(tmp_path / "c.safetensors", tmp_path / "c.json")
    with torch.no_grad():
        assert torch.equal(again.model(x[:3]), out)
    if name == "vgg11_bn" or set(a_classes) & set(b_classes):
        return
    b = make_component(model, x, y, request(name, b_classes))
    order = [b_classes[0], a_classes[0], *b_classes[1:], *a_classes[1:]]
    res = compose(
        [a.component, b.component], x, y, CompositionRequest(classes=order, parameter_scaling=False)
    )
    assert res.max_abs_diff <= 1e-5
    with torch.no_grad():
        got = res.composition.model(x[:5])
        want_a, want_b = a.component.model(x[:5]), b.component.model(x[:5])
    assert torch.allclose(got[:, 0], want_b[:, 0], atol=1e-5)
    assert torch.allclose(got[:, 1], want_a[:, 0], atol=1e-5)


def test_mixed_architectures_are_refused() -> None:
    parts = []
    x = torch.randn(16, 1, 32, 32)
    for arch in ("resnet_mda", "googlenet_mda"):
        torch.manual_seed(0)
        model = timm.create_model(arch, num_classes=3).eval()
        with torch.no_grad():
            y = model(x).argmax(1)
        c = int(torch.bincount(y).argmax())
        req = ComponentRequest(
            classes=[c], arch=arch, arch_kwargs={"num_classes": 3}, input_size=(1, 32, 32), min_samples=2
        )
        parts.append(make_component(model, x, y, req).component)
    with pytest.raises(InvalidInput, match="same architecture"):
        compose(parts, x, torch.zeros(16), CompositionRequest())


def test_unknown_classes_are_refused() -> None:
    model = build("resnet18")
    x, y, _ = predicted_data(model, NETS["resnet18"][2])
    with pytest.raises(InvalidInput, match="do not exist"):
        make_component(model, x, y, request("resnet18", [3, 12]))

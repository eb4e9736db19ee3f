"""Model LEGO runs on the worker's device: a component and a composition made on ``cuda`` (when
present) keep every parameter and buffer there and give the same logits as on the CPU."""

from __future__ import annotations

import pytest
import timm
import torch
from torch import nn

import core.zoo  # noqa: F401  (registers the MDA nets)
from core.mda.entry import compose, make_component
from core.mda.request import ComponentRequest, CompositionRequest

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")),
]


def on_device(model: nn.Module, device: str) -> bool:
    tensors = list(model.parameters()) + list(model.buffers())
    return all(t.device.type == device for t in tensors)


@pytest.mark.parametrize("device", DEVICES)
def test_component_and_composition_stay_on_the_device(device: str) -> None:
    parts, x = [], torch.randn(32, 1, 32, 32)
    for seed, label in ((0, 0), (1, 1)):
        torch.manual_seed(seed)
        model = timm.create_model("resnet_mda", num_classes=3).eval()
        with torch.no_grad():
            y = model(x).argmax(1)
        c = int(torch.bincount(y).argmax())
        req = ComponentRequest(
            classes=[c],
            class_labels=[label],
            arch="resnet_mda",
            arch_kwargs={"num_classes": 3},
            input_size=(1, 32, 32),
            min_samples=4,
        )
        r = make_component(model, x, y, req, device=device, eval_images=x, eval_labels=y)
        assert on_device(r.component.model, device)
        if device != "cpu":  # the same component as on the CPU
            cpu = make_component(model.cpu(), x, y, req, device="cpu")
            with torch.no_grad():
                same = r.component.model(x[:8].to(device)).cpu()
                assert torch.allclose(same, cpu.component.model(x[:8]), atol=1e-4)
        parts.append(r.component)
    labels = (torch.arange(32) >= 16).long()
    res = compose(parts, x, labels, CompositionRequest(parameter_scaling=False), device=device)
    assert on_device(res.composition.model, device)
    assert res.max_abs_diff <= 1e-5 and res.class_labels == [0, 1]

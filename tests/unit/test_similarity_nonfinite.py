"""Non-finite features stop the sketch with an error naming the model and the node, instead of a
NaN Gram that would make the point's CKA 0 against everything and let the partition carry on."""

from __future__ import annotations

import math

import pytest
import timm
import torch
from torch import nn

from core.dissect import Dissection, dissect, node_module, split
from core.errors import InvalidInput
from core.similarity import compute_sketches, point_layouts

SIZE = (3, 32, 32)
BATCH = 8


def _dissected() -> tuple[nn.Module, Dissection]:
    torch.manual_seed(0)
    model = timm.create_model("test_resnet", pretrained=False, num_classes=10).eval()
    return model, dissect(model, SIZE)


def _sketch(model: nn.Module, d: Dissection, images: torch.Tensor, *, named: bool = True) -> torch.Tensor:
    parts = split(model, d)
    kinds, prefix = point_layouts(d)
    return compute_sketches(
        parts.stem,
        parts.nodes,
        kinds,
        prefix,
        images,
        BATCH,
        model="test_resnet-nan" if named else None,
        node_paths=[n.path for n in d.nodes] if named else None,
    )


def _images() -> torch.Tensor:
    return torch.randn(3 * BATCH, *SIZE, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("value", [math.nan, math.inf], ids=["nan", "inf"])
def test_non_finite_node_output_names_model_and_node(value: float) -> None:
    model, d = _dissected()
    assert len(d.nodes) == 4
    finite = _sketch(model, d, _images())
    assert torch.isfinite(finite).all()
    # The last BatchNorm's shift of node 2 (layer3.0) makes every output of that node NaN or +inf.
    block = node_module(model, d.nodes[2].path)
    assert d.nodes[2].path == "layer3.0"
    norm = block.get_submodule("bn3")
    assert isinstance(norm, nn.BatchNorm2d) and norm.bias is not None
    with torch.no_grad():
        norm.bias.fill_(value)
    with pytest.raises(InvalidInput) as caught:
        _sketch(model, d, _images())
    message = str(caught.value)
    assert "test_resnet-nan" in message and "node 2 (layer3.0)" in message
    assert "not finite" in message and "normalisation" in message
    assert caught.value.details == {
        "model": "test_resnet-nan",
        "node": 2,
        "path": "layer3.0",
        "point": 3,
        "batch": 0,
    }


def test_non_finite_probe_image_is_caught_at_the_stem_output() -> None:
    """One NaN pixel in one probe image of the second batch: its stem features are NaN."""
    model, d = _dissected()
    images = _images()
    images[BATCH + 3, 1, 5, 7] = math.nan
    with pytest.raises(
        InvalidInput, match=r"stem output \(input of node 0, layer1\.0\) of model test_resnet-nan"
    ):
        _sketch(model, d, images)
    with pytest.raises(InvalidInput, match="stem output.* of the model are not finite") as caught:
        _sketch(model, d, images, named=False)
    assert caught.value.details["point"] == 0 and caught.value.details["batch"] == 1
    assert caught.value.details["node"] is None


def test_node_paths_must_match_the_nodes() -> None:
    model, d = _dissected()
    parts = split(model, d)
    kinds, prefix = point_layouts(d)
    with pytest.raises(InvalidInput, match="3 node paths were given for 4 nodes"):
        compute_sketches(parts.stem, parts.nodes, kinds, prefix, _images(), BATCH, node_paths=["a", "b", "c"])

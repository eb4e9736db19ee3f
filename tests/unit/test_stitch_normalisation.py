"""Every donor's blocks see images in the donor's own normalisation when stitches are fitted."""

from __future__ import annotations

import copy

import pytest
import timm
import torch
from torch import nn

from core.dissect import dissect, split
from core.stitch import AssemblySpec, BlockRef, DonorModel, ReassembledNet, fit_stitches, renormalise

SIZE = (3, 32, 32)
MEAN_A, STD_A = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
MEAN_B, STD_B = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class Renormalised(nn.Module):
    """Maps images normalised with B's statistics back to A's: a donor trained on B-normalised input
    whose computation equals the original donor's on A-normalised input."""

    def __init__(self, stem: nn.Module):
        super().__init__()
        self.stem = stem

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def col(v: tuple[float, ...]) -> torch.Tensor:
            return torch.tensor(v).view(1, -1, 1, 1)

        return self.stem(((x * col(STD_B) + col(MEAN_B)) - col(MEAN_A)) / col(STD_A))


def _residuals(b_mean: tuple[float, ...], b_std: tuple[float, ...], renormalising_stem: bool) -> list[float]:
    torch.manual_seed(0)
    a = timm.create_model("test_resnet", num_classes=4).eval()
    b = timm.create_model("test_convnext", num_classes=4).eval()
    da, db = dissect(a, SIZE), dissect(b, SIZE)
    split_b = split(b, db)
    if renormalising_stem:
        split_b = copy.copy(split_b)
        split_b.stem = Renormalised(split_b.stem)
    spec = AssemblySpec(
        blocks=(BlockRef("a", 0, 1), BlockRef("b", 2, len(db.nodes) - 1)),
        donors=(
            DonorModel("a", "test_resnet", SIZE, mean=MEAN_A, std=STD_A),
            DonorModel("b", "test_convnext", SIZE, mean=b_mean, std=b_std),
        ),
        num_classes=4,
    )
    splits = {"a": split(a, da), "b": split_b}
    net = ReassembledNet(spec, splits, {"a": da, "b": db})
    images = torch.rand(96, *SIZE, generator=torch.Generator().manual_seed(1))
    normalised_for_a = (images - torch.tensor(MEAN_A).view(1, 3, 1, 1)) / torch.tensor(STD_A).view(1, 3, 1, 1)
    return fit_stitches(net, splits, normalised_for_a)


def test_each_donor_gets_its_own_normalisation() -> None:
    same = _residuals(MEAN_A, STD_A, renormalising_stem=False)
    # Donor b now expects B-normalised images; given them, it computes exactly what it did before.
    own = _residuals(MEAN_B, STD_B, renormalising_stem=True)
    assert own == pytest.approx(same, rel=1e-4)
    # Fed A-normalised images instead (the old behaviour), its LS targets are another function.
    wrong = _residuals(MEAN_A, STD_A, renormalising_stem=True)
    assert abs(wrong[0] - same[0]) > 1e-3


def test_renormalise_round_trip() -> None:
    a = DonorModel("a", "x", SIZE, mean=MEAN_A, std=STD_A)
    b = DonorModel("b", "x", SIZE, mean=MEAN_B, std=STD_B)
    x = torch.randn(4, *SIZE)
    assert torch.allclose(renormalise(renormalise(x, a, b), b, a), x, atol=1e-5)
    assert renormalise(x, a, a) is x
    assert renormalise(x, a, DonorModel("c", "x", SIZE)) is x  # no statistics known: unchanged

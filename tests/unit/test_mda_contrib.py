"""Done-when 1 of issue 14: relative contributions on hand-built layers, computed by hand.

The conv case sums two samples whose contributions have opposite signs, so it fails if the ReLU is
applied after the class sum instead of per sample; the memory-light contribution must equal the
naive B×O×I×H×W computation for plain, strided, dilated, grouped and depthwise convs.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from core.mda.contrib import (
    EPS,
    conv_contributions,
    linear_contributions,
    mm_norm,
    naive_conv_contributions,
    relevance,
)


def hand_conv() -> tuple[nn.Conv2d, torch.Tensor]:
    """2×2 kernels on constant 3×3 maps (4 positions): s_{q,p} = 4 · Σ W[q,p] · x_p."""
    conv = nn.Conv2d(3, 2, 2, bias=True)
    w = torch.tensor(
        [
            [[[1.0, 0.0], [0.0, 0.0]], [[-1.0, -1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]]],
            [[[0.5, 0.5], [0.5, 0.5]], [[1.0, 0.0], [0.0, 1.0]], [[-1.0, 0.0], [0.0, 0.0]]],
        ]
    )
    with torch.no_grad():
        conv.weight.copy_(w)
        conv.bias.fill_(100.0)  # must not count
    x = torch.stack([torch.full((3, 3), v) for v in (1.0, 2.0, 0.5)]).unsqueeze(0)
    return conv, torch.cat([x, -x])  # sample 2 flips every sign


def test_conv_contributions_by_hand() -> None:
    conv, x = hand_conv()
    s = conv_contributions(conv, x)
    expected = torch.tensor([[4.0, -16.0, 6.0], [8.0, 16.0, -2.0]])
    assert torch.equal(s[0], expected)
    assert torch.equal(s[1], -expected)


def test_conv_relevance_by_hand() -> None:
    conv, x = hand_conv()
    summed = conv_contributions(conv, x).clamp_min(0).sum(0, keepdim=True)  # ReLU per sample, then Σ
    assert torch.equal(summed[0], torch.tensor([[4.0, 16.0, 6.0], [8.0, 16.0, 2.0]]))
    both_outputs = torch.ones(1, 2)
    rel = relevance(summed, both_outputs, alpha=0.3, beta=0.2)
    r_expected = torch.tensor(
        [[0.0, 12 / (12 + EPS), 2 / (12 + EPS)], [6 / (14 + EPS), 14 / (14 + EPS), 0.0]]
    )
    assert torch.allclose(rel.r_qp[0], r_expected, atol=1e-7)
    assert rel.rhat_qp[0].tolist() == [[False, True, False], [True, True, False]]
    assert rel.s_p[0].tolist() == [1.0, 2.0, 0.0]
    assert torch.allclose(rel.r_p[0], torch.tensor([1 / (2 + EPS), 2 / (2 + EPS), 0.0]))
    assert rel.rhat_p[0].tolist() == [True, True, False]
    # only output 0 relevant: s_p counts output 0's relevant kernels alone
    only_first = relevance(summed, torch.tensor([[1.0, 0.0]]), alpha=0.3, beta=0.2)
    assert only_first.s_p[0].tolist() == [0.0, 1.0, 0.0]
    assert only_first.rhat_p[0].tolist() == [False, True, False]


def test_relu_before_the_class_sum_matters() -> None:
    conv, x = hand_conv()
    wrong = conv_contributions(conv, x).sum(0).clamp_min(0)  # sum first: everything cancels
    assert torch.equal(wrong, torch.zeros(2, 3))


def test_linear_contributions_and_relevance_by_hand() -> None:
    linear = nn.Linear(3, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]]))
        linear.bias.fill_(-50.0)
    x = torch.tensor([[2.0, 1.0, 4.0]])
    s = linear_contributions(linear, x)
    assert torch.equal(s[0], torch.tensor([[2.0, -2.0, 2.0], [0.0, 3.0, -4.0]]))
    summed = s.clamp_min(0).sum(0, keepdim=True)
    rel = relevance(summed, torch.tensor([[0.0, 1.0]]), alpha=0.4, beta=0.3)
    assert rel.rhat_qp[0].tolist() == [[True, False, True], [False, True, False]]
    assert rel.s_p[0].tolist() == [0.0, 1.0, 0.0]
    assert rel.rhat_p[0].tolist() == [False, True, False]
    rel0 = relevance(summed, torch.tensor([[1.0, 0.0]]), alpha=0.4, beta=0.3)
    assert rel0.rhat_p[0].tolist() == [True, False, True]


def test_mm_norm_is_per_row_min_max() -> None:
    v = torch.tensor([[2.0, 4.0, 6.0], [5.0, 5.0, 5.0]])
    assert torch.allclose(mm_norm(v), torch.tensor([[0.0, 2 / (4 + EPS), 4 / (4 + EPS)], [0.0, 0.0, 0.0]]))


@pytest.mark.parametrize(
    "conv",
    [
        nn.Conv2d(4, 6, 3, padding=1),
        nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=1),
        nn.Conv2d(4, 5, (3, 1), stride=(1, 2), padding=(2, 0), dilation=2),
        nn.Conv2d(4, 6, 3, padding=1, groups=2),
        nn.Conv2d(6, 6, 3, padding=1, groups=6),  # depthwise
        nn.Conv2d(4, 6, 1),
    ],
    ids=["3x3", "stride2", "dilated", "grouped", "depthwise", "1x1"],
)
def test_memory_light_equals_naive(conv: nn.Conv2d) -> None:
    torch.manual_seed(0)
    x = torch.randn(3, conv.in_channels, 9, 7)
    fast = conv_contributions(conv, x)
    naive = naive_conv_contributions(conv, x)
    assert fast.shape == (3, conv.out_channels, conv.in_channels)
    assert torch.allclose(fast, naive, atol=1e-5)
    # and Σ_p s_{q,p} + bias·positions is the layer's own output summed over positions
    out = conv(x)
    assert conv.bias is not None
    positions = out.shape[2] * out.shape[3]
    assert torch.allclose(fast.sum(2) + conv.bias * positions, out.sum((2, 3)), atol=1e-4)


def test_depthwise_contributions_are_zero_off_the_diagonal() -> None:
    conv = nn.Conv2d(4, 4, 3, padding=1, groups=4)
    s = conv_contributions(conv, torch.randn(2, 4, 5, 5))
    assert torch.equal(s * (1 - torch.eye(4)), torch.zeros(2, 4, 4))

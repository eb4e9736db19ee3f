"""Relative contributions of Model LEGO (Hu et al., NeurIPS 2024), per layer.

For a layer with kernels c_{q,p}, s_{q,p} = Σ_{h,w} (c_{q,p} ⊗ a_p)[h,w] (no bias). Because the
spatial sum is linear, s_{q,p} = Σ_k W[q,p,k] · U[p,k] with U = Σ_positions unfold(a)[p,k,·]: we
sum the unfolded input over positions first and contract with the kernel after, so the
B×O×I×H×W tensor of the official code is never built (:func:`naive_conv_contributions` builds it,
for tests only). Depthwise and grouped convolutions are dense convolutions whose kernels outside
the group are zero, so their s_{q,p} is zero there; the min-max over p then runs over all P inputs
exactly as the paper defines it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-5  # the ϵ of the min-max normalisation


def conv_contributions(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """s_{q,p} per sample, shape B×O×I, without materialising B×O×I×H×W."""
    if conv.padding_mode != "zeros":
        x = F.pad(x, conv._reversed_padding_repeated_twice, mode=conv.padding_mode)
        padding: tuple[int, int] | str = (0, 0)
    else:
        padding = conv.padding  # type: ignore[assignment]
    if isinstance(padding, str):
        raise ValueError(f"string padding {padding!r} is not supported for contributions")
    kh, kw = conv.kernel_size
    cols = F.unfold(x, (kh, kw), dilation=conv.dilation, padding=padding, stride=conv.stride)
    batch, channels = x.shape[0], x.shape[1]
    summed = cols.sum(-1).view(batch, channels, kh * kw)  # U: B×I×K
    groups = conv.groups
    out_per_group, in_per_group = conv.out_channels // groups, channels // groups
    weight = conv.weight.detach().view(conv.out_channels, in_per_group, kh * kw)
    if groups == 1:
        return torch.einsum("bik,oik->boi", summed, weight)
    u = summed.view(batch, groups, in_per_group, kh * kw)
    w = weight.view(groups, out_per_group, in_per_group, kh * kw)
    blocks = torch.einsum("bgik,goik->bgoi", u, w)  # B×G×(O/G)×(I/G)
    dense = x.new_zeros(batch, conv.out_channels, channels)
    rows = torch.arange(conv.out_channels, device=x.device).view(groups, out_per_group, 1)
    first = (torch.arange(groups, device=x.device) * in_per_group).view(groups, 1, 1)
    cols_idx = first + torch.arange(in_per_group, device=x.device).view(1, 1, in_per_group)
    dense[:, rows.expand(-1, -1, in_per_group), cols_idx.expand(-1, out_per_group, -1)] = blocks
    return dense


def naive_conv_contributions(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """The official code's way: every single-kernel convolution B×O×I×L, then the spatial sum.
    Memory-hungry; the reference the memory-light version is tested against."""
    kh, kw = conv.kernel_size
    cols = F.unfold(x, (kh, kw), dilation=conv.dilation, padding=conv.padding, stride=conv.stride)  # type: ignore[arg-type]
    batch, channels = x.shape[0], x.shape[1]
    cols = cols.view(batch, channels, kh * kw, -1)
    full = conv.weight.new_zeros(conv.out_channels, channels, kh * kw)
    g_out, g_in = conv.out_channels // conv.groups, channels // conv.groups
    w = conv.weight.detach().view(conv.out_channels, g_in, kh * kw)
    for g in range(conv.groups):
        full[g * g_out : (g + 1) * g_out, g * g_in : (g + 1) * g_in] = w[g * g_out : (g + 1) * g_out]
    per_position = torch.einsum("bikl,oik->boil", cols, full)  # B×O×I×L: what we avoid
    return per_position.sum(-1)


def linear_contributions(linear: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """s_{q,p} = a_p · W[q,p] per sample, B×O×I (extra token dimensions are summed like positions)."""
    if x.dim() > 2:
        x = x.reshape(x.shape[0], -1, x.shape[-1]).sum(1)
    return x.unsqueeze(1) * linear.weight.detach().unsqueeze(0)


def contributions(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """ŝ summed over the batch is built by the caller; this is s_{q,p} per sample for one layer."""
    if isinstance(module, nn.Conv2d):
        return conv_contributions(module, x)
    if isinstance(module, nn.Linear):
        return linear_contributions(module, x)
    raise TypeError(f"no contribution rule for {type(module).__name__}")


def mm_norm(values: torch.Tensor) -> torch.Tensor:
    """Min-max normalisation over the last dimension, with the paper's ϵ in the denominator."""
    low = values.min(-1, keepdim=True).values
    high = values.max(-1, keepdim=True).values
    return (values - low) / (high - low + EPS)


@dataclass(frozen=True)
class Relevance:
    """Every quantity of one layer's backward step (K classes × O outputs × I inputs)."""

    r_qp: torch.Tensor  # soft relative contribution of kernel (q,p), K×O×I
    rhat_qp: torch.Tensor  # hard: r_{q,p} > α
    s_p: torch.Tensor  # number of relevant outputs q that input p contributes to, K×I
    r_p: torch.Tensor  # min-max of s_p
    rhat_p: torch.Tensor  # relevant inputs: r_p > β (bool, K×I)


def relevance(summed: torch.Tensor, out_mask: torch.Tensor, alpha: float, beta: float) -> Relevance:
    """One backward step from relevant outputs to relevant inputs.

    ``summed`` is ŝ = Σ_samples max(s, 0), K×O×I; ``out_mask`` K×O marks the outputs relevant to
    each class. Strict ``>`` thresholds as in the official code (the paper prints ≥)."""
    r_qp = mm_norm(summed)
    rhat_qp = r_qp > alpha
    s_p = torch.einsum("ko,koi->ki", out_mask.to(summed.dtype), rhat_qp.to(summed.dtype))
    r_p = mm_norm(s_p)
    return Relevance(r_qp, rhat_qp, s_p, r_p, r_p > beta)

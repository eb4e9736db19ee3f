"""NASWOT (Mellor et al. 2021) as DeRy's paper states it.

Every activation module's output is turned into a binary code per image (``out > 0``, flattened).
For codes c of a batch, K = c·cᵀ + (1−c)(1−c)ᵀ counts, for each pair of images, the units on which
they agree (N_A minus the Hamming distance); K is summed over modules and the score is log|K|.
Deviations from the official code, on purpose: hooks only on activation modules (not Linear,
Dropout or Attention), hooks always removed, shuffled seeded batches, and the network scored is a
deep copy with BatchNorm in train mode and everything else (dropout, drop-path) in eval mode, so the
score is deterministic and the caller's network is never touched.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from typing import Any

import torch
from timm.layers import activations as timm_act
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from core.errors import InvalidInput
from core.progress import Progress, no_progress
from core.proxy.batches import sample_batches
from core.proxy.types import ProxyScore

# Activations whose output is positive exactly where their input is: the code is the unit's
# on/off pattern, as for a ReLU. Sigmoid/Tanh-style squashers are deliberately not hooked.
ACTIVATION_TYPES: tuple[type[nn.Module], ...] = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.RReLU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Hardswish,
    nn.ELU,
    nn.CELU,
    nn.SELU,
    timm_act.GELU,
    timm_act.GELUTanh,
    timm_act.QuickGELU,
    timm_act.Swish,
    timm_act.Mish,
    timm_act.HardSwish,
    timm_act.HardMish,
    timm_act.PReLU,
)

FLAG_SINGULAR = "singular_kernel"
FLAG_NO_ACTIVATIONS = "no_activation_modules"


def activation_modules(net: nn.Module) -> list[nn.Module]:
    """The modules NASWOT hooks, in registration order."""
    return [m for m in net.modules() if isinstance(m, ACTIVATION_TYPES)]


@torch.no_grad()
def activation_kernel(net: nn.Module, batch: Tensor) -> tuple[Tensor, int]:
    """Hamming-agreement kernel (B×B, float64) of one forward of ``net`` on ``batch``, and the number
    of activation calls that contributed. Hooks ``net`` itself and always removes the hooks; callers
    that must not touch their network use :func:`naswot`, which works on a copy."""
    b = int(batch.shape[0])
    kernel = torch.zeros(b, b, dtype=torch.float64, device=batch.device)
    calls = 0

    def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
        nonlocal kernel, calls
        if not isinstance(output, Tensor) or output.shape[0] != b:
            return
        # s = 2c − 1 ∈ {−1, +1}; c·cᵀ + (1−c)(1−c)ᵀ = (s·sᵀ + D) / 2, one matmul instead of two.
        s = (output.detach().reshape(b, -1) > 0).to(torch.float64) * 2.0 - 1.0
        kernel = kernel + (s @ s.T + s.shape[1]) / 2.0
        calls += 1

    handles = [m.register_forward_hook(hook) for m in activation_modules(net)]
    try:
        net(batch)
    finally:
        for h in handles:
            h.remove()
    return kernel, calls


def _scoring_copy(net: nn.Module) -> nn.Module:
    scored = copy.deepcopy(net)
    scored.eval()
    for m in scored.modules():
        if isinstance(m, _BatchNorm):
            m.train()
    return scored


def naswot(
    net: nn.Module,
    images: Tensor | Iterable[Tensor],
    *,
    n_batches: int = 5,
    batch_size: int = 32,
    seed: int = 0,
    progress: Progress | None = None,
) -> ProxyScore:
    """NASWOT score of ``net``: mean over batches of log|K|.

    ``images`` is either a tensor of target images (N, C, H, W) from which ``n_batches`` seeded,
    shuffled batches of ``batch_size`` are drawn, or an iterable of ready batches (used as given).
    A singular kernel (two images with identical codes) gives log|K| = −inf: the result then has
    ``finite=False`` and a flag, and ``value`` is −inf.
    """
    report = progress or no_progress
    batches = (
        sample_batches(images, n_batches, batch_size, seed) if isinstance(images, Tensor) else list(images)
    )
    if not batches:
        raise InvalidInput("NASWOT needs at least one batch of target images, got none")
    scored = _scoring_copy(net)
    device = next((p.device for p in scored.parameters()), torch.device("cpu"))
    per_batch: list[float] = []
    singular = 0
    for i, batch in enumerate(batches):
        if batch.ndim < 2 or batch.shape[0] < 2:
            raise InvalidInput(
                f"NASWOT batches need at least 2 images each, batch {i} has shape {tuple(batch.shape)}"
            )
        kernel, calls = activation_kernel(scored, batch.to(device))
        if calls == 0:
            return ProxyScore(
                value=float("nan"),
                finite=False,
                flag=f"{FLAG_NO_ACTIVATIONS}: no ReLU/GELU/SiLU-style activation module ran in the "
                "forward pass (functional activations are not seen), so there are no binary codes to score",
                per_batch=[],
            )
        sign, logabsdet = torch.linalg.slogdet(kernel)
        value = float(logabsdet) if float(sign) > 0 else float("-inf")
        if not math.isfinite(value):
            singular += 1
        per_batch.append(value)
        report((i + 1) / len(batches), f"NASWOT batch {i + 1}/{len(batches)}")
    if singular:
        return ProxyScore(
            value=float("-inf"),
            finite=False,
            flag=f"{FLAG_SINGULAR}: in {singular} of {len(batches)} batches some images share identical "
            "activation codes (log|K| = -inf); the network cannot tell them apart at initialisation",
            per_batch=per_batch,
        )
    return ProxyScore(value=sum(per_batch) / len(per_batch), finite=True, flag=None, per_batch=per_batch)

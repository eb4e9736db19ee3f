"""Parameter and FLOP counting shared by dissection, stitching and search.

FLOPs come from ``torch.utils.flop_counter``; one multiply-add counts as 2 and only matmuls and
convolutions are counted (additions, softmax, norms and activations are not). Counts are for a
batch of one image.

Attention: ``FlopCounterMode`` has formulas for the fused CUDA attention kernels (flash, memory
efficient, cuDNN) but not for the fused CPU kernel (``_scaled_dot_product_flash_attention_for_cpu``)
that ``F.scaled_dot_product_attention`` picks on the CPU, so a ViT's q·kᵀ and attn·v went uncounted
there (−14 % for ViT-Ti at 224²) and the same model had different FLOPs on a CPU and a CUDA worker.
The counted forward therefore runs with the math SDPA backend forced: it decomposes attention into
``bmm`` calls (q·kᵀ and attn·v, 2·T²·d per head each), which are counted on every device and equal
what the fused-kernel formulas give.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode


def count_params(module: nn.Module) -> int:
    """Distinct parameters (shared tensors counted once)."""
    seen: set[int] = set()
    total = 0
    for p in module.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    return total


@torch.no_grad()
def count_flops(module: nn.Module, *inputs: Any) -> int:
    """FLOPs of one forward call of ``module`` on ``inputs`` (batch of one expected).

    The same on every device: scaled-dot-product attention runs on the math backend while counting
    (see the module docstring), whatever backend the caller allowed.
    """
    was_training = module.training
    module.eval()
    try:
        with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            module(*inputs)
    finally:
        module.train(was_training)
    return int(counter.get_total_flops())

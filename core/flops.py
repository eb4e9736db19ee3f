"""Parameter and FLOP counting shared by dissection, stitching and search.

FLOPs come from ``torch.utils.flop_counter`` (it counts attention); one multiply-add counts as 2.
Counts are for a batch of one image.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
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
    """FLOPs of one forward call of ``module`` on ``inputs`` (batch of one expected)."""
    was_training = module.training
    module.eval()
    try:
        with FlopCounterMode(display=False) as counter:
            module(*inputs)
    finally:
        module.train(was_training)
    return int(counter.get_total_flops())

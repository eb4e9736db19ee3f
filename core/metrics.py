"""Classification metrics shared by the zoo, the search and training."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


@torch.no_grad()
def accuracy(
    net: nn.Module, images: torch.Tensor, labels: torch.Tensor | np.ndarray, batch_size: int = 256
) -> float:
    """Top-1 accuracy of ``net`` in eval mode (NaN for no images)."""
    if len(images) == 0:
        return float("nan")
    net.eval()
    target = torch.as_tensor(labels)
    correct = 0
    for start in range(0, len(images), batch_size):
        preds = net(images[start : start + batch_size]).argmax(1).cpu()
        correct += int((preds == target[start : start + batch_size]).sum())
    return correct / len(images)

"""Which training images drive the contributions: per class, the most confident correctly classified
ones (the paper's top 1 %, at least ``min_count``), ties broken by a seeded shuffle."""

from __future__ import annotations

import math

import torch
from torch import nn

from core.errors import InvalidInput


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Logits of ``images`` on the model's device, returned on the CPU."""
    device = next(model.parameters()).device
    model.eval()
    return torch.cat(
        [
            model(images[s : s + batch_size].to(device)).float().cpu()
            for s in range(0, len(images), batch_size)
        ]
    )


def select_samples(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    classes: list[int],
    *,
    fraction: float = 0.01,
    min_count: int = 10,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(image indices, class positions) of the selected samples; ``labels`` are model output indices.

    Each class contributes its ``max(min_count, ceil(fraction · count))`` most confident correctly
    classified images (fewer if fewer are correct); a class with none is an error."""
    labels = torch.as_tensor(labels).long().cpu()
    probs = predict(model, images).softmax(1)
    generator = torch.Generator().manual_seed(seed)
    chosen: list[torch.Tensor] = []
    positions: list[torch.Tensor] = []
    for k, c in enumerate(classes):
        idx = torch.nonzero(labels == c).flatten()
        if len(idx) == 0:
            raise InvalidInput(
                f"class {c} has no image among the {len(labels)} given; give training images of it"
            )
        idx = idx[torch.randperm(len(idx), generator=generator)]  # seeded tie-break
        correct = idx[probs[idx].argmax(1) == c]
        if len(correct) == 0:
            raise InvalidInput(
                f"the model classifies none of the {len(idx)} images of class {c} correctly, so no sample "
                "can drive its contributions; check the labels map to the model's outputs"
            )
        want = max(min_count, math.ceil(fraction * len(idx)))
        order = torch.sort(probs[correct, c], descending=True, stable=True).indices
        top = correct[order[:want]]
        chosen.append(top)
        positions.append(torch.full((len(top),), k, dtype=torch.long))
    return torch.cat(chosen), torch.cat(positions)

"""Gradient training of a reassembled network: FZ (blocks frozen: stitches + head, and a stitched
stem) or FT (everything), AdamW with a cosine schedule, seeded, with metrics per epoch."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from core.progress import Progress, no_progress
from core.stitch import ReassembledNet

Mode = Literal["frozen", "finetune"]


def train_network(
    net: ReassembledNet,
    images: torch.Tensor,
    labels: torch.Tensor,
    heldout: tuple[torch.Tensor, np.ndarray],
    *,
    mode: Mode,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int = 0,
    weight_decay: float = 0.05,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Train in place; returns one record per epoch (mean loss, held-out accuracy)."""
    from core.assembly.pipeline import accuracy

    report = progress or no_progress
    if mode == "frozen":
        net.freeze_blocks()
    else:
        net.unfreeze()
    trainable = [p for p in net.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=lr, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(len(images) / batch_size)
    total = max(1, epochs * steps_per_epoch)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: 0.5 * (1 + math.cos(math.pi * s / total))
    )
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    history = []
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(images), generator=generator)
        losses = []
        for start in range(0, len(images), batch_size):
            idx = order[start : start + batch_size]
            loss = loss_fn(net(images[idx]), labels[idx])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(float(loss.detach()))
        held = accuracy(net, *heldout)
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), "heldout_accuracy": held})
        report(
            (epoch + 1) / epochs,
            f"epoch {epoch + 1}/{epochs}: loss {history[-1]['loss']:.3f}, held-out {held:.1%}",
        )
    net.eval()
    return history

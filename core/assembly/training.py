"""Gradient training of a reassembled network: FZ (blocks frozen: stitches + head, and a stitched
stem) or FT (everything), AdamW with a cosine schedule, seeded, with metrics per epoch.

Training starts from the least-squares stitches and the closed-form head and never loses that
starting point: the validation accuracy is measured before the first epoch and after every epoch,
and the weights of the best one (the start included; ties keep the earlier) are restored at the end.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from core.assembly.request import DEFAULT_EPOCHS, DEFAULT_LR, DEFAULT_WEIGHT_DECAY
from core.metrics import accuracy
from core.progress import Progress, no_progress
from core.stitch import ReassembledNet

Mode = Literal["frozen", "finetune"]


def train_network(
    net: ReassembledNet,
    images: torch.Tensor,
    labels: torch.Tensor,
    validation: tuple[torch.Tensor, np.ndarray],
    *,
    mode: Mode,
    epochs: int = DEFAULT_EPOCHS,
    lr: float = DEFAULT_LR,
    batch_size: int = 64,
    seed: int = 0,
    weight_decay: float = DEFAULT_WEIGHT_DECAY,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Train in place and keep the best epoch on ``validation``; returns one record per epoch
    (epoch 0 = the starting point) with the mean loss, the validation accuracy and ``kept``."""
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
    best_acc, best_epoch, best_state = accuracy(net, *validation), 0, copy.deepcopy(net.state_dict())
    history: list[dict[str, Any]] = [{"epoch": 0, "loss": None, "validation_accuracy": best_acc}]
    for epoch in range(1, epochs + 1):
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
        val = accuracy(net, *validation)
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "validation_accuracy": val})
        if val > best_acc:
            best_acc, best_epoch, best_state = val, epoch, copy.deepcopy(net.state_dict())
        report(
            epoch / epochs, f"epoch {epoch}/{epochs}: loss {history[-1]['loss']:.3f}, validation {val:.1%}"
        )
    net.load_state_dict(best_state)
    net.eval()
    for record in history:
        record["kept"] = record["epoch"] == best_epoch
    return history

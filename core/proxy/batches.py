"""Seeded, shuffled target batches for the proxies (the official DeRy code read the first 160
unshuffled images, i.e. one class of a folder-sorted dataset)."""

from __future__ import annotations

import torch
from torch import Tensor

from core.errors import InvalidInput


def sample_batches(images: Tensor, n_batches: int = 5, batch_size: int = 32, seed: int = 0) -> list[Tensor]:
    """``n_batches`` batches of ``batch_size`` images drawn by a seeded shuffle of ``images`` (N, ...).

    Batches are disjoint when ``n_batches * batch_size <= N``; otherwise each batch is the head of
    its own seeded permutation (images may repeat across batches, never within one).
    """
    if n_batches < 1 or batch_size < 1:
        raise InvalidInput(f"n_batches and batch_size must be >= 1, got {n_batches} and {batch_size}")
    n = int(images.shape[0])
    if n < batch_size:
        raise InvalidInput(
            f"the proxy needs at least batch_size={batch_size} target images, got {n}: "
            "upload more images or lower batch_size"
        )
    gen = torch.Generator().manual_seed(seed)
    if n_batches * batch_size <= n:
        order = torch.randperm(n, generator=gen)
        return [images[order[b * batch_size : (b + 1) * batch_size]] for b in range(n_batches)]
    return [images[torch.randperm(n, generator=gen)[:batch_size]] for _ in range(n_batches)]

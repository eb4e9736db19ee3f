"""Target tasks that no zoo model was trained on as such.

The zoo learns Fashion-MNIST class subsets from upright images. The transfer target used by the
demo and the benchmark is the same ten classes seen *rotated by 90° and photometrically inverted*
(white garments on black turn into black on white): every model must transfer its features to a new
input distribution, and none of them has seen it. Deterministic, no download."""

from __future__ import annotations

import numpy as np

TRANSFER_TASK = "rotated 90° and inverted Fashion-MNIST (10 classes)"


def rotated_inverted(images: np.ndarray) -> np.ndarray:
    """uint8 images (N×H×W[×C]) rotated a quarter turn counter-clockwise and inverted (255 − x)."""
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise ValueError(f"expected uint8 N×H×W[×C] images, got {images.dtype} with shape {images.shape}")
    return np.ascontiguousarray(255 - np.rot90(images, k=1, axes=(1, 2)))

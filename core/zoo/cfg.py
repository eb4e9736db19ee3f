"""timm's per-variant default configuration for the project's own architectures, in one place."""

from __future__ import annotations

from typing import Any

FASHION_MNIST = {"num_classes": 10, "input_size": (1, 32, 32), "mean": (0.2860,), "std": (0.3530,)}


def zoo_cfg(first_conv: str, classifier: str, **overrides: Any) -> dict[str, Any]:
    """A timm ``pretrained_cfg``: no download URL; by default the zoo's source task (Fashion-MNIST at
    32 px, its pixel statistics), which ``overrides`` replace for other input sizes and tasks."""
    cfg: dict[str, Any] = dict(
        FASHION_MNIST, url="", pool_size=(1, 1), crop_pct=1.0, interpolation="bilinear"
    )
    cfg.update(first_conv=first_conv, classifier=classifier, license="apache-2.0")
    cfg.update(overrides)
    return cfg

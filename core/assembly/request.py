"""An assembly job's settings, typed: what the API validated and stored, as the search reads it.

Torch-free, so the API and the worker share one parser and the defaults live in one place. The
training defaults were chosen on the validation split of benchmarks/dery_fashion.py (docs/results.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from core.assembly.problem import Budget

Proxy = Literal["validation", "logme", "naswot"]
TrainingMode = Literal["none", "frozen", "finetune"]

DEFAULT_PROXY: Proxy = "validation"  # ranks as well as LogME and makes the best final choice
DEFAULT_EPOCHS = 10
DEFAULT_LR = 1e-3
DEFAULT_WEIGHT_DECAY = 1e-4


@dataclass(frozen=True)
class TrainingConfig:
    mode: TrainingMode = "none"
    epochs: int = DEFAULT_EPOCHS
    lr: float = DEFAULT_LR
    weight_decay: float = DEFAULT_WEIGHT_DECAY
    batch_size: int = 64


@dataclass(frozen=True)
class SearchConfig:
    proxy: Proxy = DEFAULT_PROXY
    pool_size: int = 200
    finalists: int = 3
    seed: int = 0
    probe_images: int = 256
    training: TrainingConfig = field(default_factory=TrainingConfig)
    score_naswot: bool = False  # NASWOT for every chain even when it is not the ranking proxy


@dataclass(frozen=True)
class AssemblyRequest:
    """The budget, the search and the target's split sizes of one assembly."""

    budget: Budget
    search: SearchConfig
    fit_images: int = 2000
    heldout_images: int = 1000
    heldout_dataset_id: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AssemblyRequest:
        """From the stored request body (the API's ``AssemblyCreate`` without its two ids)."""
        return cls(
            budget=Budget(**config["constraints"]),
            search=SearchConfig(
                proxy=config["proxy"],
                pool_size=int(config["pool_size"]),
                finalists=int(config["candidates"]),
                seed=int(config["seed"]),
                probe_images=int(config["probe_images"]),
                training=TrainingConfig(**config["training"]),
            ),
            fit_images=int(config["fit_images"]),
            heldout_images=int(config["heldout_images"]),
            heldout_dataset_id=config.get("heldout_dataset_id"),
        )

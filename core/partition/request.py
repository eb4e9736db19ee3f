"""A partition job's settings, typed: what the API validated and stored, as the worker reads it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

SizeMeasure = Literal["nodes", "params", "flops"]
Method = Literal["dp", "local"]


@dataclass(frozen=True)
class PartitionRequest:
    k: int = 4
    epsilon: float = 0.2
    size_measure: SizeMeasure = "nodes"
    restarts: int = 200
    seed: int = 0
    method: Method = "dp"
    probe_images: int = 512
    batch_size: int = 64

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PartitionRequest:
        """From the stored request body (the API's ``PartitionCreate`` without ids)."""
        fields = cls.__dataclass_fields__
        return cls(**{name: config[name] for name in fields if name in config})

"""Schemas of assemblies (reassembled networks)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas import JobOut


class Constraints(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_params: int | None = Field(None, gt=0, description="Upper bound on the whole network's parameters.")
    max_flops: int | None = Field(
        None, gt=0, description="Upper bound on FLOPs per image (multiply-add = 2)."
    )
    min_params: int | None = Field(None, gt=0)
    max_latency_ms: float | None = Field(
        None, gt=0, description="Sum of the chosen blocks' latencies on one image, timed on the worker."
    )

    @model_validator(mode="after")
    def _some_budget(self) -> Constraints:
        if self.max_params is None and self.max_flops is None:
            raise ValueError("give at least one of max_params and max_flops")
        return self


class Training(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["none", "frozen", "finetune"] = Field(
        "none",
        description="none: least-squares stitches and a closed-form head, no gradient step; "
        "frozen: then train stitches and head (blocks frozen); finetune: then train everything.",
    )
    epochs: int = Field(1, ge=1, le=1000)
    lr: float = Field(1e-3, gt=0)
    batch_size: int = Field(64, ge=1, le=4096)


class AssemblyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partition_id: str
    target_dataset_id: str
    constraints: Constraints
    proxy: Literal["naswot", "logme"] = "naswot"
    candidates: int = Field(5, ge=1, le=50, description="How many IP solutions to build and re-rank.")
    compat_weight: float = Field(1.0, ge=0, description="λ: weight of interface CKA in the IP objective.")
    probe_images: int = Field(256, ge=32, le=10_000, description="Target images for LS fits and proxies.")
    fit_images: int = Field(2000, ge=32, description="Cap on target images used to fit stitches and head.")
    heldout_images: int = Field(1000, ge=10, description="Cap on held-out target images for accuracy.")
    seed: int = 0
    training: Training = Field(default_factory=Training)


class AssemblyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    status: Literal["pending", "done", "failed"]
    partition_id: str
    target_dataset_id: str
    config: dict[str, Any]
    candidates: list[dict[str, Any]] = []
    chosen: dict[str, Any] | None = None
    model_scores: dict[str, float] | None = None
    training: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    checkpoint_available: bool = False
    created_at: datetime
    job: JobOut | None = None

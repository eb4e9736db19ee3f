"""Schemas of assemblies (reassembled networks)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas import JobResultOut
from core.limits import MAX_FLOPS, MAX_LATENCY_MS, MAX_PARAMS, MAX_SEED


class Constraints(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    max_params: int | None = Field(
        None, gt=0, le=MAX_PARAMS, description="Upper bound on the whole network's parameters."
    )
    max_flops: int | None = Field(
        None, gt=0, le=MAX_FLOPS, description="Upper bound on FLOPs per image (multiply-add = 2)."
    )
    min_params: int | None = Field(
        None, gt=0, le=MAX_PARAMS, description="Lower bound on the whole network's parameters."
    )
    min_flops: int | None = Field(
        None, gt=0, le=MAX_FLOPS, description="Lower bound on FLOPs per image (multiply-add = 2)."
    )
    max_latency_ms: float | None = Field(
        None,
        gt=0,
        le=MAX_LATENCY_MS,
        description="Sum of the chosen blocks' latencies on one image, timed on the worker.",
    )
    min_donors: int = Field(
        2,
        ge=1,
        le=16,
        description="Fewest distinct donor models a candidate takes blocks from. An assembly is a "
        "reassembly unless the user asks otherwise: min_donors=1 allows a single donor's own chain.",
    )

    @model_validator(mode="after")
    def _some_budget(self) -> Constraints:
        if self.max_params is None and self.max_flops is None:
            raise ValueError("give at least one of max_params and max_flops")
        return self


class Training(BaseModel):
    """Defaults chosen on the validation split of benchmarks/dery_fashion.py (docs/results.md)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    mode: Literal["none", "frozen", "finetune"] = Field(
        "none",
        description="none: least-squares stitches and a closed-form head, no gradient step; "
        "frozen (FZ): then train stitches and head (blocks frozen); finetune (FT): then train everything. "
        "Training keeps the best epoch on the validation split, the starting point included.",
    )
    epochs: int = Field(10, ge=1, le=1000)
    lr: float = Field(1e-3, gt=0, le=1.0)
    weight_decay: float = Field(1e-4, ge=0, le=1.0)
    batch_size: int = Field(64, ge=1, le=4096)


class AssemblyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    partition_id: str
    target_dataset_id: str
    heldout_dataset_id: str | None = Field(
        None,
        description="A separate test set of the same classes, used only to report held-out accuracy. "
        "Without it a stratified share of the target dataset is held out.",
    )
    constraints: Constraints
    proxy: Literal["validation", "logme", "naswot"] = Field(
        "validation",
        description="Whole-network proxy that ranks the pool: the closed-form head's validation accuracy "
        "(default: it ranks as well as LogME and makes the best final choice in the benchmark), "
        "LogME of the assembled features, or NASWOT at initialisation (the paper's).",
    )
    pool_size: int = Field(
        200, ge=1, le=2000, description="Distinct budget-feasible chains drawn and scored."
    )
    candidates: int = Field(
        3,
        ge=1,
        le=20,
        description="Finalists: the best by the proxy, trained as asked; the best on validation wins.",
    )
    probe_images: int = Field(
        256, ge=32, le=10_000, description="Fit images for the least-squares stitch fits."
    )
    fit_images: int = Field(
        2000, ge=32, le=100_000, description="Cap on images that fit stitches, head and training."
    )
    heldout_images: int = Field(
        1000, ge=10, le=100_000, description="Cap on held-out images (reported, never used to choose)."
    )
    seed: int = Field(0, ge=0, le=MAX_SEED)
    training: Training = Field(default_factory=Training)


class AssemblyOut(JobResultOut):
    partition_id: str
    target_dataset_id: str
    candidates: list[dict[str, Any]] = []
    chosen: dict[str, Any] | None = None
    baseline: dict[str, Any] | None = None
    baseline_note: str | None = None
    gain: float | None = Field(
        None, description="Held-out accuracy of the choice minus the baseline's, in points."
    )
    recommendation: Literal["reassembly", "zoo_model"] | None = Field(
        None, description="Decided on the validation split: ship the reassembly or the best zoo model."
    )
    pool: list[dict[str, Any]] = []
    zoo_models: list[dict[str, Any]] = []
    target: dict[str, int] | None = Field(
        None, description="Images in the fit, validation and held-out splits."
    )

"""Schemas of partitions (equivalence sets)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import JobResultOut
from core.limits import MAX_PARTITION_MODELS, MAX_SEED


class PartitionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    model_ids: list[str] = Field(
        ...,
        min_length=2,
        max_length=MAX_PARTITION_MODELS,
        description="Dissected models, in the order reported.",
    )
    probe_dataset_id: str
    k: int = Field(4, ge=1, le=32, description="Number of equivalence sets.")
    epsilon: float = Field(0.2, ge=0, le=10, description="Size bound |B| < (1+ε)|M|/K.")
    size_measure: Literal["nodes", "params", "flops"] = "nodes"
    restarts: int = Field(200, ge=1, le=10_000)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    method: Literal["dp", "local"] = Field("dp", description="dp = exact re-cut; local = the paper's moves.")
    probe_images: int = Field(512, ge=8, le=100_000)
    batch_size: int = Field(64, ge=4, le=1024)


class PartitionAddModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_id: str


class BlockOut(BaseModel):
    model_id: str
    model_name: str
    first_node: int
    last_node: int
    first_path: str
    last_path: str
    params: int
    flops: int
    similarity_to_anchor: float


class SetOut(BaseModel):
    index: int
    anchor: BlockOut
    blocks: list[BlockOut]


class PartitionOut(JobResultOut):
    model_ids: list[str]
    probe_dataset_id: str
    objective: float | None = None
    restarts_used: int | None = None
    sets: list[SetOut] = []

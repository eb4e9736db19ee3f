"""Schemas of the model registry and datasets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from api.schemas import JobOut
from core.errors import InvalidInput
from core.limits import MAX_CLASS_NAME_LENGTH, MAX_CLASSES, MAX_SEED, check_input_size

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$"


class TimmSource(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    timm: str = Field(
        ..., description="A timm model name, e.g. 'resnet50.a1_in1k' or 'test_vit'.", max_length=200
    )
    pretrained: bool = Field(False, description="Download timm's pretrained weights (needs internet access).")


class ModelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(..., pattern=NAME_PATTERN)
    source: TimmSource
    num_classes: int | None = Field(
        None, ge=1, le=MAX_CLASSES, description="Default: the architecture's own."
    )
    input_size: list[int] | None = Field(
        None, min_length=3, max_length=3, description="[C, H, W]; C in 1, 3, 4 and 8 <= H, W <= 4096."
    )
    model_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra timm.create_model architecture arguments (numbers, booleans, short words); "
        "arguments that load weights, files or URLs are refused.",
    )
    class_names: list[Annotated[str, StringConstraints(max_length=MAX_CLASS_NAME_LENGTH)]] | None = Field(
        None, max_length=MAX_CLASSES
    )
    seed: int = Field(
        0, ge=0, le=MAX_SEED, description="Seed of the random initialisation when not pretrained."
    )

    @field_validator("input_size")
    @classmethod
    def _bounded_size(cls, value: list[int] | None) -> list[int] | None:
        if value is None:
            return None
        try:
            return check_input_size(value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from exc


class ModelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    architecture: str
    source: Literal["timm", "upload"]
    pretrained: bool
    model_kwargs: dict[str, Any]
    num_classes: int
    input_size: list[int]
    mean: list[float]
    std: list[float]
    class_names: list[str] | None
    params: int
    flops: int
    metrics: dict[str, Any]
    status: Literal["pending", "ready", "failed"]
    dissection_status: Literal["none", "running", "done", "failed"]
    weights_artifact_id: str | None
    created_at: datetime
    job: JobOut | None = Field(None, description="The registration or dissection job this response started.")


class NodeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    index: int
    path: str
    kind: Literal["map_nchw", "map_nhwc", "tokens"]
    in_kind: Literal["map_nchw", "map_nhwc", "tokens"]
    num_prefix_tokens: int
    in_shape: list[int]
    out_shape: list[int]
    params: int
    flops: int


class NodesOut(BaseModel):
    model_id: str
    input_size: list[int]
    nodes: list[NodeOut]
    stem: dict[str, int]
    head: dict[str, int]
    total_params: int
    total_flops: int
    max_abs_error: float


class DatasetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    artifact_id: str
    num_images: int
    image_shape: list[int]
    num_classes: int
    class_names: list[str] | None
    created_at: datetime

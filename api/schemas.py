"""Pydantic v2 request/response schemas shared by the routers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from core.limits import MAX_CANARY_SECONDS

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        None, description="Pass as ?cursor= to get the next page; null at the end."
    )


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    queue: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    stage: str
    progress: float
    message: str
    error_code: str | None
    error_message: str | None
    error_details: dict[str, Any] | None
    result: dict[str, Any] | None
    attempts: int
    cancel_requested: bool
    subject_id: str | None
    owner: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class CanaryIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    seconds: float = Field(
        1.0,
        ge=0,
        le=MAX_CANARY_SECONDS,
        description="How long the canary job sleeps (with progress); the server's limit may be lower.",
    )


class HealthOut(BaseModel):
    status: str
    checks: dict[str, str] = {}

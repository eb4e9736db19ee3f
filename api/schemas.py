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


R = TypeVar("R", bound="JobResultOut")


def request_config(*examples: dict[str, Any]) -> ConfigDict:
    """A request body's pydantic config: unknown fields and non-finite numbers refused, and the
    ``examples`` shown in the OpenAPI document."""
    return ConfigDict(extra="forbid", allow_inf_nan=False, json_schema_extra={"examples": list(examples)})


def id_field(description: str) -> Any:
    """A required reference to one of the caller's resources by id."""
    return Field(..., min_length=1, max_length=64, description=description)


class JobResultOut(BaseModel):
    """What every resource a job computes shows (partitions, assemblies, components, compositions):
    the request, where it stands, the job's reason when it failed, and (from a POST) its job."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    status: Literal["pending", "done", "failed"]
    config: dict[str, Any]
    error: dict[str, Any] | None = None
    checkpoint_available: bool = Field(False, description="Its archive can be downloaded (…/checkpoint).")
    created_at: datetime
    job: JobOut | None = None

    @classmethod
    def of(cls: type[R], row: Any, job: Any = None) -> R:
        """The schema of a stored row (``core.store.models.JobResult``) and, when given, its job."""
        out = cls.model_validate(row)
        out.error = (row.result or {}).get("error")
        out.checkpoint_available = getattr(row, "checkpoint_artifact_id", None) is not None
        out.job = JobOut.model_validate(job) if job is not None else None
        return out


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


class ErrorBody(BaseModel):
    code: str = Field(description="A stable machine-readable code, e.g. `not_found`, `invalid_request`.")
    message: str = Field(description="What was wrong and what to do about it.")
    details: dict[str, Any] = Field(
        default_factory=dict,
        description="Structured facts behind the message (e.g. `problems` for a request that is not valid).",
    )


class ErrorOut(BaseModel):
    """Every 4xx and 5xx answer (``api/errors.py``, the body-limit middleware, downloads' 416),
    request validation included: a 422 is this envelope with code ``invalid_request`` and
    ``details.problems``, never FastAPI's ``HTTPValidationError``."""

    error: ErrorBody


_ERROR_STATUSES = {
    400: "The request could not be read (e.g. a Content-Length that is not a number).",
    401: "No valid bearer token (when tokens are configured).",
    403: "The token may not do this.",
    404: "No such resource for this owner.",
    409: "Conflicts with the current state (a name taken, a reused Idempotency-Key, still in use).",
    413: "The body, or what an upload declares, is over a limit; the message names it.",
    415: "The upload is not in an accepted format (e.g. a pickle instead of safetensors).",
    416: "The Range cannot be satisfied.",
    422: "The request is not valid: the message and `details` say which field and why.",
    500: "An unexpected error; the server log has the details.",
    503: "A dependency (the database, the broker) is unavailable; retry after `Retry-After`.",
    507: "The artifact store is full.",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text} for status, text in _ERROR_STATUSES.items()
}

"""SQLAlchemy 2 typed ORM models. The ``jobs`` table is the truth about every job."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC on every backend, returns aware UTC, so comparisons agree on SQLite and PG."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use datetime.now(UTC)")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("owner", "idempotency_key", name="uq_jobs_owner_idempotency_key"),
        Index("ix_jobs_status_lease", "status", "lease_expires_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    queue: Mapped[str] = mapped_column(String(20))
    owner: Mapped[str] = mapped_column(String(100), default="anonymous")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    subject_id: Mapped[str | None] = mapped_column(String(40), index=True)  # the resource it works on
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))

    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    stage: Mapped[str] = mapped_column(String(100), default="")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    error_code: Mapped[str | None] = mapped_column(String(60))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # broker accepted the message

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobEvent(Base):
    """Append-only log of what happened to a job (claims, progress, completion) and by whom."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(30))  # claimed | progress | succeeded | failed | cancelled
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Artifact(Base):
    """A content-addressed blob in the artifact store; the path is derived from sha256 by the server."""

    __tablename__ = "artifacts"
    # One row per owner and content: the blob on disk is shared, the id, filename and access are not.
    __table_args__ = (UniqueConstraint("owner", "sha256", name="uq_artifacts_owner_sha256"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100), default="anonymous")
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Model(Base):
    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("owner", "name", name="uq_models_owner_name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(100), default="anonymous")
    architecture: Mapped[str] = mapped_column(String(200))  # timm model name
    source: Mapped[str] = mapped_column(String(20))  # timm | upload
    pretrained: Mapped[bool] = mapped_column(Boolean, default=False)
    model_kwargs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    num_classes: Mapped[int] = mapped_column(Integer)
    input_size: Mapped[list[Any]] = mapped_column()  # [C, H, W]
    mean: Mapped[list[Any]] = mapped_column()
    std: Mapped[list[Any]] = mapped_column()
    class_names: Mapped[list[Any] | None] = mapped_column(JSON)
    weights_artifact_id: Mapped[str | None] = mapped_column(ForeignKey("artifacts.id"))
    params: Mapped[int] = mapped_column(BigInteger, default=0)
    flops: Mapped[int] = mapped_column(BigInteger, default=0)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)  # e.g. source-task accuracy
    seed: Mapped[int] = mapped_column(Integer, default=0)  # random init seed when not pretrained
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | ready | failed

    dissection_status: Mapped[str] = mapped_column(String(20), default="none")  # none|running|done|failed
    dissection: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # stem/head costs, error, extras
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    nodes: Mapped[list[Node]] = relationship(
        back_populates="model", order_by="Node.index", cascade="all, delete-orphan"
    )


class Node(Base):
    __tablename__ = "nodes"
    __table_args__ = (UniqueConstraint("model_id", "index", name="uq_nodes_model_index"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))
    in_kind: Mapped[str] = mapped_column(String(20))
    num_prefix_tokens: Mapped[int] = mapped_column(Integer, default=0)
    in_shape: Mapped[list[Any]] = mapped_column()
    out_shape: Mapped[list[Any]] = mapped_column()
    params: Mapped[int] = mapped_column(BigInteger)
    flops: Mapped[int] = mapped_column(BigInteger)

    model: Mapped[Model] = relationship(back_populates="nodes")


class Dataset(Base):
    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(100), default="anonymous")
    artifact_id: Mapped[str] = mapped_column(ForeignKey("artifacts.id"))
    num_images: Mapped[int] = mapped_column(Integer)
    image_shape: Mapped[list[Any]] = mapped_column()  # [H, W] or [H, W, C]
    num_classes: Mapped[int] = mapped_column(Integer)
    class_names: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Sketch(Base):
    """Gram sketches of one model on one probe set (DeRy similarity), cached and reused."""

    __tablename__ = "sketches"
    __table_args__ = (
        UniqueConstraint(
            "model_id", "dataset_id", "probe_images", "batch_size", "seed", name="uq_sketches_config"
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    probe_images: Mapped[int] = mapped_column(Integer)
    batch_size: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    artifact_id: Mapped[str] = mapped_column(ForeignKey("artifacts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JobResult:
    """The columns of a resource a job computes: the request (``config``), where it stands, and what
    came out (``result``, or ``{"error": ...}`` when its job failed)."""

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100), default="anonymous")
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | done | failed
    config: Mapped[dict[str, Any]] = mapped_column()
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PartitionRow(JobResult, Base):
    """K equivalence sets over a list of dissected models."""

    __tablename__ = "partitions"

    model_ids: Mapped[list[Any]] = mapped_column()
    probe_dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"))


class AssemblyRow(JobResult, Base):
    """A reassembled network: search result, chosen candidate, training metrics, checkpoint."""

    __tablename__ = "assemblies"

    partition_id: Mapped[str] = mapped_column(ForeignKey("partitions.id"))
    target_dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"))
    checkpoint_artifact_id: Mapped[str | None] = mapped_column(ForeignKey("artifacts.id"))


class ComponentRow(JobResult, Base):
    """A Model LEGO component: one registered model's channels and logits for a class subset. It
    outlives its source model (its archive is standalone): deleting the model clears ``model_id``."""

    __tablename__ = "components"

    model_id: Mapped[str | None] = mapped_column(ForeignKey("models.id", ondelete="SET NULL"))
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"))
    checkpoint_artifact_id: Mapped[str | None] = mapped_column(ForeignKey("artifacts.id"))


class CompositionRow(JobResult, Base):
    """Model LEGO components of one architecture assembled into one classifier."""

    __tablename__ = "compositions"

    component_ids: Mapped[list[Any]] = mapped_column()
    scaling_dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"))
    checkpoint_artifact_id: Mapped[str | None] = mapped_column(ForeignKey("artifacts.id"))


API_KEY_SCOPES = ("read", "write", "admin")


class ApiKey(Base):
    """An API key: only the sha256 of its token is stored (``core.store.keys``), never the token.
    ``prefix`` is the token's non-secret head, shown in listings. A revoked key stays (revoked_at set),
    so that the keys table never empties and an API that once required keys keeps requiring them."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(10))  # read | write | admin
    key_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the whole token
    prefix: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# The rows an owner owns (``api.owned`` reads every one of them through one scoped getter).
OwnedRow = TypeVar(
    "OwnedRow", Model, Dataset, PartitionRow, AssemblyRow, ComponentRow, CompositionRow, Artifact, Job
)

# What each row is called in messages and routes (``/v1/<noun>s/{<noun>_id}``, ``<noun>_id`` job params).
NOUNS: dict[type, str] = {
    Model: "model",
    Dataset: "dataset",
    PartitionRow: "partition",
    AssemblyRow: "assembly",
    ComponentRow: "component",
    CompositionRow: "composition",
    Artifact: "artifact",
    Job: "job",
}

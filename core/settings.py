"""Service settings, read from ``REASSEMBLY_*`` environment variables (pydantic-settings).

Defaults describe the embedded mode (SQLite + filesystem broker under ``./var``). The distributed
mode sets ``REASSEMBLY_DATABASE_URL=postgresql+psycopg://...`` and ``REASSEMBLY_BROKER_URL=redis://...``.
No secret has a default: API tokens are off unless configured.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.limits import DEFAULT_MAX_DATASET_BYTES, DEFAULT_MAX_JSON_BYTES, DEFAULT_MAX_WEIGHTS_BYTES


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REASSEMBLY_", extra="ignore")

    data_dir: Path = Field(
        Path("var"), description="Root for the embedded mode's database, broker and artifacts."
    )
    database_url: str | None = None  # default: sqlite under data_dir
    broker_url: str | None = None  # default: kombu filesystem transport under data_dir
    artifact_root: Path | None = None  # default: data_dir / "artifacts"

    device: Literal["auto", "cpu", "cuda"] = "auto"
    # Precision of network jobs on the device (issue 13, docs/architecture.md "Devices"): bf16
    # autocast for the sketch pass's forward passes and for training. Off by default: on a CPU bf16
    # is slower, and it moves CKA by up to ~1e-3 (fp32 Grams on the device leave it unchanged).
    sketch_bf16: bool = False
    train_bf16: bool = False
    # Comma-separated "token:owner" pairs. Empty = no authentication (single-user embedded mode).
    api_tokens: str = ""

    # Limits. Request bodies are checked by api.body_limits before anything is read or stored:
    # Content-Length first, then the bytes actually streamed (413 past the limit).
    max_weights_bytes: int = Field(
        DEFAULT_MAX_WEIGHTS_BYTES, gt=0, description="POST /v1/models:upload body."
    )
    max_dataset_bytes: int = Field(DEFAULT_MAX_DATASET_BYTES, gt=0, description="POST /v1/datasets body.")
    max_json_bytes: int = Field(DEFAULT_MAX_JSON_BYTES, gt=0, description="Any other request body.")
    max_canary_seconds: float = 600.0
    # How long POST /v1/models waits for its registration job before answering 202 instead of 201.
    register_wait_seconds: float = 120.0

    # Job lease: a running job's worker renews it every lease_seconds/3; a job whose lease lapsed
    # is re-dispatched by any worker's reaper and claimed by exactly one worker.
    lease_seconds: float = 30.0
    reaper_interval_seconds: float = 10.0
    max_attempts: int = 3
    task_hard_time_limit_seconds: int = 6 * 3600

    # A queued job whose message no worker took within requeue_after_seconds is sent again (the
    # message may have died with a broker that lost its data); the interval then doubles with the
    # job's age up to requeue_max_seconds, so a long backlog costs a few duplicates, not a storm.
    requeue_after_seconds: float = 60.0
    requeue_max_seconds: float = 3600.0

    # PostgreSQL connection pool, per process (the API and each worker process have their own):
    # at most db_pool_size + db_max_overflow connections; a request that finds none free waits
    # db_pool_timeout_seconds and then answers 503 (as does a database that refuses connections).
    # Size max_connections on the server for (API processes + worker processes) x that sum.
    db_pool_size: int = 5
    db_max_overflow: int = 10
    db_pool_timeout_seconds: float = 10.0
    db_connect_timeout_seconds: int = 5
    # How many requests of one API process may wait on a job at once (POST /v1/models waits up to
    # register_wait_seconds for its registration); beyond it they answer 202 with the job at once.
    # Each waiter holds one of the threadpool's 40 threads (never a database connection).
    max_waiting_requests: int = 8

    # Artifact storage (docs/architecture.md "Artifacts"): unset or file:///path = a local directory
    # (artifact_root), s3://BUCKET/PREFIX?endpoint_url=http://host:9000 = an S3-compatible bucket.
    # S3 credentials come from the AWS_* variables or boto3's own chain, never from this URL.
    artifact_url: str | None = None
    # Answer downloads with a 307 to a presigned S3 URL instead of streaming through the API. Off:
    # clients often cannot reach the S3 endpoint the API uses.
    artifact_redirect_downloads: bool = False
    artifact_presign_seconds: int = Field(300, gt=0, le=7 * 24 * 3600)

    # Every worker's reaper thread runs garbage collection (core.store.gc: artifact rows nothing refers
    # to and blobs no row names, older than an hour) this often; 0 turns it off (run `reassembly gc`).
    gc_interval_seconds: float = Field(3600.0, ge=0)

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.resolve()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir / 'reassembly.sqlite3'}"

    @property
    def resolved_broker_url(self) -> str:
        return self.broker_url or "filesystem://"

    @property
    def broker_folder(self) -> Path:
        return self.resolved_data_dir / "broker"

    @property
    def resolved_artifact_root(self) -> Path:
        return (self.artifact_root or self.resolved_data_dir / "artifacts").resolve()

    @property
    def tokens(self) -> dict[str, str]:
        pairs = [p.strip() for p in self.api_tokens.split(",") if p.strip()]
        out: dict[str, str] = {}
        for pair in pairs:
            token, _, owner = pair.partition(":")
            out[token] = owner or "default"
        return out

    @property
    def is_embedded(self) -> bool:
        return self.resolved_broker_url.startswith("filesystem")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REASSEMBLY_", extra="ignore")

    data_dir: Path = Field(
        Path("var"), description="Root for the embedded mode's database, broker and artifacts."
    )
    database_url: str | None = None  # default: sqlite under data_dir
    broker_url: str | None = None  # default: kombu filesystem transport under data_dir
    artifact_root: Path | None = None  # default: data_dir / "artifacts"

    device: Literal["auto", "cpu", "cuda"] = "auto"
    # Comma-separated "token:owner" pairs. Empty = no authentication (single-user embedded mode).
    api_tokens: str = ""

    # Limits.
    max_upload_bytes: int = 2 * 1024**3
    max_canary_seconds: float = 600.0
    # How long POST /v1/models waits for its registration job before answering 202 instead of 201.
    register_wait_seconds: float = 120.0

    # Job lease: a running job's worker renews it every lease_seconds/3; a job whose lease lapsed
    # is re-dispatched by any worker's reaper and claimed by exactly one worker.
    lease_seconds: float = 30.0
    reaper_interval_seconds: float = 10.0
    max_attempts: int = 3
    task_hard_time_limit_seconds: int = 6 * 3600

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

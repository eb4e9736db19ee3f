"""Migrations: the chain goes up, down and up again, and matches the ORM models (no drift)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from core.store.db import make_engine
from core.store.migrate import downgrade, upgrade
from core.store.models import Base
from tests.conftest import drop_pg_database, make_pg_database


def _roundtrip_and_compare(url: str) -> None:
    upgrade(url)
    downgrade(url, "base")
    engine = make_engine(url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"


def test_postgres_upgrade_downgrade_upgrade_without_drift() -> None:
    url = make_pg_database()
    try:
        _roundtrip_and_compare(url)
    finally:
        drop_pg_database(url)


def test_sqlite_upgrade_downgrade_upgrade_without_drift(tmp_path: Path) -> None:
    _roundtrip_and_compare(f"sqlite:///{tmp_path / 'db.sqlite3'}")


@pytest.mark.parametrize(
    "table",
    [
        "jobs",
        "job_events",
        "artifacts",
        "models",
        "nodes",
        "datasets",
        "sketches",
        "partitions",
        "assemblies",
    ],
)
def test_tables_exist_after_upgrade(tmp_path: Path, table: str) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    assert table in inspect(engine).get_table_names()
    engine.dispose()

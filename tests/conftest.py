"""Fixtures shared by the whole suite.

Data rule: tests that need the full Fashion-MNIST file use ``fashion_npz``; it is found beside the
checkout (``../shared/datasets``). When absent the test skips, unless ``REASSEMBLY_REQUIRE_SHARED=1``
(CI sets it), in which case it fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED_FASHION = ROOT.parent / "shared" / "datasets" / "fashion_mnist.npz"


@pytest.fixture(scope="session")
def fashion_npz() -> Path:
    if SHARED_FASHION.exists():
        return SHARED_FASHION
    why = f"the full Fashion-MNIST file is not at {SHARED_FASHION}"
    if os.environ.get("REASSEMBLY_REQUIRE_SHARED") == "1":
        pytest.fail(f"{why}, and REASSEMBLY_REQUIRE_SHARED=1 makes that a failure")
    pytest.skip(why)


# ---------------------------------------------------------------------------------------------
# Real services: PostgreSQL and Redis on loopback (make test starts them; see scripts/services.sh).

PG_ADMIN_URL = os.environ.get("REASSEMBLY_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_TEST_URL = os.environ.get("REASSEMBLY_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")


def redis_test_db(offset: int) -> str:
    """The Redis URL ``offset`` databases after ``REDIS_TEST_URL``'s, so that fixtures needing their own
    broker never share one; moving ``REASSEMBLY_TEST_REDIS_URL`` moves them all (parallel runs)."""
    base, db = REDIS_TEST_URL.rsplit("/", 1)
    return f"{base}/{int(db) + offset}"


def make_pg_database() -> str:
    """Create an empty PostgreSQL database for this test run and return its URL."""
    import secrets

    from sqlalchemy import create_engine, text

    name = f"reassembly_t_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    from core.store.db import engine_for

    engine_for.cache_clear()
    name = url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    url = make_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    client.close()
    return REDIS_TEST_URL


@pytest.fixture(scope="session")
def service_settings(pg_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Distributed-mode settings: PostgreSQL + Redis, artifacts in a temporary folder."""
    from core.store.migrate import upgrade

    data = tmp_path_factory.mktemp("service")
    upgrade(pg_url)
    return Settings(database_url=pg_url, broker_url=redis_url, data_dir=data, lease_seconds=3.0)


@pytest.fixture(scope="session")
def client(service_settings: Settings) -> Iterator[TestClient]:
    from api.main import create_app

    with TestClient(create_app(service_settings)) as c:
        yield c


@pytest.fixture(scope="session")
def tiny_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's zoo trained for seconds on the bundled Fashion-MNIST subset (real data)."""
    from core.zoo.data import bundled_subset_path
    from core.zoo.train import TINY, train_zoo

    out = tmp_path_factory.mktemp("tiny-zoo")
    train_zoo(
        bundled_subset_path(),
        out,
        epochs=TINY.epochs,
        max_train_images=TINY.max_train_images,
        max_eval_images=TINY.max_eval_images,
        batch_size=TINY.batch_size,
        seed=0,
        threads=1,  # restored after the call; one thread is far faster on a shared 2-core machine
    )
    return out

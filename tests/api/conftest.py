"""A live service for API tests whose endpoints wait on jobs: PostgreSQL, Redis and one real worker."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from core.settings import Settings
from core.store.migrate import upgrade
from tests.conftest import REDIS_TEST_URL, drop_pg_database, make_pg_database
from tests.system.processes import reassembly, service_env, start, stop


@dataclass
class LiveService:
    client: TestClient
    settings: Settings
    worker_log: Path


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    db_url = make_pg_database()
    upgrade(db_url)
    broker = REDIS_TEST_URL.rsplit("/", 1)[0] + "/12"
    redis.Redis.from_url(broker).flushdb()
    data = tmp_path_factory.mktemp("live")
    settings = Settings(database_url=db_url, broker_url=broker, data_dir=data)
    env = service_env(
        REASSEMBLY_DATABASE_URL=db_url, REASSEMBLY_BROKER_URL=broker, REASSEMBLY_DATA_DIR=str(data)
    )
    log = data / "worker.log"
    worker = start(reassembly("worker", "--pool", "threads", "--concurrency", "2"), env, log)
    from api.main import create_app

    try:
        with TestClient(create_app(settings, migrate=False)) as client:
            yield LiveService(client, settings, log)
    finally:
        stop(worker)
        drop_pg_database(db_url)

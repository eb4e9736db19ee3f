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
from tests.conftest import drop_pg_database, make_pg_database, redis_test_db
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
    broker = redis_test_db(1)
    redis.Redis.from_url(broker).flushdb()
    data = tmp_path_factory.mktemp("live")
    settings = Settings(database_url=db_url, broker_url=broker, data_dir=data)
    env = service_env(
        REASSEMBLY_DATABASE_URL=db_url, REASSEMBLY_BROKER_URL=broker, REASSEMBLY_DATA_DIR=str(data)
    )
    log = data / "worker.log"
    worker = start(reassembly("worker", "--pool", "prefork", "--concurrency", "2"), env, log)
    from api.main import create_app

    try:
        with TestClient(create_app(settings, migrate=False)) as client:
            yield LiveService(client, settings, log)
    finally:
        stop(worker)
        drop_pg_database(db_url)


def wait_job(live: LiveService, job_id: str, timeout: float = 600) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = live.client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return dict(job)
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish; worker log:\n{live.worker_log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def zoo_models(live: LiveService, tiny_zoo: Path) -> list[dict]:
    """The tiny trained zoo registered (safetensors uploads) and dissected in the live service."""
    from cli.zoo_client import register_zoo

    models = register_zoo(live.client, tiny_zoo, prefix="zoo-")
    jobs = [live.client.post(f"/v1/models/{m['id']}/dissect").json()["id"] for m in models]
    for job_id in jobs:
        assert wait_job(live, job_id)["status"] == "succeeded"
    return models


@pytest.fixture(scope="session")
def fashion_dataset(live: LiveService) -> dict:
    from core.zoo.data import bundled_subset_path

    with open(bundled_subset_path(), "rb") as f:
        r = live.client.post(
            "/v1/datasets", files={"file": ("fashion.npz", f)}, data={"name": "fashion-subset"}
        )
    assert r.status_code == 201, r.text
    return dict(r.json())

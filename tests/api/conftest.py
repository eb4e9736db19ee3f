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


@pytest.fixture(scope="session")
def live_url(live: LiveService) -> Iterator[str]:
    """The live service on a real loopback port, for clients that speak HTTP (the CLI, a browser)."""
    import threading
    import time

    import uvicorn

    from api.main import create_app
    from tests.system.processes import free_port

    port = free_port()
    config = uvicorn.Config(
        create_app(live.settings, migrate=False), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


MDA_A, MDA_B = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)


@pytest.fixture(scope="session")
def mda_models(live: LiveService, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """name → registered model: vgg_A, vgg_B (vgg_mda on A = classes 0–4, on B = 5–9) and resnet_A
    (resnet_mda on A), for the Model LEGO tests. The tiny zoo is not used there: trained for one
    epoch on 192 images its models predict one class, and a component needs correctly classified
    images of every class it keeps. Two epochs on 1,000 images each: about 10 s on one thread."""
    from cli.zoo_client import register_zoo
    from core.zoo.data import bundled_subset_path
    from core.zoo.train import ZooRecipe, train_zoo

    out = tmp_path_factory.mktemp("mda-zoo")
    recipes = [
        ZooRecipe("vgg_A", "vgg_mda", classes=MDA_A, seed_offset=1),
        ZooRecipe("vgg_B", "vgg_mda", classes=MDA_B, seed_offset=2),
        ZooRecipe("resnet_A", "resnet_mda", classes=MDA_A, seed_offset=3),
    ]
    train_zoo(
        bundled_subset_path(), out, epochs=2, max_train_images=1000, max_eval_images=200,
        seed=0, threads=1, recipes=recipes,
    )  # fmt: skip
    return {m["name"].removeprefix("mda-"): m for m in register_zoo(live.client, out, prefix="mda-")}

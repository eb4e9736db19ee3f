"""A job and the resource it works on agree however the job ends, with real processes over HTTP.

The API and Celery workers run as processes on PostgreSQL + Redis, on the tiny trained zoo:
- a partition whose worker is SIGKILLed on every attempt fails, job and partition, with
  ``worker_lost`` once ``max_attempts`` is spent;
- a partition cancelled while it runs ends ``cancelled`` and the partition says so;
- two partitions racing to compute the same sketches both succeed.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

import httpx
import pytest
import redis

from cli.zoo_client import register_zoo
from core.store.migrate import upgrade
from tests.conftest import drop_pg_database, make_pg_database, redis_test_db
from tests.system.processes import reassembly, service_env, start, start_api, stop

pytestmark = pytest.mark.system

PROBE = {"k": 3, "epsilon": 0.5, "restarts": 20, "probe_images": 512, "batch_size": 32}
MAX_ATTEMPTS = 2


@dataclass
class Service:
    client: httpx.Client
    env: dict[str, str]
    logs: Path
    model_ids: list[str]
    dataset_id: str
    workers: list[Popen[bytes]] = field(default_factory=list)

    def worker(self) -> Popen[bytes]:
        n = len(self.workers)
        cmd = reassembly("worker", "--queues", "cpu,gpu", "--concurrency", "2")
        self.workers.append(start(cmd, self.env, self.logs / f"worker{n}.log"))
        return self.workers[-1]

    def partition(self, seed: int) -> dict:
        body = {"model_ids": self.model_ids, "probe_dataset_id": self.dataset_id, **PROBE, "seed": seed}
        r = self.client.post("/v1/partitions", json=body)
        assert r.status_code == 202, r.text
        return dict(r.json())

    def job(self, job_id: str) -> dict:
        return dict(self.client.get(f"/v1/jobs/{job_id}").json())

    def wait(self, job_id: str, *, until: tuple[str, ...], timeout: float = 180) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if job["status"] in until:
                return job
            time.sleep(0.05)
        logs = "\n".join(p.read_text()[-2000:] for p in sorted(self.logs.glob("worker*.log")))
        raise AssertionError(f"job {job_id} never reached {until}: {self.job(job_id)}\n{logs}")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, tiny_zoo: Path) -> Iterator[Service]:
    from core.zoo.data import bundled_subset_path

    logs = tmp_path_factory.mktemp("job-faults")
    db_url = make_pg_database()
    upgrade(db_url)
    broker = redis_test_db(3)
    redis.Redis.from_url(broker).flushdb()
    env = service_env(
        REASSEMBLY_DATABASE_URL=db_url,
        REASSEMBLY_BROKER_URL=broker,
        REASSEMBLY_DATA_DIR=str(logs / "data"),
        REASSEMBLY_LEASE_SECONDS="3",
        REASSEMBLY_REAPER_INTERVAL_SECONDS="1",
        REASSEMBLY_MAX_ATTEMPTS=str(MAX_ATTEMPTS),
        OMP_NUM_THREADS="1",
    )
    api, base = start_api(env, logs / "api.log")
    client = httpx.Client(base_url=base, timeout=180)
    service = Service(client, env, logs, [], "")
    try:
        service.worker()
        models = register_zoo(client, tiny_zoo, prefix="faults-")[:3]
        for m in models:
            job = client.post(f"/v1/models/{m['id']}/dissect").json()
            assert service.wait(job["id"], until=("succeeded", "failed"))["status"] == "succeeded"
        with open(bundled_subset_path(), "rb") as f:
            r = client.post("/v1/datasets", files={"file": ("probe.npz", f)}, data={"name": "probe"})
        assert r.status_code == 201, r.text
        service.model_ids, service.dataset_id = [m["id"] for m in models], r.json()["id"]
        yield service
    finally:
        for w in service.workers:
            stop(w)
        stop(api)
        client.close()
        drop_pg_database(db_url)


def _kill_when_running(service: Service, job_id: str, attempt: int) -> None:
    """SIGKILL every worker (with its pool children) once the job's ``attempt``-th claim is running."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = service.job(job_id)
        if job["status"] == "running" and job["attempts"] == attempt:
            break
        assert job["status"] in ("queued", "running"), job
        time.sleep(0.02)
    else:
        raise AssertionError(f"attempt {attempt} of job {job_id} was never seen running")
    for w in service.workers:
        if w.poll() is None:
            os.killpg(w.pid, signal.SIGKILL)
            w.wait(timeout=10)


def test_a_partition_whose_worker_dies_every_time_fails_with_worker_lost(service: Service) -> None:
    part = service.partition(seed=11)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        _kill_when_running(service, part["job"]["id"], attempt)
        service.worker()  # its reaper finds the lapsed lease and re-sends the job
    job = service.wait(part["job"]["id"], until=("succeeded", "failed", "cancelled"))
    row = service.client.get(f"/v1/partitions/{part['id']}").json()
    print(f"\nSIGKILL × {MAX_ATTEMPTS}: job {job['status']} ({job['error_code']}), partition {row['status']}")
    assert job["status"] == "failed" and job["error_code"] == "worker_lost", job
    assert job["attempts"] == MAX_ATTEMPTS
    assert row["status"] == "failed" and row["error"]["code"] == "worker_lost", row
    assert "worker" in row["error"]["message"]


def test_cancelling_a_running_partition_leaves_it_failed_as_cancelled(service: Service) -> None:
    part = service.partition(seed=12)
    job_id = part["job"]["id"]
    service.wait(job_id, until=("running",))
    r = service.client.post(f"/v1/jobs/{job_id}/cancel")
    assert r.status_code == 200, r.text
    job = service.wait(job_id, until=("succeeded", "failed", "cancelled"))
    row = service.client.get(f"/v1/partitions/{part['id']}").json()
    assert job["status"] == "cancelled", job
    assert row["status"] == "failed" and row["error"]["code"] == "cancelled", row


def test_two_partitions_racing_for_the_same_sketches_both_succeed(service: Service) -> None:
    first, second = service.partition(seed=13), service.partition(seed=13)  # the same sketches
    jobs = [service.wait(p["job"]["id"], until=("succeeded", "failed", "cancelled")) for p in (first, second)]
    assert [j["status"] for j in jobs] == ["succeeded", "succeeded"], jobs
    for p in (first, second):
        assert service.client.get(f"/v1/partitions/{p['id']}").json()["status"] == "done"

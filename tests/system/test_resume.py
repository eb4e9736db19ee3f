"""Training survives a dead worker (issue 13, done-when 3), for real: the API and Celery workers
against PostgreSQL + Redis, the project's trained tiny zoo, an assembly with 3 epochs of FZ training.

The worker running the job is SIGKILLed (with its pool children) once the job reports that epoch 1
ended, i.e. during epoch 2; a second worker picks the job up when the lease lapses and continues
the training from the epoch-1 checkpoint. The job succeeds once, its result says
``resumed_from_epoch = 1``, the trained network's history has all 3 epochs, and the job leaves
one archive artifact and no checkpoint behind.
"""

from __future__ import annotations

import io
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import redis
from sqlalchemy import select

from cli.zoo_client import register_zoo
from core.store.db import session_factory
from core.store.migrate import upgrade
from core.store.models import Artifact, AssemblyRow, Job, JobEvent
from tests.conftest import drop_pg_database, make_pg_database, redis_test_db
from tests.system.processes import free_port, reassembly, service_env, start, stop, wait_ready

pytestmark = pytest.mark.system

EPOCHS = 3


def _wait(base: str, job_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = httpx.get(f"{base}/v1/jobs/{job_id}", timeout=10).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return dict(job)
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def _ok(r: httpx.Response, code: int) -> dict[str, Any]:
    assert r.status_code == code, r.text
    return dict(r.json())


def test_fz_training_resumes_from_its_checkpoint_after_the_worker_is_killed(
    tiny_zoo: Path, tmp_path: Path
) -> None:
    db_url = make_pg_database()
    upgrade(db_url)
    broker = redis_test_db(2)
    redis.Redis.from_url(broker).flushdb()
    env = service_env(
        REASSEMBLY_DATABASE_URL=db_url,
        REASSEMBLY_BROKER_URL=broker,
        REASSEMBLY_DATA_DIR=str(tmp_path),
        REASSEMBLY_LEASE_SECONDS="3",
        REASSEMBLY_REAPER_INTERVAL_SECONDS="1",
        REASSEMBLY_DEVICE="auto",
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    api = start(reassembly("api", "--host", "127.0.0.1", "--port", str(port)), env, tmp_path / "api.log")
    worker_cmd = reassembly("worker", "--queues", "cpu,gpu", "--concurrency", "1")
    victim = start(worker_cmd, env, tmp_path / "w0.log")
    survivor = None
    sessions = session_factory(db_url)
    try:
        wait_ready(base, api, tmp_path / "api.log")
        with httpx.Client(base_url=base, timeout=120) as client:
            models = register_zoo(client, tiny_zoo, prefix="zoo-")[:2]  # resnet_fmnist, vgg_fmnist
            for m in models:
                job = _ok(client.post(f"/v1/models/{m['id']}/dissect"), 202)
                assert _wait(base, job["id"], 300)["status"] == "succeeded"
            from core.zoo.data import bundled_subset_path

            with open(bundled_subset_path(), "rb") as f:
                data = _ok(client.post("/v1/datasets", files={"file": ("f.npz", f)}, data={"name": "f"}), 201)
            part = _ok(client.post("/v1/partitions", json={
                "model_ids": [m["id"] for m in models], "probe_dataset_id": data["id"], "k": 2,
                "epsilon": 0.5, "restarts": 5, "probe_images": 128, "batch_size": 32,
            }), 202)  # fmt: skip
            assert _wait(base, part["job"]["id"], 300)["status"] == "succeeded"
            asm = _ok(client.post("/v1/assemblies", json={
                "partition_id": part["id"], "target_dataset_id": data["id"],
                "constraints": {"max_params": 50_000_000}, "candidates": 1, "pool_size": 4,
                "probe_images": 64, "fit_images": 2000, "heldout_images": 200,
                # small batches: an epoch lasts long enough to be killed in
                "training": {"mode": "frozen", "epochs": EPOCHS, "batch_size": 8, "lr": 1e-3},
            }), 202)  # fmt: skip
        job_id = asm["job"]["id"]

        # Kill the worker while it trains epoch 2: epoch 1's report comes after its checkpoint.
        first = _wait_for_message(sessions, job_id, f"epoch 1/{EPOCHS}: loss", timeout=600)
        first_seen = time.monotonic()
        os.killpg(victim.pid, signal.SIGKILL)
        killed_after = time.monotonic() - first_seen
        victim.wait(timeout=10)
        with sessions() as s:
            seen = [e.message for e in s.scalars(select(JobEvent).where(JobEvent.job_id == job_id))]
        assert not any(m.startswith(f"epoch 2/{EPOCHS}:") and "loss" in m for m in seen), (
            "epoch 2 ended before the worker was killed; the test needs longer epochs"
        )
        checkpoint = tmp_path / "checkpoints" / job_id / "finalist-0.safetensors"
        assert checkpoint.is_file()
        survivor = start(worker_cmd, env, tmp_path / "w1.log")
        job = _wait(base, job_id, 900)
        assert job["status"] == "succeeded", job
        assert job["result"]["resumed_from_epoch"] == 1, job["result"]

        with sessions() as s:
            events = list(s.scalars(select(JobEvent).where(JobEvent.job_id == job_id)))
            row = s.get(Job, job_id)
            assert row is not None and row.attempts == 2
            assembly = s.get(AssemblyRow, asm["id"])
            assert assembly is not None and assembly.result is not None
            result = assembly.result
            artifacts = list(s.scalars(select(Artifact).where(Artifact.filename == f"{asm['id']}.zip")))
        resumed_at = next(e.created_at for e in events if e.attempt == 2 and "resumed" in e.message)
        epoch2 = next(
            e.created_at for e in events if e.attempt == 2 and e.message.startswith("epoch 2/3: loss")
        )
        print(
            f"\nresume test: killed {killed_after:.2f} s after epoch 1 was reported; epoch 2 took "
            f"{(epoch2 - resumed_at).total_seconds():.2f} s on the second worker"
        )
        assert sum(e.event == "succeeded" for e in events) == 1
        assert any(
            e.attempt == 2 and "resumed finalist-0 from its epoch 1 checkpoint" in e.message for e in events
        )
        assert result["resumed_from_epoch"] == 1
        history = result["candidates"][0]["training"]
        assert [h["epoch"] for h in history] == list(range(EPOCHS + 1))
        assert history[0]["resumed_from_epoch"] == 1
        assert all(np.isfinite(h["loss"]) for h in history[1:])
        # epoch 1 was trained by the killed worker, 2 and 3 by the survivor
        assert first.attempt == 1
        assert len(artifacts) == 1 and assembly.checkpoint_artifact_id == artifacts[0].id
        assert not (tmp_path / "checkpoints" / job_id).exists()
        with httpx.Client(base_url=base, timeout=120) as client:
            archive = client.get(f"/v1/assemblies/{asm['id']}/checkpoint")
            assert archive.status_code == 200
        import zipfile

        with zipfile.ZipFile(io.BytesIO(archive.content)) as zf:
            assert "model.safetensors" in zf.namelist()
    finally:
        for p in (victim, survivor, api):
            if p is not None:
                stop(p)
        drop_pg_database(db_url)


def _wait_for_message(sessions, job_id: str, prefix: str, timeout: float) -> JobEvent:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sessions() as s:
            hit = s.scalars(
                select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.message.startswith(prefix))
            ).first()
            if hit is not None:
                s.expunge(hit)
                return hit
            failed = s.get(Job, job_id)
            assert failed is None or failed.status not in ("failed", "cancelled"), failed.error_message
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reported {prefix!r}")

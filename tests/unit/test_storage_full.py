"""Fault (c): the artifact store on a full filesystem (a real 2 MiB tmpfs, mounted for the test).

A write that does not fit is ``StorageFull`` — 507 ``storage_full`` for an upload, a job failed with
``storage_full`` for a worker write — and leaves no partial blob, temporary file or artifact row.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis
from fastapi.testclient import TestClient

from core.errors import StorageFull
from core.settings import Settings
from core.store.artifacts import LocalArtifactStore
from tests.conftest import redis_test_db

TMPFS_BYTES = 2 * 1024 * 1024


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A directory on its own 2 MiB tmpfs (we run as root in the test environment)."""
    if os.geteuid() != 0:
        why = "mounting a tmpfs needs root; run the fault tests as root (make test does)"
        pytest.fail(why) if os.environ.get("CI") else pytest.skip(why)  # CI never skips it
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"could not mount a tmpfs at {mount}: {done.stderr}"
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_write_that_does_not_fit_is_storage_full_and_leaves_nothing(full_disk: Path) -> None:
    store = LocalArtifactStore(full_disk / "artifacts")
    small, _ = store.put_bytes(b"fits")  # the store works before the disk fills
    too_big = os.urandom(3 * 1024 * 1024)
    with pytest.raises(StorageFull) as caught:
        store.put_bytes(too_big)
    assert caught.value.code == "storage_full"
    assert "storage is full" in caught.value.message and "operator" in caught.value.message
    assert caught.value.details["errno"] == "ENOSPC"
    with pytest.raises(StorageFull):
        store.put_stream(io.BytesIO(too_big))
    assert _files(full_disk) == [f"artifacts/{small[:2]}/{small[2:4]}/{small}"]  # no partial, no temp
    assert store.read_bytes(small) == b"fits"
    again, _ = store.put_bytes(b"still works")  # the failure left room for the next write
    assert store.read_bytes(again) == b"still works"


def _npz(nbytes: int) -> bytes:
    rng = np.random.default_rng(0)
    n = nbytes // 64
    buf = io.BytesIO()
    np.savez(buf, images=rng.integers(0, 256, (n, 8, 8), dtype=np.uint8), labels=np.arange(n) % 2)
    return buf.getvalue()


@pytest.fixture
def full_service(full_disk: Path, pg_url: str, tmp_path: Path) -> Iterator[TestClient]:
    from api.main import create_app
    from core.store.migrate import upgrade

    broker = redis_test_db(2)
    redis.Redis.from_url(broker).flushdb()
    upgrade(pg_url)
    settings = Settings(
        database_url=pg_url,
        broker_url=broker,
        data_dir=tmp_path / "data",
        artifact_root=full_disk / "artifacts",
    )
    with TestClient(create_app(settings, migrate=False)) as client:
        yield client


def test_an_upload_to_a_full_store_is_507_and_lists_nothing(
    full_service: TestClient, full_disk: Path
) -> None:
    r = full_service.post(
        "/v1/datasets", files={"file": ("big.npz", _npz(3 * 1024 * 1024))}, data={"name": "too-big-for-disk"}
    )
    assert r.status_code == 507, r.text
    error = r.json()["error"]
    assert error["code"] == "storage_full" and "try again later" in error["message"], error
    listed = full_service.get("/v1/datasets").json()["items"]
    assert "too-big-for-disk" not in {d["name"] for d in listed}
    assert _files(full_disk) == []  # no partial blob, no temporary file
    ok = full_service.post("/v1/datasets", files={"file": ("s.npz", _npz(4096))}, data={"name": "small-fits"})
    assert ok.status_code == 201, ok.text  # the service keeps serving


def test_a_worker_write_to_a_full_store_fails_the_job_with_storage_full(full_disk: Path, pg_url: str) -> None:
    """The real runner and registration handler (no Celery): the model's weights do not fit."""
    from sqlalchemy import func, select

    from core.store.db import session_factory
    from core.store.ids import new_id
    from core.store.jobs import create_job
    from core.store.migrate import upgrade
    from core.store.models import Artifact, Job, Model
    from worker.handlers import HANDLERS
    from worker.runner import run_job

    upgrade(pg_url)
    # Fill the tmpfs to ~16 KiB from the top, so that even test_resnet's weights cannot fit.
    ballast = full_disk / "ballast"
    with open(ballast, "wb") as f, contextlib.suppress(OSError):
        f.write(b"\0" * (TMPFS_BYTES - 16 * 1024))
    settings = Settings(
        database_url=pg_url, data_dir=full_disk.parent / "wdata", artifact_root=full_disk / "artifacts"
    )
    sessions = session_factory(pg_url)
    with sessions() as s:
        before = s.scalar(select(func.count()).select_from(Artifact))
        model = Model(
            id=new_id("mdl"), name=f"full-{new_id('x')}", owner="anonymous", architecture="test_resnet",
            source="timm", num_classes=0, input_size=[], mean=[], std=[], status="pending",
        )  # fmt: skip
        s.add(model)
        job, _ = create_job(
            s, kind="register_model", queue="cpu", params={"model_id": model.id}, owner="anonymous",
            subject_id=model.id,
        )  # fmt: skip
        s.commit()
        job_id, model_id = job.id, model.id
    run_job(job_id, settings, HANDLERS)
    with sessions() as s:
        done = s.get(Job, job_id)
        assert done is not None and done.status == "failed", done.status if done else None
        assert done.error_code == "storage_full", (done.error_code, done.error_message)
        assert "storage is full" in (done.error_message or "")
        row = s.get(Model, model_id)
        assert row is not None and row.status == "failed" and row.weights_artifact_id is None
        assert s.scalar(select(func.count()).select_from(Artifact)) == before  # no artifact row
    assert _files(full_disk) == ["ballast"]  # no partial blob or temporary file

"""The whole service on the S3 backend: the API and a real worker process both configured with
``REASSEMBLY_ARTIFACT_URL`` pointing at moto's S3 server on loopback. An uploaded model's weights go
through the API's spool into the bucket, the worker's registration job reads them from there, and the
download streams them back byte-identical; no blob is written to a local artifact directory."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import timm
import torch
from fastapi.testclient import TestClient
from safetensors.torch import save as save_safetensors

from core.settings import Settings
from core.store.artifacts import open_store
from core.store.migrate import upgrade
from core.store.s3 import S3ArtifactStore
from tests.conftest import drop_pg_database, make_pg_database, redis_test_db
from tests.s3server import AWS_ENV, aws_env, make_bucket, moto_server, s3_url
from tests.system.processes import reassembly, service_env, start, stop


@dataclass
class S3Service:
    client: TestClient
    settings: Settings
    store: S3ArtifactStore
    worker_data: Path
    worker_log: Path


@pytest.fixture(scope="module")
def s3_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Service]:
    tmp = tmp_path_factory.mktemp("s3-service")
    with aws_env(), moto_server(tmp / "moto.log") as endpoint:
        url = s3_url(endpoint, make_bucket(endpoint), "artifacts")
        db_url = make_pg_database()
        upgrade(db_url)
        broker = redis_test_db(2)
        redis.Redis.from_url(broker).flushdb()
        worker_data = tmp / "worker-data"
        env = service_env(
            REASSEMBLY_DATABASE_URL=db_url,
            REASSEMBLY_BROKER_URL=broker,
            REASSEMBLY_DATA_DIR=str(worker_data),
            REASSEMBLY_ARTIFACT_URL=url,
            **AWS_ENV,
        )
        log = tmp / "worker.log"
        worker = start(reassembly("worker", "--pool", "solo"), env, log)
        settings = Settings(
            database_url=db_url, broker_url=broker, data_dir=tmp / "api-data", artifact_url=url
        )
        from api.main import create_app

        try:
            with TestClient(create_app(settings, migrate=False)) as client:
                store = open_store(settings)
                assert isinstance(store, S3ArtifactStore)
                yield S3Service(client, settings, store, worker_data, log)
        finally:
            stop(worker)
            drop_pg_database(db_url)


def _local_blobs(folder: Path) -> list[str]:
    return (
        sorted(str(p) for p in folder.rglob("*") if p.is_file() and len(p.name) == 64)
        if folder.exists()
        else []
    )


def test_uploaded_weights_go_through_s3_to_the_worker_and_back(s3_service: S3Service) -> None:
    svc = s3_service
    torch.manual_seed(5)
    net = timm.create_model("test_resnet", num_classes=4)
    blob = save_safetensors({k: v.contiguous() for k, v in net.state_dict().items()})
    sha = hashlib.sha256(blob).hexdigest()
    r = svc.client.post(
        "/v1/models:upload",
        files={"weights": ("w.safetensors", io.BytesIO(blob), "application/octet-stream")},
        data={
            "name": "s3-upload",
            "architecture": "test_resnet",
            "num_classes": "4",
            "input_size": "[3, 64, 64]",
        },
    )
    log = svc.worker_log.read_text()[-3000:] if svc.worker_log.exists() else ""
    assert r.status_code == 201, f"{r.text}\nworker log:\n{log}"
    model = r.json()
    assert model["status"] == "ready", model  # the worker read the weights from the bucket
    assert svc.store.exists(sha)
    head = svc.store.client.head_object(Bucket=svc.store.bucket, Key=f"artifacts/{sha[:2]}/{sha[2:4]}/{sha}")
    assert head["ContentLength"] == len(blob)
    weights = svc.client.get(f"/v1/models/{model['id']}/weights")
    assert weights.status_code == 200 and weights.content == blob
    part = svc.client.get(f"/v1/models/{model['id']}/weights", headers={"Range": "bytes=8-1031"})
    assert part.status_code == 206 and part.content == blob[8:1032]
    # Nothing of it lives in a local artifact directory, of the API or of the worker.
    assert _local_blobs(svc.settings.resolved_data_dir) == []
    assert _local_blobs(svc.worker_data) == []

"""Artifact downloads stream with ETag (sha256), Content-Length and Range — on both artifact backends:
the local directory and S3 (a real moto server on loopback, ``tests/s3server.py``)."""

from __future__ import annotations

import hashlib
import io
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from core.store.artifacts import ArtifactStore, LocalArtifactStore, open_store, record_artifact
from core.store.db import session_factory
from core.store.s3 import S3ArtifactStore
from tests.s3server import aws_env, make_bucket, moto_server, s3_url


@dataclass
class Backend:
    name: str
    client: TestClient
    settings: Settings
    store: ArtifactStore


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with aws_env(), moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as endpoint:
        yield endpoint


@pytest.fixture(scope="module", params=["local", "s3"])
def backend(
    request: pytest.FixtureRequest, service_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    """The service with each artifact backend; the S3 one is an app configured by
    ``REASSEMBLY_ARTIFACT_URL`` pointing at the loopback server, on the same database."""
    if request.param == "local":
        client = request.getfixturevalue("client")
        yield Backend("local", client, service_settings, open_store(service_settings))
        return
    endpoint = request.getfixturevalue("s3_endpoint")
    url = s3_url(endpoint, make_bucket(endpoint), "artifacts")
    settings = service_settings.model_copy(
        update={"artifact_url": url, "data_dir": tmp_path_factory.mktemp("s3-service")}
    )
    from api.main import create_app

    with TestClient(create_app(settings, migrate=False)) as client:
        yield Backend("s3", client, settings, open_store(settings))


def _stored(backend: Backend, data: bytes) -> str:
    store = backend.store
    sha, size = store.put_bytes(data)
    if isinstance(store, LocalArtifactStore):
        assert store.path_for(sha).is_relative_to(backend.settings.resolved_artifact_root)
    with session_factory(backend.settings.resolved_database_url)() as s:
        art = record_artifact(
            s, sha, size, owner="anonymous", media_type="application/octet-stream", filename="blob.bin"
        )
        s.commit()
        return art.id


def test_full_range_and_conditional_download(backend: Backend) -> None:
    client = backend.client
    data = os.urandom(3 * 1024 * 1024 + 17)
    art = _stored(backend, data)
    full = client.get(f"/v1/artifacts/{art}")
    assert full.status_code == 200 and full.content == data
    assert full.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert int(full.headers["content-length"]) == len(data)
    part = client.get(f"/v1/artifacts/{art}", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    tail = client.get(f"/v1/artifacts/{art}", headers={"Range": "bytes=-10"})
    assert tail.content == data[-10:]
    across = client.get(f"/v1/artifacts/{art}", headers={"Range": f"bytes=1048570-{len(data) + 99}"})
    assert across.status_code == 206 and across.content == data[1048570:]
    bad = client.get(f"/v1/artifacts/{art}", headers={"Range": f"bytes={len(data)}-"})
    assert bad.status_code == 416
    cached = client.get(f"/v1/artifacts/{art}", headers={"If-None-Match": full.headers["etag"]})
    assert cached.status_code == 304


def test_same_content_is_stored_once(backend: Backend) -> None:
    assert _stored(backend, b"same bytes") == _stored(backend, b"same bytes")
    sha = hashlib.sha256(b"same bytes").hexdigest()
    assert list(backend.store.iter_shas()).count(sha) == 1


def test_unknown_artifact_is_404(backend: Backend) -> None:
    r = backend.client.get("/v1/artifacts/art_missing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def _npz(n: int = 12) -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    np.savez(buf, images=rng.integers(0, 256, (n, 16, 16), dtype=np.uint8), labels=np.arange(n) % 3)
    return buf.getvalue()


def _spool(backend: Backend) -> list[str]:
    store = backend.store
    folder = store.root if isinstance(store, LocalArtifactStore) else store.spool_dir  # type: ignore[attr-defined]
    return sorted(p.name for p in folder.glob(".incoming-*")) if folder.exists() else []


def test_upload_lands_in_the_store_and_downloads_back(backend: Backend) -> None:
    """End to end: an npz uploaded through the API is parsed from the spool, stored under its sha256
    (in the bucket, for S3), and downloads back byte-identical, whole and by Range."""
    data = _npz()
    sha = hashlib.sha256(data).hexdigest()
    r = backend.client.post(
        "/v1/datasets",
        files={"file": ("d.npz", data, "application/octet-stream")},
        data={"name": f"s3-e2e-{secrets.token_hex(3)}"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["num_images"] == 12
    store = backend.store
    assert store.exists(sha)
    if isinstance(store, S3ArtifactStore):
        head = store.client.head_object(Bucket=store.bucket, Key=f"artifacts/{sha[:2]}/{sha[2:4]}/{sha}")
        assert head["ContentLength"] == len(data)
    art = r.json()["artifact_id"]
    full = backend.client.get(f"/v1/artifacts/{art}")
    assert full.status_code == 200 and full.content == data
    assert full.headers["x-content-sha256"] == sha
    part = backend.client.get(f"/v1/artifacts/{art}", headers={"Range": "bytes=10-99"})
    assert part.status_code == 206 and part.content == data[10:100]
    assert _spool(backend) == []


def test_refused_upload_leaves_no_blob(backend: Backend) -> None:
    junk = b"PK\x03\x04 this is not an npz " + os.urandom(64)
    r = backend.client.post(
        "/v1/datasets", files={"file": ("d.npz", junk)}, data={"name": f"junk-{secrets.token_hex(3)}"}
    )
    assert 400 <= r.status_code < 500, r.text
    assert not backend.store.exists(hashlib.sha256(junk).hexdigest())
    assert _spool(backend) == []


def test_s3_downloads_can_redirect_to_a_presigned_url(
    s3_endpoint: str, service_settings: Settings, tmp_path: Path
) -> None:
    """With REASSEMBLY_ARTIFACT_REDIRECT_DOWNLOADS the API answers 307 to a presigned GET, and the
    S3 server serves the bytes (and the Range) itself."""
    from api.main import create_app

    url = s3_url(s3_endpoint, make_bucket(s3_endpoint), "artifacts")
    settings = service_settings.model_copy(
        update={"artifact_url": url, "artifact_redirect_downloads": True, "data_dir": tmp_path}
    )
    with TestClient(create_app(settings, migrate=False)) as client:
        backend = Backend("s3-redirect", client, settings, open_store(settings))
        data = os.urandom(100_000)
        art = _stored(backend, data)
        r = client.get(f"/v1/artifacts/{art}", follow_redirects=False)
        assert r.status_code == 307 and r.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
        location = r.headers["location"]
        assert location.startswith(s3_endpoint) and "Signature" in location
        direct = httpx.get(location, headers={"Range": "bytes=5-14"})
        assert direct.status_code == 206 and direct.content == data[5:15]
        assert httpx.get(location).content == data

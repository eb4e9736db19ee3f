"""Artifact downloads stream with ETag (sha256), Content-Length and Range."""

from __future__ import annotations

import hashlib
import os

from fastapi.testclient import TestClient

from core.settings import Settings
from core.store.artifacts import LocalArtifactStore, record_artifact
from core.store.db import session_factory


def _stored(settings: Settings, data: bytes) -> str:
    store = LocalArtifactStore(settings.resolved_artifact_root)
    sha, size = store.put_bytes(data)
    assert store.path_for(sha).is_relative_to(settings.resolved_artifact_root)
    with session_factory(settings.resolved_database_url)() as s:
        art = record_artifact(
            s, sha, size, owner="anonymous", media_type="application/octet-stream", filename="blob.bin"
        )
        s.commit()
        return art.id


def test_full_range_and_conditional_download(client: TestClient, service_settings: Settings) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    art = _stored(service_settings, data)
    full = client.get(f"/v1/artifacts/{art}")
    assert full.status_code == 200 and full.content == data
    assert full.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert int(full.headers["content-length"]) == len(data)
    part = client.get(f"/v1/artifacts/{art}", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    tail = client.get(f"/v1/artifacts/{art}", headers={"Range": "bytes=-10"})
    assert tail.content == data[-10:]
    bad = client.get(f"/v1/artifacts/{art}", headers={"Range": f"bytes={len(data)}-"})
    assert bad.status_code == 416
    cached = client.get(f"/v1/artifacts/{art}", headers={"If-None-Match": full.headers["etag"]})
    assert cached.status_code == 304


def test_same_content_is_stored_once(service_settings: Settings) -> None:
    assert _stored(service_settings, b"same bytes") == _stored(service_settings, b"same bytes")


def test_unknown_artifact_is_404(client: TestClient) -> None:
    r = client.get("/v1/artifacts/art_missing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"

"""The artifact store's contract, run on both backends: the local directory and S3 (a real moto server
on loopback). put/get/range/missing/size limit/dedup/delete/listing, spooled uploads, and the URL
that selects the backend."""

from __future__ import annotations

import hashlib
import io
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.errors import InvalidInput, NotFound, PayloadTooLarge
from core.settings import Settings
from core.store.artifacts import ArtifactStore, LocalArtifactStore, open_store
from core.store.s3 import MULTIPART_THRESHOLD, S3ArtifactStore
from tests.s3server import aws_env, make_bucket, moto_server, s3_url

MISSING = "0" * 64


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with aws_env(), moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def bucket(s3_endpoint: str) -> str:
    return make_bucket(s3_endpoint)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    """A fresh, empty store of each backend, built by ``open_store`` from settings as the service does."""
    if request.param == "local":
        settings = Settings(data_dir=tmp_path)
        made = open_store(settings)
        assert isinstance(made, LocalArtifactStore)
        return made
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("bucket")
    url = s3_url(endpoint, bucket, f"test/{secrets.token_hex(4)}")
    made = open_store(Settings(data_dir=tmp_path, artifact_url=url))
    assert isinstance(made, S3ArtifactStore)
    return made


def _spool_files(store: ArtifactStore) -> list[str]:
    folder = store.root if isinstance(store, LocalArtifactStore) else store.spool_dir  # type: ignore[attr-defined]
    return sorted(p.name for p in folder.glob(".incoming-*")) if folder.exists() else []


def test_put_then_read_and_layout(store: ArtifactStore) -> None:
    data = b"hello artifacts"
    sha, size = store.put_bytes(data)
    assert sha == hashlib.sha256(data).hexdigest() and size == len(data)
    assert store.read_bytes(sha) == data
    assert store.exists(sha)
    if isinstance(store, LocalArtifactStore):
        assert store.path_for(sha) == store.root / sha[:2] / sha[2:4] / sha
    else:
        assert isinstance(store, S3ArtifactStore)
        key = store.key_for(sha)
        assert key == f"{store.prefix}/{sha[:2]}/{sha[2:4]}/{sha}"
        head = store.client.head_object(Bucket=store.bucket, Key=key)
        assert head["ContentLength"] == len(data)


def test_stream_large_upload_and_ranges(store: ArtifactStore) -> None:
    data = os.urandom(MULTIPART_THRESHOLD + 3 * 1024 * 1024 + 5)  # S3: a multipart upload
    sha, size = store.put_stream(io.BytesIO(data), max_bytes=len(data))
    assert size == len(data) and sha == hashlib.sha256(data).hexdigest()
    assert store.read_bytes(sha) == data
    n = len(data)
    for start, end in [(0, 0), (0, n - 1), (100, 199), (n - 10, n - 1), (1024 * 1024 - 3, 5 * 1024 * 1024)]:
        assert b"".join(store.iter_range(sha, start, end)) == data[start : end + 1], (start, end)
    assert _spool_files(store) == []


def test_missing_and_malformed_are_not_found(store: ArtifactStore) -> None:
    assert not store.exists(MISSING)
    with pytest.raises(NotFound):
        store.read_bytes(MISSING)
    with pytest.raises(NotFound):
        b"".join(store.iter_range(MISSING, 0, 10))
    for bad in ("../../etc/passwd", "A" * 64, "ab", ""):
        with pytest.raises(NotFound):
            store.read_bytes(bad)
        with pytest.raises(NotFound):
            store.delete(bad)


def test_size_limit_stores_nothing(store: ArtifactStore) -> None:
    with pytest.raises(PayloadTooLarge):
        store.put_stream(io.BytesIO(b"x" * (3 * 1024 * 1024)), max_bytes=2 * 1024 * 1024)
    assert list(store.iter_shas()) == []
    assert _spool_files(store) == []
    sha, size = store.put_stream(io.BytesIO(b"y" * 100), max_bytes=100)  # exactly at the limit is fine
    assert size == 100 and list(store.iter_shas()) == [sha]


def test_same_content_is_stored_once(store: ArtifactStore) -> None:
    a = store.put_bytes(b"same bytes")
    b = store.put_stream(io.BytesIO(b"same bytes"))
    assert a == b
    other, _ = store.put_bytes(b"other bytes")
    assert sorted(store.iter_shas()) == sorted({a[0], other})


def test_delete_and_listing(store: ArtifactStore) -> None:
    shas = {store.put_bytes(f"blob {i}".encode())[0] for i in range(5)}
    assert set(store.iter_shas()) == shas
    victim = sorted(shas)[0]
    store.delete(victim)
    assert not store.exists(victim)
    with pytest.raises(NotFound):
        store.read_bytes(victim)
    store.delete(victim)  # deleting what is gone is not an error
    assert set(store.iter_shas()) == shas - {victim}


def test_listing_gives_size_and_age(store: ArtifactStore) -> None:
    """What garbage collection needs to leave a just-stored blob (whose row may follow) alone."""
    import time

    before = time.time()
    sha, size = store.put_bytes(b"x" * 1000)
    (blob,) = list(store.iter_blobs())
    assert blob.sha256 == sha and blob.size == size == 1000
    assert before - 5 <= blob.modified <= time.time() + 5  # S3's LastModified has 1 s resolution


def test_put_spooled_gives_a_local_copy_while_open(store: ArtifactStore) -> None:
    data = os.urandom(4096)
    with store.put_spooled(io.BytesIO(data), max_bytes=10_000) as (sha, size, local):
        assert local.read_bytes() == data and size == len(data)
        assert store.exists(sha)
    assert store.read_bytes(sha) == data
    assert _spool_files(store) == []
    with pytest.raises(PayloadTooLarge), store.put_spooled(io.BytesIO(data), max_bytes=100):
        pass
    assert _spool_files(store) == []


def test_downloads_stream_unless_redirects_are_configured(store: ArtifactStore, tmp_path: Path) -> None:
    sha, _ = store.put_bytes(b"presigned bytes")
    assert store.download_url(sha, filename="x.bin", media_type="application/octet-stream") is None
    if isinstance(store, S3ArtifactStore):
        endpoint = store.client.meta.endpoint_url
        url = s3_url(endpoint, store.bucket, store.prefix)
        redirecting = open_store(
            Settings(data_dir=tmp_path, artifact_url=url, artifact_redirect_downloads=True)
        )
        signed = redirecting.download_url(sha, filename="x.bin", media_type="application/octet-stream")
        assert signed is not None and "Signature" in signed
        r = httpx.get(signed, headers={"Range": "bytes=0-8"})
        assert r.status_code == 206 and r.content == b"presigned"


# -- selecting the backend ----------------------------------------------------------------------


def test_the_url_selects_the_backend(tmp_path: Path) -> None:
    assert isinstance(open_store(Settings(data_dir=tmp_path)), LocalArtifactStore)
    local = open_store(Settings(data_dir=tmp_path, artifact_url=f"file://{tmp_path}/blobs"))
    assert isinstance(local, LocalArtifactStore) and local.root == tmp_path / "blobs"
    with aws_env():
        s3 = open_store(
            Settings(data_dir=tmp_path, artifact_url="s3://my-bucket/a/b?endpoint_url=http://127.0.0.1:1")
        )
    assert isinstance(s3, S3ArtifactStore)
    assert (s3.bucket, s3.prefix) == ("my-bucket", "a/b")
    assert s3.key_for("ab" * 32) == "a/b/ab/ab/" + "ab" * 32
    assert list(tmp_path.iterdir()) == [], "building a store creates no file"


@pytest.mark.parametrize(
    "url",
    [
        "s3://bucket/p?aws_secret_access_key=x",  # secrets never come from the URL
        "s3://bucket/p?aws_access_key_id=x&endpoint_url=http://127.0.0.1:1",
        "s3://key:secret@bucket/p",
        "s3://Bad_Bucket/p",
        "s3://bucket/../p",
        "gs://bucket/p",
        "file://host/path",
    ],
)
def test_bad_urls_are_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        open_store(Settings(data_dir=tmp_path, artifact_url=url))


def test_s3_spool_on_a_full_disk_is_storage_full(s3_endpoint: str, bucket: str, tmp_path: Path) -> None:
    """The S3 backend's spool on a real 2 MiB tmpfs: an upload that does not fit is StorageFull (as a
    full local store), nothing reaches the bucket and no spool file is left."""
    import subprocess

    from core.errors import StorageFull

    if os.geteuid() != 0:
        why = "mounting a tmpfs needs root; run the fault tests as root (make test does)"
        pytest.fail(why) if os.environ.get("CI") else pytest.skip(why)  # CI never skips it
    small = tmp_path / "small"
    small.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2097152", "tmpfs", str(small)], capture_output=True, text=True
    )
    assert done.returncode == 0, f"could not mount a tmpfs at {small}: {done.stderr}"
    try:
        url = s3_url(s3_endpoint, bucket, f"full/{secrets.token_hex(4)}")
        store = S3ArtifactStore.from_url(url, spool_dir=small / "spool")
        with pytest.raises(StorageFull) as caught:
            store.put_stream(io.BytesIO(os.urandom(3 * 1024 * 1024)))
        assert caught.value.code == "storage_full" and caught.value.details["errno"] == "ENOSPC"
        assert list(store.iter_shas()) == [] and _spool_files(store) == []
        sha, _ = store.put_stream(io.BytesIO(b"still works"))  # the failure left room for the next one
        assert store.read_bytes(sha) == b"still works"
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)

"""Issue 12, reproduced over HTTP: each attack that gave a 500, filled the disk or the memory of the API
before this change now gets a 4xx with a reason, before the work it tried to cause.

The app is the real one (embedded mode: SQLite and the filesystem broker under a temporary folder,
bearer tokens on); the body-limit tests run it under a real uvicorn server on loopback, because the
test client reads a whole request body into memory before the app sees any of it.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import socket
import struct
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from core.settings import Settings

TOKEN = "tok-hardening"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MiB = 1024**2


def _settings(root: Path, **overrides: object) -> Settings:
    return Settings(data_dir=root, api_tokens=f"{TOKEN}:alice", register_wait_seconds=0.0, **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return _settings(tmp_path_factory.mktemp("hardening"))


@pytest.fixture(scope="module")
def api(settings: Settings) -> Iterator[TestClient]:
    from api.main import create_app

    with TestClient(create_app(settings)) as client:
        yield client


def _npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def _good_npz() -> bytes:
    rng = np.random.default_rng(0)
    return _npz(images=rng.integers(0, 256, (20, 8, 8), dtype=np.uint8), labels=np.arange(20) % 2)


def _post_dataset(api: TestClient, data: bytes, name: str = "ds") -> httpx.Response:
    return api.post("/v1/datasets", files={"file": (f"{name}.npz", data)}, data={"name": name}, headers=AUTH)


def _assert_4xx_with_reason(r: httpx.Response, *statuses: int) -> dict:
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    if statuses:
        assert r.status_code in statuses, (r.status_code, r.text)
    error = r.json()["error"]
    assert error["code"] and len(error["message"]) > 20, error
    return dict(error)


# ---------------------------------------------------------------------------------------------
# Memory: the decompression bomb


def _status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{key} not in /proc/self/status")


def _peak_rss_growth(call: object) -> tuple[object, int]:
    """Run ``call()`` and return its result with the growth of this process' peak RSS in bytes. The
    peak (VmHWM) is reset first through /proc/self/clear_refs, so it measures this call alone; where
    that file cannot be written, VmRSS is sampled every 2 ms during the call instead."""
    before = _status_kib("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        peak, done = [before], threading.Event()

        def sample() -> None:
            while not done.wait(0.002):
                peak[0] = max(peak[0], _status_kib("VmRSS"))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            result = call()  # type: ignore[operator]
        finally:
            done.set()
            sampler.join()
        return result, (max(peak[0], _status_kib("VmRSS")) - before) * 1024
    assert _status_kib("VmHWM") <= before + 1024, "the peak RSS was not reset"
    result = call()  # type: ignore[operator]
    return result, (_status_kib("VmHWM") - before) * 1024


@pytest.fixture(scope="module")
def npz_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2.9 MB npz whose 'images' inflate to 3 GB: the attack of the issue, written in 64 MiB chunks."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.npz"
    n, h, w = 300_000, 100, 100
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("images.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(
                f, {"descr": "|u1", "fortran_order": False, "shape": (n, h, w)}
            )
            chunk, left = bytes(64 * MiB), n * h * w
            while left:
                f.write(chunk if left >= len(chunk) else chunk[:left])
                left -= min(left, len(chunk))
        with zf.open("labels.npy", "w") as f:
            np.lib.format.write_array(f, np.zeros(n, np.int64))
    return path


def test_npz_bomb_is_refused_before_it_inflates(api: TestClient, npz_bomb: Path) -> None:
    data = npz_bomb.read_bytes()
    assert len(data) < 3 * MiB
    with zipfile.ZipFile(npz_bomb) as zf:
        assert sum(i.file_size for i in zf.infolist()) > 3_000_000_000
    r, growth = _peak_rss_growth(lambda: _post_dataset(api, data, "bomb"))
    error = _assert_4xx_with_reason(r, 413)  # type: ignore[arg-type]
    assert "inflates" in error["message"]
    print(f"npz bomb ({len(data)} bytes -> 3e9): {r.status_code}, API peak RSS growth {growth / MiB:.1f} MiB")  # type: ignore[union-attr]
    assert growth < 100 * MiB


def test_npz_declaring_a_46_gib_array_is_refused(api: TestClient) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        with zf.open("images.npy", "w") as f:
            shape = (50_000_000, 1000, 1000)  # 46.6 GiB of uint8 declared, 0 bytes stored
            np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False, "shape": shape})
        with zf.open("labels.npy", "w") as f:
            np.lib.format.write_array(f, np.zeros(3, np.int64))
    r = _post_dataset(api, buffer.getvalue(), "declared")
    error = _assert_4xx_with_reason(r, 413)
    assert "declares shape" in error["message"]


def _bad_npy_header() -> bytes:
    body = _good_npz()
    # Replace the images header's dict by one numpy's literal parser rejects (SyntaxError before).
    good = b"{'descr': '|u1', 'fortran_order': False, 'shape': (20, 8, 8), }"
    assert good in body
    return body.replace(good, b"{'descr': '|u1', 'fortran_order': False, 'shape': (20, 8, 8)) }")


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("badzip", b"PK\x03\x04" + os.urandom(200)),  # BadZipFile before
        ("bad-npy-header", _bad_npy_header()),  # SyntaxError before
        ("truncated", _good_npz()[:-40]),
        ("object-array", _npz(images=np.array([object()] * 3), labels=np.arange(3))),
        ("no-images", _npz(x=np.zeros(3))),
        ("empty", _npz(images=np.zeros((0, 8, 8), np.uint8), labels=np.zeros(0, np.int64))),
        ("huge-label", _npz(images=np.zeros((2, 8, 8), np.uint8), labels=np.array([0, 2**62]))),
    ],
)
def test_corrupt_or_wrong_npz_is_4xx_with_reason(api: TestClient, name: str, payload: bytes) -> None:
    _assert_4xx_with_reason(_post_dataset(api, payload, name), 415, 422)


def test_good_npz_still_registers(api: TestClient) -> None:
    r = _post_dataset(api, _good_npz(), "good")
    assert r.status_code == 201, r.text
    assert r.json()["num_images"] == 20 and r.json()["num_classes"] == 2


# ---------------------------------------------------------------------------------------------
# safetensors headers parsed by the safetensors package


def _safetensors(header: dict | bytes, body: bytes = b"") -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


_F32x3 = {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}


@pytest.mark.parametrize(
    ("name", "payload", "status"),
    [
        ("non-dict-entry", _safetensors({"w": 5}), 422),  # AttributeError before
        ("offsets-not-a-pair", _safetensors({"w": {**_F32x3, "data_offsets": "x"}}, bytes(12)), 422),
        ("offsets-one-number", _safetensors({"w": {**_F32x3, "data_offsets": [5]}}, bytes(12)), 422),
        ("offsets-huge", _safetensors({"w": {**_F32x3, "data_offsets": [0, 10**30]}}, bytes(12)), 422),
        ("deep-nesting", _safetensors(b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"), 422),
        ("truncated", _safetensors({"w": {**_F32x3, "data_offsets": [0, 400]}}, bytes(12)), 422),
        ("header-past-end", struct.pack("<Q", 10**6) + b'{"w": 1}', 422),
        ("pickle", pickle.dumps({"w": [1.0, 2.0]}), 415),
        ("torch-zip", b"PK\x03\x04" + bytes(64), 415),
    ],
)
def test_malformed_safetensors_upload_is_4xx_with_reason(
    api: TestClient, name: str, payload: bytes, status: int
) -> None:
    r = api.post(
        "/v1/models:upload",
        files={"weights": (f"{name}.safetensors", payload)},
        data={"name": f"st-{name}", "architecture": "resnet18"},
        headers=AUTH,
    )
    error = _assert_4xx_with_reason(r, status)
    if status == 415:
        assert "save_file" in error["message"]  # the conversion hint


# ---------------------------------------------------------------------------------------------
# Range and If-None-Match


@pytest.fixture(scope="module")
def artifact(api: TestClient) -> tuple[str, bytes]:
    data = _good_npz()
    r = _post_dataset(api, data, "ranged")
    assert r.status_code == 201, r.text
    return r.json()["artifact_id"], data


def test_range_with_a_5000_digit_bound_is_416_with_reason(
    api: TestClient, artifact: tuple[str, bytes]
) -> None:
    art, data = artifact
    huge = "9" * 5000
    for spec in (f"bytes={huge}-", f"bytes={huge}-{huge}", f"bytes=0-{huge}-", "bytes=0-1,4-5", "lines=0-1"):
        r = api.get(f"/v1/artifacts/{art}", headers={**AUTH, "Range": spec})
        error = _assert_4xx_with_reason(r, 416)
        assert r.headers["content-range"] == f"bytes */{len(data)}", spec
        assert "Range" in error["message"]
    # A huge end is clamped to the artifact (RFC 9110), a huge suffix is the whole artifact.
    r = api.get(f"/v1/artifacts/{art}", headers={**AUTH, "Range": f"bytes=10-{huge}"})
    assert r.status_code == 206 and r.content == data[10:]
    r = api.get(f"/v1/artifacts/{art}", headers={**AUTH, "Range": f"bytes=-{huge}"})
    assert r.status_code == 206 and r.content == data


def test_if_none_match_understands_weak_tags_lists_and_star(
    api: TestClient, artifact: tuple[str, bytes]
) -> None:
    art, _ = artifact
    etag = api.get(f"/v1/artifacts/{art}", headers=AUTH).headers["etag"]
    for value in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        assert api.get(f"/v1/artifacts/{art}", headers={**AUTH, "If-None-Match": value}).status_code == 304
    assert api.get(f"/v1/artifacts/{art}", headers={**AUTH, "If-None-Match": '"other"'}).status_code == 200


# ---------------------------------------------------------------------------------------------
# Integers: bounded in the schema, 422 instead of OverflowError


@pytest.mark.parametrize("value", [2**63, 2**64 + 1, -(2**63) - 1, 10**400])
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/models", {"name": "n", "source": {"timm": "resnet18"}}, ("num_classes",)),
        ("/v1/models", {"name": "n", "source": {"timm": "resnet18"}}, ("seed",)),
        ("/v1/partitions", {"model_ids": ["a", "b"], "probe_dataset_id": "d"}, ("k",)),
        ("/v1/partitions", {"model_ids": ["a", "b"], "probe_dataset_id": "d"}, ("seed",)),
        ("/v1/partitions", {"model_ids": ["a", "b"], "probe_dataset_id": "d"}, ("probe_images",)),
        (
            "/v1/assemblies",
            {"partition_id": "p", "target_dataset_id": "d", "constraints": {"max_params": 1000}},
            ("constraints", "max_params"),
        ),
        (
            "/v1/assemblies",
            {"partition_id": "p", "target_dataset_id": "d", "constraints": {"max_params": 1000}},
            ("training", "epochs"),
        ),
        (
            "/v1/assemblies",
            {"partition_id": "p", "target_dataset_id": "d", "constraints": {"max_params": 1000}},
            ("seed",),
        ),
    ],
)
def test_integers_beyond_int64_are_422(
    api: TestClient, path: str, body: dict, field: tuple[str, ...], value: int
) -> None:
    doc = json.loads(json.dumps(body))
    target = doc
    for key in field[:-1]:
        target = target.setdefault(key, {})
    target[field[-1]] = value
    r = api.post(path, content=json.dumps(doc), headers={**AUTH, "Content-Type": "application/json"})
    error = _assert_4xx_with_reason(r, 422)
    assert error["code"] == "invalid_request" and field[-1] in error["message"]


def test_non_finite_floats_are_422(api: TestClient) -> None:
    body = '{"partition_id": "p", "target_dataset_id": "d", "constraints": {"max_params": 10}, '
    for training in ('{"lr": NaN}', '{"lr": Infinity}', '{"weight_decay": NaN}'):
        r = api.post("/v1/assemblies", content=body + f'"training": {training}}}', headers=AUTH)
        _assert_4xx_with_reason(r, 422)
    r = api.post("/v1/jobs:canary", content='{"seconds": NaN}', headers=AUTH)
    _assert_4xx_with_reason(r, 422)


def test_a_bare_token_without_bearer_is_refused(api: TestClient) -> None:
    assert api.get("/v1/datasets", headers={"Authorization": TOKEN}).status_code == 401
    assert api.get("/v1/datasets", headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200


# ---------------------------------------------------------------------------------------------
# Limits before work: auth and size are checked before a body is read (real server on loopback)


class _Server:
    def __init__(self, settings: Settings) -> None:
        import uvicorn

        from api.main import create_app

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[_Server, Settings]]:
    settings = _settings(
        tmp_path_factory.mktemp("served"), max_dataset_bytes=2 * MiB, max_json_bytes=64 * 1024
    )
    srv = _Server(settings)
    yield srv, settings
    srv.stop()


class _Body:
    """A multipart dataset upload of ``size`` bytes, generated as it is sent; counts what was taken."""

    BOUNDARY = "hardening-boundary"

    def __init__(self, size: int) -> None:
        self.head = (
            f'--{self.BOUNDARY}\r\nContent-Disposition: form-data; name="name"\r\n\r\nbig\r\n'
            f'--{self.BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.npz"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self.tail = f"\r\n--{self.BOUNDARY}--\r\n".encode()
        self.size = size
        self.sent = 0

    @property
    def length(self) -> int:
        return len(self.head) + self.size + len(self.tail)

    def __iter__(self) -> Iterator[bytes]:
        self.sent += len(self.head)
        yield self.head
        chunk, left = bytes(MiB), self.size
        while left:
            piece = chunk[: min(left, len(chunk))]
            left -= len(piece)
            self.sent += len(piece)
            yield piece
        self.sent += len(self.tail)
        yield self.tail


def _files_under(*roots: Path) -> int:
    return sum(len(files) for root in roots if root.exists() for _, _, files in os.walk(root))


def _send(url: str, body: _Body, headers: dict[str, str]) -> httpx.Response:
    headers = {"Content-Type": f"multipart/form-data; boundary={_Body.BOUNDARY}", **headers}
    with httpx.Client(timeout=60) as client:
        return client.post(url + "/v1/datasets", content=iter(body), headers=headers)


def test_unauthenticated_300_mb_post_is_refused_before_it_is_read(
    server: tuple[_Server, Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv, settings = server
    # The server runs in this process: a private temp folder is where a spooled body would land, and
    # other processes writing to the shared /tmp meanwhile cannot disturb the count.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    roots = (Path(tempfile.gettempdir()), settings.resolved_data_dir)
    files_before, free_before = _files_under(*roots), os.statvfs(tempfile.gettempdir()).f_bavail
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        body = _Body(300 * 1000 * 1000)
        r = _send(srv.url, body, {**headers, "Content-Length": str(body.length)})
        _assert_4xx_with_reason(r, 401)
        print(f"unauthenticated 300 MB POST {headers}: 401 after {body.sent} bytes sent")
        assert body.sent < 16 * MiB  # what loopback socket buffers absorb, never the body
        chunked = _Body(300 * 1000 * 1000)
        r = _send(srv.url, chunked, headers)  # no Content-Length: Transfer-Encoding: chunked
        _assert_4xx_with_reason(r, 401)
        assert chunked.sent < 16 * MiB
    assert _files_under(*roots) <= files_before
    block = os.statvfs(tempfile.gettempdir()).f_frsize
    assert (free_before - os.statvfs(tempfile.gettempdir()).f_bavail) * block < 100 * MiB


def test_declared_length_over_the_limit_is_413_before_it_is_read(server: tuple[_Server, Settings]) -> None:
    srv, settings = server
    body = _Body(50 * MiB)
    r = _send(srv.url, body, {**AUTH, "Content-Length": str(body.length)})
    error = _assert_4xx_with_reason(r, 413)
    assert "REASSEMBLY_MAX_DATASET_BYTES" in error["message"]
    assert body.sent < 16 * MiB


def test_chunked_body_is_cut_at_the_limit(server: tuple[_Server, Settings]) -> None:
    srv, settings = server
    artifacts = settings.resolved_artifact_root
    before = _files_under(artifacts)
    body = _Body(50 * MiB)
    r = _send(srv.url, body, AUTH)  # chunked: no length to check up front, the stream is counted
    _assert_4xx_with_reason(r, 413)
    limit = settings.max_dataset_bytes + settings.max_json_bytes
    print(f"chunked 50 MiB upload, limit {limit}: 413 after {body.sent} bytes sent")
    assert body.sent < limit + 16 * MiB
    assert _files_under(artifacts) == before


def test_json_body_over_its_limit_is_413(server: tuple[_Server, Settings]) -> None:
    srv, _ = server
    big = json.dumps({"seconds": 1, "pad": "x" * (256 * 1024)})
    r = httpx.post(
        srv.url + "/v1/jobs:canary", content=big, headers={**AUTH, "Content-Type": "application/json"}
    )
    _assert_4xx_with_reason(r, 413)


def test_uploads_within_the_limits_still_work(server: tuple[_Server, Settings]) -> None:
    srv, _ = server
    r = httpx.post(
        srv.url + "/v1/datasets", files={"file": ("ok.npz", _good_npz())}, data={"name": "ok"}, headers=AUTH
    )
    assert r.status_code == 201, r.text

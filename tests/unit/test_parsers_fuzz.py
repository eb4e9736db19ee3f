"""Fuzz tests, one per parser of untrusted input (issue 12): safetensors headers, npz datasets, Range
headers and request integers. Each asserts the same property: the input is accepted, or refused with a
4xx whose message gives a reason — never another exception, never a 5xx.

The parsers are called on real files (safetensors, npz); Range and integers go over HTTP to the real
app (embedded mode, SQLite, under a temporary folder).
"""

from __future__ import annotations

import io
import json
import struct
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.errors import status_for
from api.uploads import read_npz_dataset, read_safetensors_header
from core.errors import ReassemblyError
from core.settings import Settings

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
TOKEN = "tok-fuzz"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
COUNTS: dict[str, dict[str, int]] = {}


def _count(parser: str, outcome: str) -> None:
    COUNTS.setdefault(parser, {}).setdefault(outcome, 0)
    COUNTS[parser][outcome] += 1


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    for parser, outcomes in COUNTS.items():
        print(f"fuzz {parser}: {sum(outcomes.values())} examples, {dict(sorted(outcomes.items()))}")


def _parse_file(parser: str, read: Callable[[Path], Any], data: bytes) -> None:
    """Write ``data`` to a file and parse it: success, or a ReassemblyError mapped to a 4xx with a reason."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload"
        path.write_bytes(data)
        try:
            read(path)
        except ReassemblyError as exc:
            status = status_for(exc)
            assert 400 <= status < 500, (status, exc)
            assert len(exc.message) > 20, exc.message
            _count(parser, str(status))
        else:
            _count(parser, "accepted")


# ---------------------------------------------------------------------------------------------
# safetensors

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
_dtypes = st.sampled_from(["F32", "F16", "BF16", "I64", "U8", "BOOL", "F64", "XX", ""])
_ints = st.integers(-5, 64) | st.integers(-(2**70), 2**70)
_entry = st.fixed_dictionaries(
    {
        "dtype": _dtypes | _json,
        "shape": st.lists(_ints, max_size=4) | _json,
        "data_offsets": st.lists(_ints, max_size=3) | _json,
    }
)
_header = st.dictionaries(
    st.text(max_size=8) | st.just("__metadata__"), _entry | _json, max_size=4
) | st.builds(lambda d: {"__metadata__": d}, st.dictionaries(st.text(max_size=5), _json, max_size=3))


@st.composite
def _safetensors_files(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["json", "nested", "bytes", "valid-mutated"]))
    if kind == "json":
        raw = json.dumps(draw(_header)).encode()
    elif kind == "nested":
        depth = draw(st.integers(1, 200_000))
        raw = b'{"a":' + b"[" * depth + b"]" * draw(st.integers(0, depth)) + b"}"
    elif kind == "bytes":
        return bytes(draw(st.binary(max_size=64)))
    else:
        from safetensors.numpy import save

        blob = bytearray(save({"w": np.zeros(draw(st.integers(0, 16)), np.float32)}))
        for _ in range(draw(st.integers(0, 4))):
            blob[draw(st.integers(0, len(blob) - 1))] = draw(st.integers(0, 255))
        return bytes(blob[: draw(st.integers(0, len(blob)))])
    body = draw(st.binary(max_size=128))
    length = draw(st.sampled_from([len(raw), len(raw) + 1, max(len(raw) - 1, 0)]) | st.integers(0, 2**64 - 1))
    return struct.pack("<Q", length) + raw + body


@FUZZ
@given(_safetensors_files())
def test_fuzz_safetensors_header(data: bytes) -> None:
    _parse_file("safetensors", read_safetensors_header, data)


# ---------------------------------------------------------------------------------------------
# npz


def _savez(**arrays: Any) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


_npy_header_text = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80),
    st.builds(
        lambda descr, shape, fortran: repr({"descr": descr, "fortran_order": fortran, "shape": tuple(shape)}),
        st.sampled_from(["|u1", "<i8", "<f4", "|O", "|V99999999", "<U3", "bogus"]),
        st.lists(st.integers(-3, 2**40), max_size=5),
        st.booleans(),
    ),
)


@st.composite
def _npz_files(draw: st.DrawFn) -> bytes:
    n = draw(st.integers(0, 6))
    side = draw(st.integers(1, 6))
    dtype = draw(st.sampled_from([np.uint8, np.int64, np.float32, np.int8]))
    arrays: dict[str, Any] = {
        "images": np.zeros((n, side, side, *draw(st.sampled_from([(), (1,), (3,), (2,)]))), dtype),
        "labels": np.array(
            draw(st.lists(st.integers(-(2**62), 2**62), min_size=n, max_size=n + 1)), np.int64
        ),
    }
    if draw(st.booleans()):
        arrays["class_names"] = np.array(draw(st.lists(st.text(max_size=4), max_size=4)), dtype="U4")
    blob = _savez(**arrays)
    kind = draw(st.sampled_from(["as-is", "mutate", "truncate", "header"]))
    if kind == "mutate":
        data = bytearray(blob)
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    if kind == "truncate":
        return blob[: draw(st.integers(0, len(blob)))]
    if kind == "header":  # a zip whose images member has a header of the fuzzer's choosing
        text = draw(_npy_header_text).encode()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            head = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text) + 1) + text + b"\n"
            zf.writestr("images.npy", head + draw(st.binary(max_size=64)))
            labels = io.BytesIO()
            np.save(labels, np.zeros(3, np.int64))
            zf.writestr("labels.npy", labels.getvalue())
        return buffer.getvalue()
    return blob


@FUZZ
@given(_npz_files())
def test_fuzz_npz_dataset(data: bytes) -> None:
    _parse_file("npz", read_npz_dataset, data)


# ---------------------------------------------------------------------------------------------
# HTTP: Range and integers, against the real app


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from api.main import create_app

    root = tmp_path_factory.mktemp("fuzz")
    with TestClient(create_app(Settings(data_dir=root, api_tokens=f"{TOKEN}:fuzz"))) as client:
        yield client


@pytest.fixture(scope="module")
def artifact(api: TestClient) -> tuple[str, bytes]:
    data = _savez(images=np.zeros((4, 8, 8), np.uint8), labels=np.arange(4))
    r = api.post("/v1/datasets", files={"file": ("d.npz", data)}, data={"name": "fuzzed"}, headers=AUTH)
    assert r.status_code == 201, r.text
    return r.json()["artifact_id"], data


_printable = st.characters(min_codepoint=32, max_codepoint=126)
_digits = st.text(alphabet="0123456789", max_size=6000)
_range_headers = st.one_of(
    st.text(alphabet=_printable, max_size=40),
    st.builds(lambda a, b: f"bytes={a}-{b}", _digits, _digits),
    st.builds(lambda a, b: f"bytes={a}-{b}", st.integers(-5, 2**70), st.integers(-5, 2**70)),
    st.builds(lambda a: f"bytes=-{a}", st.integers(0, 2**70) | _digits),
    st.builds(
        lambda a, b, c: f"bytes={a}-{b},{c}-", st.integers(0, 999), st.integers(0, 999), st.integers(0, 9)
    ),
)


@FUZZ
@given(spec=_range_headers)
def test_fuzz_range(api: TestClient, artifact: tuple[str, bytes], spec: str) -> None:
    art, data = artifact
    r = api.get(f"/v1/artifacts/{art}", headers={**AUTH, "Range": spec})
    assert r.status_code in (200, 206, 416), (spec[:80], r.status_code, r.text[:300])
    _count("range", str(r.status_code))
    if r.status_code == 416:
        assert r.headers["content-range"] == f"bytes */{len(data)}"
        assert len(r.json()["error"]["message"]) > 20
    elif r.status_code == 206:
        first, last = map(int, r.headers["content-range"].split()[1].split("/")[0].split("-"))
        assert r.content == data[first : last + 1] and r.content


# Every integer field of the request bodies, with a body that is otherwise valid. Ids name nothing, so
# an in-bounds value gets the route's 404 (or 422 for refused model_kwargs) and no work starts.
_MODEL = {"name": "n", "source": {"timm": "resnet18"}, "model_kwargs": {"checkpoint_path": "x"}}
_PARTITION = {"model_ids": ["mdl_a", "mdl_b"], "probe_dataset_id": "ds_none"}
_ASSEMBLY = {"partition_id": "prt_none", "target_dataset_id": "ds_none", "constraints": {"max_params": 1000}}
_FIELDS: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("/v1/models", _MODEL, ("num_classes",)),
    ("/v1/models", _MODEL, ("seed",)),
    ("/v1/models", _MODEL, ("input_size",)),
    ("/v1/partitions", _PARTITION, ("k",)),
    ("/v1/partitions", _PARTITION, ("restarts",)),
    ("/v1/partitions", _PARTITION, ("seed",)),
    ("/v1/partitions", _PARTITION, ("probe_images",)),
    ("/v1/partitions", _PARTITION, ("batch_size",)),
    ("/v1/assemblies", _ASSEMBLY, ("constraints", "max_params")),
    ("/v1/assemblies", _ASSEMBLY, ("constraints", "max_flops")),
    ("/v1/assemblies", _ASSEMBLY, ("constraints", "min_params")),
    ("/v1/assemblies", _ASSEMBLY, ("constraints", "min_flops")),
    ("/v1/assemblies", _ASSEMBLY, ("constraints", "min_donors")),
    ("/v1/assemblies", _ASSEMBLY, ("pool_size",)),
    ("/v1/assemblies", _ASSEMBLY, ("candidates",)),
    ("/v1/assemblies", _ASSEMBLY, ("probe_images",)),
    ("/v1/assemblies", _ASSEMBLY, ("fit_images",)),
    ("/v1/assemblies", _ASSEMBLY, ("heldout_images",)),
    ("/v1/assemblies", _ASSEMBLY, ("seed",)),
    ("/v1/assemblies", _ASSEMBLY, ("training", "epochs")),
    ("/v1/assemblies", _ASSEMBLY, ("training", "batch_size")),
]
_big = st.integers(-(2**70), 2**70) | st.integers(-5, 300) | st.sampled_from([2**31, 2**63, 2**64, 10**400])


@FUZZ
@given(case=st.sampled_from(_FIELDS), value=_big)
def test_fuzz_integers(
    api: TestClient, case: tuple[str, dict[str, Any], tuple[str, ...]], value: int
) -> None:
    path, body, field = case
    doc = json.loads(json.dumps(body))
    target = doc
    for key in field[:-1]:
        target = target.setdefault(key, {})
    target[field[-1]] = [3, value, value] if field[-1] == "input_size" else value
    r = api.post(path, content=json.dumps(doc), headers={**AUTH, "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, (path, field, value, r.status_code, r.text[:300])
    error = r.json()["error"]
    assert len(error["message"]) > 20
    _count("integers", str(r.status_code))
    if abs(value) >= 2**63:
        assert r.status_code == 422 and field[-1] in error["message"], (field, error)

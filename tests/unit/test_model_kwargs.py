"""model_kwargs carry architecture settings only: nothing that loads weights, files or URLs."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core.errors import InvalidInput
from core.model_kwargs import check_model_kwargs

ATTACKS = [
    {"pretrained_cfg_overlay": {"hf_hub_id": None, "url": "http://127.0.0.1:8799/ssrf.pth"}},
    {"checkpoint_path": "/etc/passwd"},
    {"checkpoint_path": "/no/such/file"},
    {"pretrained_cfg": {"file": "/etc/passwd"}},
    {"cache_dir": "/tmp"},
    {"weights_url": "http://127.0.0.1/x"},
    {"global_pool": "../../etc/passwd"},
    {"global_pool": "http://127.0.0.1/x"},
    {"drop_rate": [0.1] * 100},
    {"depth": 10**12},
]


@pytest.mark.parametrize("kwargs", ATTACKS)
def test_loading_arguments_and_odd_values_are_refused(kwargs: dict) -> None:
    with pytest.raises(InvalidInput, match="model_kwargs"):
        check_model_kwargs(kwargs)


def test_architecture_settings_pass_unchanged() -> None:
    zoo = {"in_chans": 1, "depth_multiplier": 0.5, "width_mult": 0.35, "stem_stride": 2}
    more = {"drop_path_rate": 0.1, "global_pool": "avg", "img_size": [32, 32], "class_token": False}
    assert check_model_kwargs(zoo | more) == zoo | more


@pytest.mark.parametrize("kwargs", ATTACKS[:3])
def test_the_api_refuses_them_before_any_job_with_the_same_answer(client: TestClient, kwargs: dict) -> None:
    body = {"name": "ssrf-probe", "source": {"timm": "test_resnet"}, "model_kwargs": kwargs}
    r = client.post("/v1/models", json=body)
    assert r.status_code == 422, r.text
    assert "model_kwargs may not set" in r.json()["error"]["message"]
    # An existing and a missing path get the same answer: nothing tells the client which exists.
    assert "/etc/passwd" not in r.json()["error"]["message"]
    names = [m["name"] for m in client.get("/v1/models", params={"limit": 200}).json()["items"]]
    assert "ssrf-probe" not in names


@pytest.mark.parametrize(
    "extra",
    [{"input_size": [3, 100_000, 100_000]}, {"input_size": [7, 32, 32]}, {"num_classes": 10**12}],
)
def test_sizes_that_would_exhaust_a_worker_are_422(client: TestClient, extra: dict) -> None:
    r = client.post("/v1/models", json={"name": "huge", "source": {"timm": "test_resnet"}} | extra)
    assert r.status_code == 422, r.text
    field = next(iter(extra))
    assert field in r.text


def test_an_upload_with_a_huge_input_size_is_refused_before_its_weights_are_stored(
    client: TestClient,
) -> None:
    r = client.post(
        "/v1/models:upload",
        files={"weights": ("w.safetensors", b"\x00" * 64, "application/octet-stream")},
        data={"name": "huge-upload", "architecture": "test_resnet", "input_size": "[3, 100000, 100000]"},
    )
    assert r.status_code == 422 and "input_size" in r.json()["error"]["message"], r.text


@pytest.fixture()
def listener():  # type: ignore[no-untyped-def]
    """A real HTTP server on loopback that records every request it receives."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    seen: list[str] = []

    class Record(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            seen.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Record)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()


def test_ssrf_reaches_no_listener_through_the_api_or_the_worker(client: TestClient, listener) -> None:  # type: ignore[no-untyped-def]
    from core.zoo.registry import build_model

    url, seen = listener
    overlay = {"pretrained_cfg_overlay": {"hf_hub_id": None, "url": f"{url}/ssrf.pth"}}
    body = {"name": "ssrf", "source": {"timm": "test_resnet", "pretrained": True}, "model_kwargs": overlay}
    assert client.post("/v1/models", json=body).status_code == 422
    with pytest.raises(InvalidInput, match="model_kwargs"):  # the worker checks again before timm
        build_model("test_resnet", num_classes=2, model_kwargs=overlay, pretrained=True)
    # The listener is real: a request made the way timm would fetch weights does reach it.
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{url}/probe", timeout=5)  # noqa: S310 (loopback, test only)
    assert seen == ["/probe"]

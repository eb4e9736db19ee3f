"""A live service for the browser tests: the API over HTTP (uvicorn, with two owners' tokens), one real
worker, the tiny trained zoo, one partition and one small assembly, and headless Debian Chromium.

The service has its own database and its own private redis-server on a free port as the broker: the
API tests' ``live`` service runs in the same session, and other runs share the Redis test databases;
a worker that took another service's messages would leave this one's jobs waiting for the reaper.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from core.store.migrate import upgrade
from tests.conftest import drop_pg_database, make_pg_database
from tests.system.processes import (
    free_port,
    reassembly,
    service_env,
    start,
    start_redis,
    stop,
    wait_ready,
)

ALICE, BOB = "alice-token", "bob-token"
# The API refuses this as a model name (NAME_PATTERN); the test writes it into the row directly.
XSS_NAME = "<script>window.__xss = 1</script>zoo"
XSS_CLASS = '<img src="x" onerror="window.__xss = 2">'
XSS_METRIC = "<script>window.__xss = 3</script>"


@dataclass
class Site:
    base: str
    api: httpx.Client  # alice's
    db_url: str
    logs: Path
    cache: dict[str, Any] = field(default_factory=dict)

    def wait_job(self, job_id: str, timeout: float = 600) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.api.get(f"/v1/jobs/{job_id}").json()
            if job["status"] in ("succeeded", "failed", "cancelled"):
                return dict(job)
            time.sleep(0.3)
        raise AssertionError(f"job {job_id} did not finish; worker log:\n{self.worker_log()}")

    def worker_log(self) -> str:
        return (self.logs / "worker.log").read_text()[-3000:]


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("browser-service")
    redis_port = free_port()
    broker_proc = start_redis(redis_port, data / "redis.log")
    broker = f"redis://127.0.0.1:{redis_port}/0"
    db_url = make_pg_database()
    upgrade(db_url)
    env = service_env(
        REASSEMBLY_DATABASE_URL=db_url,
        REASSEMBLY_BROKER_URL=broker,
        REASSEMBLY_DATA_DIR=str(data),
        REASSEMBLY_API_TOKENS=f"{ALICE}:alice,{BOB}:bob",
    )
    worker = start(reassembly("worker", "--pool", "prefork", "--concurrency", "2"), env, data / "worker.log")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start(reassembly("api", "--host", "127.0.0.1", "--port", str(port)), env, data / "api.log")
    try:
        wait_ready(base, server, data / "api.log")
        headers = {"Authorization": f"Bearer {ALICE}"}
        with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
            live = Site(base, client, db_url, data)
            canary = client.post("/v1/jobs:canary", json={"seconds": 0.1})  # the worker is up and serving
            assert canary.status_code == 202, canary.text
            assert live.wait_job(canary.json()["id"], timeout=300)["status"] == "succeeded"
            yield live
    finally:
        stop(server)
        stop(worker)
        stop(broker_proc)
        drop_pg_database(db_url)


@pytest.fixture(scope="session")
def zoo(site: Site, tiny_zoo: Path) -> list[dict]:
    """The tiny trained zoo registered (alice's) and dissected."""
    from cli.zoo_client import register_zoo

    models = register_zoo(site.api, tiny_zoo, prefix="zoo-")
    jobs = [site.api.post(f"/v1/models/{m['id']}/dissect").json()["id"] for m in models]
    for job_id in jobs:
        assert site.wait_job(job_id)["status"] == "succeeded"
    return [dict(site.api.get(f"/v1/models/{m['id']}").json()) for m in models]


@pytest.fixture(scope="session")
def xss_model(site: Site, tiny_zoo: Path) -> dict:
    """A real model whose name, class names and metrics carry markup. Class names and metrics are free
    text through the API; the name is not (NAME_PATTERN refuses it, asserted here), so the name is
    written into the row directly, as a row stored before the pattern existed would be."""
    entry = json.loads((tiny_zoo / "zoo.json").read_text())["models"][0]
    kwargs = {**entry["kwargs"], "in_chans": entry["input_size"][0]}
    classes = [XSS_CLASS] + [f"class {i}" for i in range(1, entry["num_classes"])]

    def form(name: str) -> dict[str, str]:
        return {
            "name": name,
            "architecture": entry["arch"],
            "num_classes": str(entry["num_classes"]),
            "input_size": json.dumps(entry["input_size"]),
            "model_kwargs": json.dumps(kwargs),
            "class_names": json.dumps(classes),
            "metrics": json.dumps({"source_accuracy": entry["accuracy"], "note": XSS_METRIC}),
        }

    weights = (tiny_zoo / entry["weights_file"]).read_bytes()
    refused = site.api.post(
        "/v1/models:upload", files={"weights": ("w.safetensors", weights)}, data=form(XSS_NAME)
    )
    assert refused.status_code == 422, refused.text
    r = site.api.post(
        "/v1/models:upload", files={"weights": ("w.safetensors", weights)}, data=form("xss-probe")
    )
    assert r.status_code == 201, r.text
    engine = create_engine(site.db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE models SET name = :n WHERE id = :i"), {"n": XSS_NAME, "i": r.json()["id"]})
    engine.dispose()
    model = dict(site.api.get(f"/v1/models/{r.json()['id']}").json())
    assert model["name"] == XSS_NAME and model["class_names"][0] == XSS_CLASS
    return model


@pytest.fixture(scope="session")
def fashion(site: Site) -> dict:
    from core.zoo.data import bundled_subset_path

    with open(bundled_subset_path(), "rb") as f:
        r = site.api.post("/v1/datasets", files={"file": ("fashion.npz", f)}, data={"name": "fashion-subset"})
    assert r.status_code == 201, r.text
    return dict(r.json())


# The partition settings of tests/api/test_assemblies_api.py; the page's form defaults match them,
# so a partition started from the page reuses the cached sketches.
PARTITION = {"k": 3, "epsilon": 0.5, "restarts": 20, "probe_images": 256, "batch_size": 32}


@pytest.fixture(scope="session")
def partition(site: Site, zoo: list[dict], fashion: dict) -> dict:
    body = {"model_ids": [m["id"] for m in zoo], "probe_dataset_id": fashion["id"], **PARTITION}
    created = site.api.post("/v1/partitions", json=body)
    assert created.status_code == 202, created.text
    assert site.wait_job(created.json()["job"]["id"])["status"] == "succeeded", site.worker_log()
    return dict(site.api.get(f"/v1/partitions/{created.json()['id']}").json())


@pytest.fixture(scope="session")
def assembly(site: Site, partition: dict, fashion: dict) -> dict:
    """The smallest assembly that still trains (FZ, two epochs): one finalist from a pool of four."""
    body = {
        "partition_id": partition["id"],
        "target_dataset_id": fashion["id"],
        "constraints": {"max_params": 5_000_000},
        "candidates": 1,
        "pool_size": 4,
        "probe_images": 32,
        "fit_images": 300,
        "heldout_images": 100,
        "training": {"mode": "frozen", "epochs": 2, "batch_size": 64},
    }
    r = site.api.post("/v1/assemblies", json=body)
    assert r.status_code == 202, r.text
    job = site.wait_job(r.json()["job"]["id"], timeout=900)
    assert job["status"] == "succeeded", job
    return dict(site.api.get(f"/v1/assemblies/{r.json()['id']}").json())


# ---------------------------------------------------------------------------------------------------
# The browser: Debian's Chromium, headless, driven by Playwright (never a downloaded browser).


def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        pytest.fail("chromium is not installed: `make services` (scripts/services.sh) installs it")
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def page(browser: Any, site: Site) -> Iterator[Any]:
    """A fresh tab (own sessionStorage). Any script error or failed console message fails the test."""
    context = browser.new_context(
        base_url=site.base, accept_downloads=True, viewport={"width": 1280, "height": 900}
    )
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    tab.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    tab.errors = errors
    try:
        yield tab
    finally:
        context.close()


def screenshot_dirs(tmp_path: Path) -> list[Path]:
    """The test's output folder, and REASSEMBLY_SCREENSHOTS_DIR when set (docs/screenshots is refreshed
    with `REASSEMBLY_SCREENSHOTS_DIR=docs/screenshots pytest tests/browser`)."""
    extra = os.environ.get("REASSEMBLY_SCREENSHOTS_DIR")
    return [tmp_path] + ([Path(extra)] if extra else [])

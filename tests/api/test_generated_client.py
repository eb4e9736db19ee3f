"""The generated Python client (clients/python) is current with the API and works against it."""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "python"


def test_committed_client_matches_the_current_openapi(tmp_path: Path) -> None:
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(create_app(migrate=False).openapi(), indent=2) + "\n")
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    out = subprocess.run(
        [str(bin_dir / "openapi-python-client"), "generate", "--path", str(spec),
         "--output-path", str(tmp_path / "python"), "--meta", "setup"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert (tmp_path / "python").is_dir(), out.stdout + out.stderr
    ignore = [".ruff_cache", "__pycache__", ".mypy_cache", "reassembly_client.egg-info"]  # pip install -e
    stale = _differences(filecmp.dircmp(CLIENT, tmp_path / "python", ignore=ignore))
    assert not stale, f"clients/python is out of date ({stale[:5]}); run `make client` and commit it"


def _differences(cmp: filecmp.dircmp) -> list[str]:
    found = [*cmp.left_only, *cmp.right_only, *cmp.diff_files]
    for sub in cmp.subdirs.values():
        found += _differences(sub)
    return found


@pytest.fixture
def api_client(client: TestClient):  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(CLIENT))
    from reassembly_client import Client

    yield Client(base_url="http://testserver").set_httpx_client(client)
    sys.path.remove(str(CLIENT))


def test_client_round_trip(api_client) -> None:  # type: ignore[no-untyped-def]
    from reassembly_client.api.jobs import cancel_job, create_canary_job, get_job
    from reassembly_client.models import CanaryIn

    job = create_canary_job.sync(client=api_client, body=CanaryIn(seconds=0.1), idempotency_key="client-1")
    assert job is not None and job.status == "queued" and job.kind == "canary"
    again = get_job.sync(client=api_client, job_id=job.id)
    assert again is not None and again.id == job.id
    cancelled = cancel_job.sync(client=api_client, job_id=job.id)
    assert cancelled is not None and cancelled.status == "cancelled"

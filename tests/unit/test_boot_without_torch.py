"""The API process and the worker's boot must not import torch (tasks import it when they run)."""

from __future__ import annotations

import subprocess
import sys

from tests.system.processes import ROOT, service_env

PROBE_API = """
import sys
from api.main import create_app
create_app(migrate=False)
assert "torch" not in sys.modules, "the API imported torch"
print("api-ok")
"""

PROBE_WORKER = """
import sys
from worker.celery_app import app
app.loader.import_default_modules()   # what `celery worker` does at boot: imports worker.tasks
assert "worker.tasks" in sys.modules, "the worker's boot did not import its tasks"
assert "torch" not in sys.modules, "the worker imported torch at boot"
print("worker-ok")
"""


def _run(code: str, tmp: str) -> str:
    env = service_env(REASSEMBLY_DATA_DIR=tmp)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_api_import_does_not_import_torch(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert "api-ok" in _run(PROBE_API, str(tmp_path))


def test_worker_boot_does_not_import_torch(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert "worker-ok" in _run(PROBE_WORKER, str(tmp_path))


PROBE_BUDGET_CHECK = """
import sys
import core.assembly.problem, core.search, core.store.dissections   # what POST /v1/assemblies uses
assert "torch" not in sys.modules, "checking a budget imported torch"
print("budget-ok")
"""


def test_the_api_budget_check_does_not_import_torch(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert "budget-ok" in _run(PROBE_BUDGET_CHECK, str(tmp_path))

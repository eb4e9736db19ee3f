"""Importing a package's entry module touches no file: no broker folders, no database, no ./var.

Each import runs in a fresh interpreter whose working directory is an empty folder (the settings'
default data dir, ``var``, is relative to it), and the folder must stay empty.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.system.processes import ROOT, service_env


@pytest.mark.parametrize("module", ["api.main", "worker.celery_app", "cli.main"])
def test_import_creates_no_file(module: str, tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = service_env(PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    created = sorted(str(p.relative_to(cwd)) for p in cwd.rglob("*"))
    assert created == [], f"`import {module}` created {created}"


def test_the_worker_app_creates_the_embedded_broker_folders_when_built(tmp_path: Path) -> None:
    """The folders appear when a worker boots (the app is built), not at import."""
    env = service_env(PYTHONPATH=str(ROOT), REASSEMBLY_DATA_DIR=str(tmp_path / "data"))
    code = (
        "import os, worker.celery_app as m\n"
        "assert not os.path.exists(os.environ['REASSEMBLY_DATA_DIR']), 'the import created the data dir'\n"
        "m.app\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert sorted(os.listdir(tmp_path / "data" / "broker")) == ["control", "processed", "queue"]

"""There is no Docker engine here: check the compose topology against the project instead."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from typer.main import get_command

from cli.main import app

ROOT = Path(__file__).resolve().parents[2]
THIRD_PARTY = {"redis", "postgres", "minio"}


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_project_service_runs_an_existing_cli_command() -> None:
    commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    services = _compose()["services"]
    assert set(services) >= THIRD_PARTY
    for name, svc in services.items():
        if name in THIRD_PARTY:
            continue
        cmd = svc["command"]
        assert cmd[0] == "reassembly" and cmd[1] in commands, (name, cmd)
        dockerfile = ROOT / svc["build"]["dockerfile"]
        assert dockerfile.exists(), dockerfile
        assert f'"{cmd[1]}"' in dockerfile.read_text(), f"{dockerfile} does not run `reassembly {cmd[1]}`"


def test_services_use_the_distributed_backends() -> None:
    env = _compose()["x-env"]
    assert env["REASSEMBLY_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["REASSEMBLY_BROKER_URL"].startswith("redis://")
    assert "${POSTGRES_PASSWORD:?" in env["REASSEMBLY_DATABASE_URL"], "no default secret"


def test_every_dockerfile_copies_every_package() -> None:
    """`pip install .` in the image must find every package, the CLI's own included."""
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = [p.rstrip("*") for p in include["include"]]
    assert "cli" in packages
    for dockerfile in (ROOT / "docker").glob("*Dockerfile"):
        text = dockerfile.read_text()
        for pkg in packages:
            assert f"COPY {pkg} {pkg}" in text, f"{dockerfile.name} does not copy {pkg}/"

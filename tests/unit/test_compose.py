"""There is no Docker engine here: check the compose topology against the project instead."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from typer.main import get_command

from cli.main import app

ROOT = Path(__file__).resolve().parents[2]
THIRD_PARTY = {"redis", "postgres", "minio", "minio-init"}


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


def test_services_keep_artifacts_in_minio() -> None:
    """API and workers use the S3 backend on the compose MinIO, credentials from AWS_* only, and start
    after the one-shot that creates the URL's bucket."""
    from core.store.s3 import parse_s3_url

    compose = _compose()
    env = compose["x-env"]
    bucket, prefix, options = parse_s3_url(env["REASSEMBLY_ARTIFACT_URL"])  # accepted by the service
    assert options == {"endpoint_url": "http://minio:9000"} and prefix
    assert "REASSEMBLY_ARTIFACT_ROOT" not in env
    assert env["AWS_ACCESS_KEY_ID"].startswith("${MINIO_ROOT_USER:?"), "no default secret"
    assert env["AWS_SECRET_ACCESS_KEY"].startswith("${MINIO_ROOT_PASSWORD:?"), "no default secret"
    services = compose["services"]
    init = services["minio-init"]
    assert init["depends_on"]["minio"]["condition"] == "service_healthy"
    assert f"mc mb --ignore-existing store/{bucket}" in " ".join(init["command"])
    for name in ("api", "worker", "worker-gpu"):
        svc = services[name]
        assert svc["environment"]["REASSEMBLY_ARTIFACT_URL"] == env["REASSEMBLY_ARTIFACT_URL"], name
        assert svc["depends_on"]["minio-init"]["condition"] == "service_completed_successfully", name


def test_every_dockerfile_copies_every_package() -> None:
    """`pip install .` in the image must find every package, the CLI's own included."""
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = [p.rstrip("*") for p in include["include"]]
    assert "cli" in packages
    for dockerfile in (ROOT / "docker").glob("*Dockerfile"):
        text = dockerfile.read_text()
        for pkg in packages:
            assert f"COPY {pkg} {pkg}" in text, f"{dockerfile.name} does not copy {pkg}/"

"""API keys (issue 12, Done-when 5): scopes, revocation at once, only a hash stored, the CLI — on a real
PostgreSQL database of their own (a key in a shared database would close every open-mode test's API)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from core.settings import Settings, get_settings
from core.store import keys
from core.store.db import session_factory, session_scope
from core.store.migrate import upgrade
from core.store.models import Base
from tests.conftest import drop_pg_database, make_pg_database, redis_test_db


@pytest.fixture
def db() -> Iterator[str]:
    url = make_pg_database()
    upgrade(url)
    try:
        yield url
    finally:
        drop_pg_database(url)


def _settings(db: str, tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(
        database_url=db,
        broker_url=redis_test_db(0),
        data_dir=tmp_path,
        register_wait_seconds=0.0,
        **overrides,
    )


@pytest.fixture
def api(db: str, tmp_path: Path) -> Iterator[TestClient]:
    from api.main import create_app

    with TestClient(create_app(_settings(db, tmp_path), migrate=False)) as client:
        yield client


def _key(db: str, owner: str, scope: str, name: str = "test") -> tuple[str, str]:
    with session_scope(session_factory(db)) as session:
        return keys.create_key(session, owner, name, scope)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _npz() -> bytes:
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    np.savez(buffer, images=rng.integers(0, 256, (20, 8, 8), dtype=np.uint8), labels=np.arange(20) % 2)
    return buffer.getvalue()


def _upload(client: TestClient, headers: dict[str, str], name: str) -> Any:
    return client.post(
        "/v1/datasets", files={"file": (f"{name}.npz", _npz())}, data={"name": name}, headers=headers
    )


def test_a_read_key_cannot_post_or_delete_and_a_write_key_can(db: str, api: TestClient) -> None:
    _, read = _key(db, "alice", "read")
    _, write = _key(db, "alice", "write")
    assert api.get("/v1/datasets", headers=_bearer(read)).status_code == 200
    refused = _upload(api, _bearer(read), "by-reader")
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "forbidden"
    assert "scope 'read'" in error["message"] and "POST needs scope 'write'" in error["message"]

    created = _upload(api, _bearer(write), "by-writer")
    assert created.status_code == 201, created.text
    dataset = created.json()
    assert api.get(f"/v1/datasets/{dataset['id']}", headers=_bearer(read)).status_code == 200  # same owner
    gone = api.delete(f"/v1/datasets/{dataset['id']}", headers=_bearer(read))  # no body: still refused
    assert gone.status_code == 403 and "DELETE needs scope 'write'" in gone.json()["error"]["message"]
    assert api.delete(f"/v1/datasets/{dataset['id']}", headers=_bearer(write)).status_code == 204

    _, admin = _key(db, "alice", "admin")
    assert _upload(api, _bearer(admin), "by-admin").status_code == 201


def test_a_revoked_key_is_401_at_once(db: str, api: TestClient) -> None:
    key_id, token = _key(db, "bob", "write")
    assert api.get("/v1/datasets", headers=_bearer(token)).status_code == 200
    with session_scope(session_factory(db)) as session:
        keys.revoke_key(session, key_id)
    r = api.get("/v1/datasets", headers=_bearer(token))  # the very next request
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", r.text
    assert r.headers["www-authenticate"] == "Bearer"
    assert _upload(api, _bearer(token), "after-revoke").status_code == 401


def test_the_database_holds_the_keys_hash_never_the_key(db: str, api: TestClient) -> None:
    key_id, token = _key(db, "carol", "write", name="ci runner")
    assert api.get("/v1/datasets", headers=_bearer(token)).status_code == 200  # writes last_used_at
    secret = token.rsplit("_", 1)[1]
    engine = session_factory(db).kw["bind"]
    seen = 0
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:  # every column of every row of every table
            for row in conn.execute(select(table)):
                for value in row:
                    text = str(value)
                    assert token not in text and secret not in text, (table.name, text)
                    seen += 1
        row = conn.execute(select(Base.metadata.tables["api_keys"])).mappings().one()
    assert seen > 0
    assert row["id"] == key_id and row["key_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert row["last_used_at"] is not None and row["revoked_at"] is None
    assert token.startswith(row["prefix"]) and len(row["prefix"]) < len(token) // 2


def test_keys_cli_create_list_revoke_against_postgresql(
    db: str, api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli.main import app

    monkeypatch.setenv("REASSEMBLY_DATABASE_URL", db)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        made = runner.invoke(
            app, ["keys", "create", "--owner", "dave", "--name", "laptop", "--scope", "write"]
        )
        assert made.exit_code == 0, made.output
        token = made.stdout.strip().splitlines()[-1]
        assert token.startswith("rsk_")
        key_id = keys.key_id_of(token)
        assert key_id is not None and key_id in made.stderr
        assert _upload(api, _bearer(token), "from-cli-key").status_code == 201

        listed = runner.invoke(app, ["keys", "list"])
        assert listed.exit_code == 0, listed.output
        assert key_id in listed.stdout and "dave" in listed.stdout and "write" in listed.stdout
        assert token not in listed.output and token.rsplit("_", 1)[1] not in listed.output
        assert key_id not in runner.invoke(app, ["keys", "list", "--owner", "nobody"]).stdout

        bad = runner.invoke(app, ["keys", "create", "--owner", "dave", "--scope", "root"])
        assert bad.exit_code != 0

        revoked = runner.invoke(app, ["keys", "revoke", key_id])
        assert revoked.exit_code == 0 and f"revoked {key_id}" in revoked.stdout, revoked.output
        assert api.get("/v1/datasets", headers=_bearer(token)).status_code == 401
        assert runner.invoke(app, ["keys", "revoke", "key_unknown"]).exit_code == 1
    finally:
        get_settings.cache_clear()


def test_env_var_tokens_still_work_beside_keys(db: str, tmp_path: Path) -> None:
    from api.main import create_app

    _, token = _key(db, "frank", "read")
    settings = _settings(db, tmp_path, api_tokens="envtok:erin")
    with TestClient(create_app(settings, migrate=False)) as client:
        assert _upload(client, _bearer("envtok"), "env-token").status_code == 201  # env tokens are admin
        mine = client.get("/v1/datasets", headers=_bearer("envtok")).json()
        assert [d["name"] for d in mine["items"]] == ["env-token"]
        assert client.get("/v1/datasets", headers=_bearer(token)).json()["items"] == []  # frank's: none
        for headers in ({}, _bearer("wrong"), {"Authorization": "envtok"}, _bearer(token + "0")):
            assert client.get("/v1/datasets", headers=headers).status_code == 401, headers


def test_open_until_a_key_exists_then_closed_for_good(db: str, api: TestClient) -> None:
    from api.deps import OPEN_RECHECK_SECONDS

    assert api.get("/v1/datasets").status_code == 200  # no tokens, no keys: anonymous, as before
    assert api.get("/metrics").status_code == 200
    key_id, token = _key(db, "gina", "read")
    time.sleep(OPEN_RECHECK_SECONDS + 0.1)
    assert api.get("/v1/datasets").status_code == 401
    assert api.get("/metrics").status_code == 401  # /metrics needs a key, any scope
    assert api.get("/metrics", headers=_bearer(token)).status_code == 200
    with session_scope(session_factory(db)) as session:
        keys.revoke_key(session, key_id)
    assert api.get("/v1/datasets").status_code == 401  # every key revoked: still closed
    assert api.get("/healthz").status_code == 200  # probes need no credential


def test_body_limits_refuses_an_unknown_key_before_reading_the_body(db: str, api: TestClient) -> None:
    _, read = _key(db, "hana", "read")
    unknown = "rsk_" + "0" * 26 + "_" + "f" * 64  # shaped like a key, in no row
    app = api.app
    for token, status in ((unknown, 401), ("rsk_not_a_key", 401), (read, 403)):
        received: list[int] = []
        sent: list[dict[str, Any]] = []

        async def receive(received: list[int] = received) -> dict[str, Any]:
            received.append(1)
            return {"type": "http.request", "body": b"x" * 1000, "more_body": True}

        async def send(message: dict[str, Any], sent: list[dict[str, Any]] = sent) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/datasets",
            "raw_path": b"/v1/datasets",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"testserver"),
                (b"authorization", f"Bearer {token}".encode()),
                (b"content-type", b"multipart/form-data; boundary=x"),
                (b"content-length", str(300 * 1000 * 1000).encode()),
            ],
            "client": ("127.0.0.1", 1),
            "server": ("testserver", 80),
        }
        asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
        assert sent[0]["status"] == status, (token, sent)
        assert received == [], "the body was read before the credential was refused"
        assert (b"connection", b"close") in sent[0]["headers"]


def test_a_key_costs_one_lookup_per_request(db: str, api: TestClient) -> None:
    """Latency of a key-authenticated GET against an env-token GET (printed; bounded loosely)."""
    from api.main import create_app

    _, token = _key(db, "ivan", "read")
    settings = _settings(db, Path(api.app.state.settings.data_dir), api_tokens="envtok:ivan")  # type: ignore[attr-defined]
    with TestClient(create_app(settings, migrate=False)) as client:

        def timed(headers: dict[str, str], n: int = 60) -> float:
            for _ in range(5):
                assert client.get("/v1/datasets", headers=headers).status_code == 200
            started = time.perf_counter()
            for _ in range(n):
                client.get("/v1/datasets", headers=headers)
            return (time.perf_counter() - started) / n * 1000

        env_ms, key_ms = timed(_bearer("envtok")), timed(_bearer(token))
    print(f"GET /v1/datasets: env token {env_ms:.2f} ms, API key {key_ms:.2f} ms per request")
    assert key_ms < env_ms + 25

"""Fault (d): garbage collection of orphan artifact rows and unnamed blobs (real PostgreSQL, real files)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from core.store.artifacts import LocalArtifactStore
from core.store.db import session_factory
from core.store.gc import collect
from core.store.ids import new_id
from core.store.models import Artifact, Dataset

HOUR = 3600.0


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _setup(pg_url: str, root: Path) -> dict[str, object]:
    """An owner's store: a dataset's artifact (kept), an old orphan row with its blob, a young orphan
    row, an old blob no row names, a young one, a stale temporary file and a fresh one."""
    from core.store.migrate import upgrade

    upgrade(pg_url)
    store = LocalArtifactStore(root)
    owner = f"gc-{new_id('o')}"
    old = datetime.now(UTC) - timedelta(hours=2)
    names = {}
    for label in ("used", "orphan_old", "orphan_young", "unnamed_old", "unnamed_young"):
        sha, size = store.put_bytes(f"{label} {owner}".encode())
        names[label] = (sha, size)
        _age(store.path_for(sha), 2 * HOUR if label != "unnamed_young" else 0)
    with session_factory(pg_url)() as s:
        rows = {}
        for label in ("used", "orphan_old", "orphan_young"):
            sha, size = names[label]
            created = old if label != "orphan_young" else datetime.now(UTC)
            rows[label] = Artifact(
                id=new_id("art"), owner=owner, sha256=sha, size=size, media_type="x", filename=label,
                created_at=created,
            )  # fmt: skip
            s.add(rows[label])
        s.flush()
        s.add(
            Dataset(
                id=new_id("ds"), name="kept", owner=owner, artifact_id=rows["used"].id, num_images=1,
                image_shape=[1, 1], num_classes=1,
            )
        )  # fmt: skip
        s.commit()
        ids = {label: row.id for label, row in rows.items()}
    stale = root / ".incoming-stale"
    stale.write_bytes(b"half an upload")
    _age(stale, 2 * HOUR)
    (root / ".incoming-fresh").write_bytes(b"an upload in flight")
    return {"store": store, "shas": {k: v[0] for k, v in names.items()}, "ids": ids}


def _blob_exists(store: LocalArtifactStore, sha: str) -> bool:
    return store.path_for(sha).exists()


def test_gc_collects_old_orphans_and_keeps_what_is_used_or_young(pg_url: str, tmp_path: Path) -> None:
    made = _setup(pg_url, tmp_path / "artifacts")
    store, shas, ids = made["store"], made["shas"], made["ids"]
    assert isinstance(store, LocalArtifactStore) and isinstance(shas, dict) and isinstance(ids, dict)
    sessions = session_factory(pg_url)

    with sessions() as s:
        dry = collect(s, store, older_than_s=HOUR, dry_run=True)
    assert ids["orphan_old"] in dry.row_ids and ids["used"] not in dry.row_ids
    assert ids["orphan_young"] not in dry.row_ids
    with sessions() as s:  # a dry run deletes nothing
        assert s.get(Artifact, ids["orphan_old"]) is not None
    assert all(_blob_exists(store, sha) for sha in shas.values())

    with sessions() as s:
        report = collect(s, store, older_than_s=HOUR)
    assert report.row_ids == dry.row_ids and report.blob_paths == dry.blob_paths
    with sessions() as s:
        assert s.get(Artifact, ids["orphan_old"]) is None
        assert s.get(Artifact, ids["used"]) is not None
        assert s.get(Artifact, ids["orphan_young"]) is not None
    assert not _blob_exists(store, shas["orphan_old"])  # its row went in the same pass
    assert not _blob_exists(store, shas["unnamed_old"])
    assert _blob_exists(store, shas["used"]) and _blob_exists(store, shas["orphan_young"])
    assert _blob_exists(store, shas["unnamed_young"])  # an upload whose row is not committed yet
    assert not (store.root / ".incoming-stale").exists()
    assert (store.root / ".incoming-fresh").exists()
    assert report.temp_files == 1 and report.blobs >= 3
    assert report.blob_bytes >= len(b"half an upload")
    assert store.read_bytes(shas["used"]).startswith(b"used")

    with sessions() as s:  # nothing left to collect
        again = collect(s, store, older_than_s=HOUR)
    assert ids["orphan_old"] not in again.row_ids and again.blobs == 0


def test_a_blob_rewritten_while_gc_runs_is_kept(pg_url: str, tmp_path: Path) -> None:
    """An upload renames its blob into place with a fresh mtime, so an old unnamed copy that is
    written again counts as young: gc leaves it for the row about to name it."""
    from core.store.migrate import upgrade

    upgrade(pg_url)
    store = LocalArtifactStore(tmp_path / "artifacts")
    sha, _ = store.put_bytes(b"uploaded again " + new_id("x").encode())
    _age(store.path_for(sha), 2 * HOUR)
    store.put_bytes(store.read_bytes(sha))  # the same bytes, uploaded again
    with session_factory(pg_url)() as s:
        report = collect(s, store, older_than_s=HOUR)
    assert _blob_exists(store, sha) and report.blobs == 0


def test_gc_command_dry_run_and_real(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.main import app
    from core.settings import get_settings

    made = _setup(pg_url, tmp_path / "artifacts")
    shas, ids = made["shas"], made["ids"]
    assert isinstance(shas, dict) and isinstance(ids, dict)
    monkeypatch.setenv("REASSEMBLY_DATABASE_URL", pg_url)
    monkeypatch.setenv("REASSEMBLY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REASSEMBLY_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    get_settings.cache_clear()
    try:
        dry = CliRunner().invoke(app, ["gc", "--dry-run", "--older-than", "3600"])
        assert dry.exit_code == 0, dry.output
        assert "dry run" in dry.output and "artifact rows" in dry.output
        with session_factory(pg_url)() as s:
            assert s.get(Artifact, ids["orphan_old"]) is not None
        real = CliRunner().invoke(app, ["gc", "--older-than", "3600"])
        assert real.exit_code == 0, real.output
        with session_factory(pg_url)() as s:
            assert s.get(Artifact, ids["orphan_old"]) is None
            assert s.scalar(select(Artifact).where(Artifact.id == ids["used"])) is not None
        assert not (tmp_path / "artifacts" / ".incoming-stale").exists()
    finally:
        get_settings.cache_clear()


def test_gc_on_the_s3_backend_spares_named_and_young_blobs(pg_url: str, tmp_path: Path) -> None:
    """The same pass over an S3-compatible bucket (moto's server on loopback), ages from LastModified."""
    import secrets

    from core.settings import Settings
    from core.store.artifacts import open_store
    from core.store.migrate import upgrade
    from tests.s3server import aws_env, make_bucket, moto_server, s3_url

    upgrade(pg_url)
    with aws_env(), moto_server(tmp_path / "moto.log") as endpoint:
        url = s3_url(endpoint, make_bucket(endpoint), f"gc/{secrets.token_hex(4)}")
        store = open_store(Settings(data_dir=tmp_path, artifact_url=url))
        named, size = store.put_bytes(b"named " + new_id("x").encode())
        unnamed, _ = store.put_bytes(b"unnamed " + new_id("x").encode())
        with session_factory(pg_url)() as s:  # the named blob's row is a dataset's
            art = Artifact(
                id=new_id("art"), owner="gc-s3", sha256=named, size=size, media_type="x", filename="n"
            )
            s.add(art)
            s.flush()
            s.add(Dataset(id=new_id("ds"), name="s3", owner="gc-s3", artifact_id=art.id, num_images=1,
                          image_shape=[1, 1], num_classes=1))  # fmt: skip
            s.commit()
        with session_factory(pg_url)() as s:  # both are younger than an hour: kept
            assert collect(s, store, older_than_s=HOUR).blobs == 0
        assert store.exists(unnamed)
        with session_factory(pg_url)() as s:  # a grace period in the future makes every blob old
            report = collect(s, store, older_than_s=-60, dry_run=True)
        assert unnamed in report.blob_paths and named not in report.blob_paths and store.exists(unnamed)
        with session_factory(pg_url)() as s:
            collect(s, store, older_than_s=-60)
        assert not store.exists(unnamed)


def test_the_workers_reaper_thread_runs_gc_every_gc_interval(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real reaper loop of ``worker.tasks`` with gc every 0.5 s: an hour-old orphan goes."""
    import threading

    from core.settings import get_settings

    made = _setup(pg_url, tmp_path / "artifacts")
    shas, ids = made["shas"], made["ids"]
    assert isinstance(shas, dict) and isinstance(ids, dict)
    for name, value in {
        "DATABASE_URL": pg_url, "DATA_DIR": str(tmp_path), "ARTIFACT_ROOT": str(tmp_path / "artifacts"),
        "REAPER_INTERVAL_SECONDS": "0.1", "GC_INTERVAL_SECONDS": "0.5",
    }.items():  # fmt: skip
        monkeypatch.setenv(f"REASSEMBLY_{name}", value)
    get_settings.cache_clear()
    from worker.tasks import _reaper_loop

    stop = threading.Event()
    thread = threading.Thread(target=_reaper_loop, args=(stop,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with session_factory(pg_url)() as s:
                if s.get(Artifact, ids["orphan_old"]) is None:
                    break
            time.sleep(0.2)
        else:
            raise AssertionError("the reaper thread did not collect the orphan row within 20 s")
    finally:
        stop.set()
        thread.join(5)
        get_settings.cache_clear()
    assert not (tmp_path / "artifacts" / ".incoming-stale").exists()
    with session_factory(pg_url)() as s:
        assert s.get(Artifact, ids["used"]) is not None

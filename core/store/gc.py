"""Garbage collection of the artifact store: rows nothing refers to, blobs no row names.

Two passes, each with a grace period (``older_than_s``) so that work in flight is never collected:

1. artifact rows that no resource refers to (``core.store.dependents.ARTIFACT_REFS``) and that were
   created more than ``older_than_s`` ago: a worker stores a blob and its row, then refers to it from
   its resource a moment later;
2. files under the store's root whose name is a sha256 that no artifact row names, and stale
   ``.incoming-*`` temporary files (a process killed mid-upload), last modified more than
   ``older_than_s`` ago: an upload renames its blob into place (a fresh mtime, even when the same
   bytes were there before) before its row is committed.

Rows go first, so a blob whose last row was just collected goes in the same pass.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.store.artifacts import INCOMING_PREFIX, SHA256_NAME, ArtifactStore, LocalArtifactStore
from core.store.dependents import ARTIFACT_REFS, forget_artifacts
from core.store.models import Artifact

DEFAULT_OLDER_THAN_S = 3600.0  # an hour: far longer than any upload or job takes to name its blob


@dataclass
class GcReport:
    dry_run: bool
    older_than_s: float
    rows: int = 0  # artifact rows deleted (or that would be)
    row_bytes: int = 0  # their recorded sizes
    blobs: int = 0  # files removed from the store (or that would be)
    blob_bytes: int = 0
    temp_files: int = 0  # of those, stale .incoming-* files
    row_ids: list[str] = field(default_factory=list)
    blob_paths: list[str] = field(default_factory=list)


def orphan_rows(session: Session, *, older_than_s: float) -> list[Artifact]:
    """Artifact rows nothing refers to, created before the grace period."""
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    stmt = select(Artifact).where(Artifact.created_at < cutoff)
    for column in ARTIFACT_REFS:
        stmt = stmt.where(Artifact.id.not_in(select(column).where(column.is_not(None))))
    return list(session.scalars(stmt.order_by(Artifact.id)))


def _store_files(root: Path) -> list[Path]:
    """Blobs (``ab/cd/<sha256>``) and temporary files (``.incoming-*`` in the root) of the store."""
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_file() and p.name.startswith(INCOMING_PREFIX)]
    for first in root.iterdir():
        if not (first.is_dir() and len(first.name) == 2):
            continue
        for second in first.iterdir():
            if second.is_dir() and len(second.name) == 2:
                found.extend(
                    p
                    for p in second.iterdir()
                    if p.is_file()
                    and SHA256_NAME.match(p.name)
                    and p.name.startswith(first.name + second.name)
                )
    return found


def _remove_if_stale(root: Path, path: Path, cutoff: float) -> bool:
    """Remove ``path`` unless a writer has just renamed a fresh copy into place: it is moved aside
    first (atomic), and put back if the file moved is new. A blob's bytes are its name, so putting
    back whichever copy was moved is always right."""
    aside = root / f".gc-{os.getpid()}-{path.name}"
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False
    if aside.stat().st_mtime >= cutoff:
        os.replace(aside, path)
        return False
    aside.unlink()
    return True


def collect(
    session: Session, store: ArtifactStore, *, older_than_s: float, dry_run: bool = False
) -> GcReport:
    """Delete orphan artifact rows and unnamed blobs older than ``older_than_s`` (commits the rows
    unless ``dry_run``) and say what went, with the bytes freed.

    Blob ages come from the file's mtime in the local directory (and a blob is moved aside before it
    is removed, so a copy renamed into place meanwhile survives), from the listing's LastModified on
    another backend (``ArtifactStore.iter_blobs``)."""
    report = GcReport(dry_run=dry_run, older_than_s=older_than_s)
    rows = orphan_rows(session, older_than_s=older_than_s)
    if dry_run:
        gone = {r.id for r in rows}
    else:
        gone = set(forget_artifacts(session, [r.id for r in rows]))
        session.commit()
    for row in rows:
        if row.id in gone:
            report.rows += 1
            report.row_bytes += row.size
            report.row_ids.append(row.id)
    still = select(Artifact.sha256)
    if gone:  # a dry run did not delete them: count their blobs as if it had
        still = still.where(Artifact.id.not_in(gone))
    named = set(session.scalars(still))
    cutoff = time.time() - older_than_s
    if not isinstance(store, LocalArtifactStore):  # S3: the listing's LastModified is the age
        for blob in store.iter_blobs():
            if blob.sha256 in named or blob.modified >= cutoff:
                continue
            if not dry_run:
                store.delete(blob.sha256)
            report.blobs += 1
            report.blob_bytes += blob.size
            report.blob_paths.append(blob.sha256)
        return report
    for path in _store_files(store.root):
        if path.name in named:
            continue
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        if stat.st_mtime >= cutoff:
            continue
        if not dry_run and not _remove_if_stale(store.root, path, cutoff):
            continue
        report.blobs += 1
        report.blob_bytes += stat.st_size
        report.temp_files += path.name.startswith(INCOMING_PREFIX)
        report.blob_paths.append(str(path.relative_to(store.root)))
    return report

"""Uploaded files: stored by content, checked, and forgotten again when the check refuses them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from fastapi import UploadFile
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import ReassemblyError
from core.store.artifacts import ArtifactStore
from core.store.models import Artifact

Info = TypeVar("Info")


def store_checked(
    store: ArtifactStore,
    session: Session,
    upload: UploadFile,
    max_bytes: int,
    check: Callable[..., Info],
) -> tuple[str, int, Info]:
    """Stream the upload into the store (up to ``max_bytes``: 413 beyond), run ``check`` on the
    stored file and return (sha256, size, what the check found). A refused file's blob is removed
    unless another artifact row already uses the same bytes."""
    with store.put_spooled(upload.file, max_bytes=max_bytes) as (sha, size, local):
        try:
            info = check(local)  # a local copy of the stored bytes (the S3 backend's spool file)
        except ReassemblyError:
            discard_blob(store, session, sha)
            raise
    return sha, size, info


def discard_blob(store: ArtifactStore, session: Session, sha: str) -> None:
    """Remove a blob no artifact row (of any owner) names: an upload refused after it was stored.
    One that a row names stays (the same bytes were uploaded before)."""
    if session.scalar(select(Artifact.id).where(Artifact.sha256 == sha).limit(1)) is None:
        store.delete(sha)


@contextmanager
def discarded_on_error(store: ArtifactStore, session: Session, sha: str) -> Iterator[None]:
    """Whatever refuses a stored upload inside the block (a name taken, a reused key: any
    ``ReassemblyError``) rolls back the rows the block added and removes the blob unless a row
    names it."""
    try:
        yield
    except ReassemblyError:
        session.rollback()
        discard_blob(store, session, sha)
        raise

"""Content-addressed artifact storage.

Blobs live at ``<root>/<sha[:2]>/<sha[2:4]>/<sha>``: the path is derived from the content hash by
the server and never from anything a client sends. Writes go to a temporary file in the root and
are renamed into place, so a reader never sees a partial blob.

``ArtifactStore`` is what the API and the worker use; ``open_store(settings)`` picks the backend from
``REASSEMBLY_ARTIFACT_URL``: unset or ``file:///path`` is this local directory, ``s3://bucket/prefix``
is the S3-compatible backend (``core.store.s3``). Garbage collection needs only ``exists``,
``delete`` and ``iter_shas``, which both backends have.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NamedTuple, Protocol
from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound, PayloadTooLarge, StorageFull
from core.store.ids import new_id
from core.store.models import Artifact

if TYPE_CHECKING:
    from core.settings import Settings

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
SHA256_NAME = _SHA256
INCOMING_PREFIX = ".incoming-"  # temporary files of writes in progress, in the root
CHUNK = 1024 * 1024
# No space left, quota exceeded, file too large for the process's limit: the store cannot take it.
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def storage_full(exc: OSError) -> StorageFull:
    return StorageFull(
        "the server's artifact storage is full, so nothing was stored; try again later, or ask the "
        "operator to free space (reassembly gc) or enlarge the store",
        details={"errno": errno.errorcode.get(exc.errno or 0, str(exc.errno))},
    )


@contextmanager
def spooled(stream: BinaryIO, directory: Path, max_bytes: int | None) -> Iterator[tuple[str, int, Path]]:
    """Copy ``stream`` into a temporary file in ``directory`` while hashing it, refusing more than
    ``max_bytes`` (413); yields (sha256, size, path) and removes the file afterwards unless the
    caller moved it. A full disk is ``StorageFull``, never a partial blob."""
    name = ""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix=INCOMING_PREFIX)
        digest, size = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise PayloadTooLarge(
                        f"the upload exceeds the limit of {max_bytes} bytes: send a smaller file, or raise "
                        "the server's REASSEMBLY_MAX_WEIGHTS_BYTES / REASSEMBLY_MAX_DATASET_BYTES"
                    )
                digest.update(chunk)
                out.write(chunk)
        yield digest.hexdigest(), size, Path(name)
    except OSError as exc:
        if exc.errno in FULL_ERRNOS:
            raise storage_full(exc) from exc
        raise
    finally:
        if name and os.path.exists(name):
            os.unlink(name)


class StoredBlob(NamedTuple):
    """One blob as a listing sees it: garbage collection leaves young ones alone (a row may follow)."""

    sha256: str
    size: int
    modified: float  # seconds since the epoch: file mtime, or the S3 object's LastModified


class ArtifactStore(Protocol):
    """Content-addressed blob storage: every method takes or returns a sha256 (lowercase hex);
    an unknown or malformed one is ``NotFound``."""

    def put_stream(self, stream: BinaryIO, *, max_bytes: int | None = None) -> tuple[str, int]:
        """Copy ``stream`` in (``PayloadTooLarge`` past ``max_bytes``); returns (sha256, size)."""
        ...

    def put_spooled(
        self, stream: BinaryIO, *, max_bytes: int | None = None
    ) -> AbstractContextManager[tuple[str, int, Path]]:
        """Like ``put_stream``, and yields (sha256, size, a local file holding the bytes) for parsers
        that need a path; the file is only valid inside the block."""
        ...

    def put_bytes(self, data: bytes) -> tuple[str, int]: ...

    def read_bytes(self, sha256: str) -> bytes: ...

    def iter_range(self, sha256: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes start..end inclusive, streamed."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def delete(self, sha256: str) -> None:
        """Remove the blob; a missing one is not an error."""
        ...

    def iter_shas(self) -> Iterator[str]:
        """Every stored blob's sha256, in no particular order (garbage collection)."""
        ...

    def iter_blobs(self) -> Iterator[StoredBlob]:
        """Every stored blob with its size and last-modified time, in no particular order."""
        ...

    def download_url(self, sha256: str, *, filename: str, media_type: str) -> str | None:
        """A URL the client may fetch the blob from directly (a presigned GET), or None to stream it."""
        ...


class LocalArtifactStore:
    def __init__(self, root: Path):
        self.root = Path(root).resolve()  # created on the first write, not here

    def path_for(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise NotFound(f"no artifact with sha256 {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put_stream(self, stream: BinaryIO, *, max_bytes: int | None = None) -> tuple[str, int]:
        """Copy ``stream`` into the store; returns (sha256, size)."""
        with spooled(stream, self.root, max_bytes) as (sha, size, temporary):
            final = self.path_for(sha)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temporary, final)
        return sha, size

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        import io

        return self.put_stream(io.BytesIO(data))

    def read_bytes(self, sha256: str) -> bytes:
        try:
            return self.path_for(sha256).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no artifact with sha256 {sha256!r}") from None

    def iter_range(self, sha256: str, start: int, end: int) -> Iterator[bytes]:
        """Yield bytes start..end inclusive."""
        try:
            f = open(self.path_for(sha256), "rb")  # noqa: SIM115 (closed by the with below)
        except FileNotFoundError:
            raise NotFound(f"no artifact with sha256 {sha256!r}") from None
        with f:
            f.seek(start)
            remaining = end - start + 1
            while remaining > 0:
                chunk = f.read(min(CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk

    @contextmanager
    def put_spooled(
        self, stream: BinaryIO, *, max_bytes: int | None = None
    ) -> Iterator[tuple[str, int, Path]]:
        """``put_stream``, then the stored file itself is the local copy."""
        sha, size = self.put_stream(stream, max_bytes=max_bytes)
        yield sha, size, self.path_for(sha)

    def exists(self, sha256: str) -> bool:
        return _SHA256.match(sha256) is not None and self.path_for(sha256).is_file()

    def delete(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)

    def iter_shas(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for path in self.root.glob("[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]/*"):
            sha = path.name
            if _SHA256.match(sha) and path.parent.parent.name == sha[:2] and path.parent.name == sha[2:4]:
                yield sha

    def iter_blobs(self) -> Iterator[StoredBlob]:
        for sha in self.iter_shas():
            try:
                st = self.path_for(sha).stat()
            except FileNotFoundError:  # removed since it was listed
                continue
            yield StoredBlob(sha, st.st_size, st.st_mtime)

    def download_url(self, sha256: str, *, filename: str, media_type: str) -> str | None:
        return None  # always streamed by the API


def record_artifact(
    session: Session, sha256: str, size: int, *, owner: str, media_type: str, filename: str
) -> Artifact:
    """The owner's Artifact row for a stored blob: one row per owner and content, so identical bytes
    uploaded by two owners give each their own id, filename and access (the blob itself is shared)."""
    existing = session.scalar(select(Artifact).where(Artifact.owner == owner, Artifact.sha256 == sha256))
    if existing is not None:
        return existing
    row = Artifact(
        id=new_id("art"), owner=owner, sha256=sha256, size=size, media_type=media_type, filename=filename
    )
    session.add(row)
    session.flush()
    return row


def open_store(settings: Settings) -> ArtifactStore:
    """The artifact store the settings name: ``REASSEMBLY_ARTIFACT_URL`` (``s3://bucket/prefix?...``
    or ``file:///path``), else the local directory ``resolved_artifact_root``. The API and the
    worker both build theirs here."""
    url = (settings.artifact_url or "").strip()
    if not url:
        return LocalArtifactStore(settings.resolved_artifact_root)
    scheme = urlsplit(url).scheme
    if scheme == "file":
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or parts.query or not parts.path:
            raise InvalidInput(f"artifact URL {url!r} is not file:///ABSOLUTE/PATH")
        return LocalArtifactStore(Path(unquote(parts.path)))
    if scheme == "s3":
        from core.store.s3 import S3ArtifactStore

        presign = settings.artifact_presign_seconds if settings.artifact_redirect_downloads else None
        return S3ArtifactStore.from_url(
            url, spool_dir=settings.resolved_data_dir / "spool", presign_seconds=presign
        )
    raise InvalidInput(f"artifact URL {url!r}: the scheme must be s3:// or file://")

"""Content-addressed artifact storage.

Blobs live at ``<root>/<sha[:2]>/<sha[2:4]>/<sha>``: the path is derived from the content hash by
the server and never from anything a client sends. Writes go to a temporary file in the root and
are renamed into place, so a reader never sees a partial blob.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound, PayloadTooLarge
from core.store.ids import new_id
from core.store.models import Artifact

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1024 * 1024


class LocalArtifactStore:
    def __init__(self, root: Path):
        self.root = Path(root).resolve()  # created on the first write, not here

    def path_for(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise NotFound(f"no artifact with sha256 {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put_stream(self, stream: BinaryIO, *, max_bytes: int | None = None) -> tuple[str, int]:
        """Copy ``stream`` into the store; returns (sha256, size)."""
        digest = hashlib.sha256()
        size = 0
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise PayloadTooLarge(
                            f"the upload exceeds the limit of {max_bytes} bytes; "
                            "raise REASSEMBLY_MAX_UPLOAD_BYTES or send a smaller file"
                        )
                    digest.update(chunk)
                    out.write(chunk)
            sha = digest.hexdigest()
            final = self.path_for(sha)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_name, final)
            return sha, size
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        import io

        return self.put_stream(io.BytesIO(data))

    def read_bytes(self, sha256: str) -> bytes:
        return self.path_for(sha256).read_bytes()

    def iter_range(self, sha256: str, start: int, end: int) -> Iterator[bytes]:
        """Yield bytes start..end inclusive."""
        with open(self.path_for(sha256), "rb") as f:
            f.seek(start)
            remaining = end - start + 1
            while remaining > 0:
                chunk = f.read(min(CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk


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

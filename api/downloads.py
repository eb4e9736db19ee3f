"""Streaming downloads of stored artifacts with ETag (the sha256), Content-Length and Range."""

from __future__ import annotations

import re

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from core.store.artifacts import LocalArtifactStore
from core.store.models import Artifact

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def artifact_response(
    request: Request, store: LocalArtifactStore, artifact: Artifact, filename: str
) -> Response:
    etag = f'"{artifact.sha256}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'attachment; filename="{filename}"',
        "X-Content-SHA256": artifact.sha256,
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    size = artifact.size
    start, end, status = 0, size - 1, 200
    spec = request.headers.get("range")
    if spec:
        m = _RANGE.match(spec.strip())
        if not m or (not m.group(1) and not m.group(2)):
            return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
        if m.group(1):
            start = int(m.group(1))
            end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
        else:  # suffix range: the last N bytes
            start = max(size - int(m.group(2)), 0)
        if start > end or start >= size:
            return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(
        store.iter_range(artifact.sha256, start, end),
        status_code=status,
        media_type=artifact.media_type,
        headers=headers,
    )

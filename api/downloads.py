"""Streaming downloads of stored artifacts with ETag (the sha256), Content-Length and Range.

``Range`` and ``If-None-Match`` are parsed without trusting their size: a bound of any length is
compared as digits (a 5,000-digit bound raised ValueError in ``int()`` before), and every refusal is
a 416 whose JSON body says what was wrong and what to send instead."""

from __future__ import annotations

import re

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from api.errors import error_body
from core.store.artifacts import ArtifactStore
from core.store.models import Artifact

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_MAX_DIGITS = 18  # every artifact is smaller than 10**18 bytes; longer bounds are clamped, never parsed


def _bound(digits: str) -> int:
    """A Range bound as an int, huge ones as 10**18 (beyond any artifact) without converting them."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= _MAX_DIGITS else 10**_MAX_DIGITS


def _unsatisfiable(headers: dict[str, str], size: int, why: str) -> Response:
    return JSONResponse(
        error_body(
            "range_not_satisfiable",
            f"Range cannot be served: {why}. Send one range 'bytes=START-END' (0-based, inclusive) "
            f"within the artifact's {size} bytes, 'bytes=START-' or 'bytes=-LAST_N'.",
            {"size": size},
        ),
        status_code=416,
        headers={**headers, "Content-Range": f"bytes */{size}"},
    )


def _etag_matches(header: str | None, etag: str) -> bool:
    """RFC 9110 If-None-Match: '*' or a comma-separated list of tags, compared weakly (W/ ignored)."""
    if not header:
        return False
    tags = [t.strip() for t in header.split(",")]
    return any(t == "*" or t.removeprefix("W/") == etag for t in tags)


def artifact_response(request: Request, store: ArtifactStore, artifact: Artifact, filename: str) -> Response:
    etag = f'"{artifact.sha256}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'attachment; filename="{filename}"',
        "X-Content-SHA256": artifact.sha256,
    }
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    # S3 with REASSEMBLY_ARTIFACT_REDIRECT_DOWNLOADS: the client fetches (and ranges) it from S3.
    url = store.download_url(artifact.sha256, filename=filename, media_type=artifact.media_type)
    if url is not None:
        return RedirectResponse(url, status_code=307, headers=headers)
    size = artifact.size
    start, end, status = 0, size - 1, 200
    spec = request.headers.get("range")
    if spec:
        m = _RANGE.match(spec.strip())
        if not m or (not m.group(1) and not m.group(2)):
            why = "several ranges are not supported" if "," in spec else f"{spec[:60]!r} is not a byte range"
            return _unsatisfiable(headers, size, why)
        if m.group(1):
            start = _bound(m.group(1))
            end = min(_bound(m.group(2)), size - 1) if m.group(2) else size - 1
            if m.group(2) and _bound(m.group(2)) < start:
                return _unsatisfiable(headers, size, "the range ends before it starts")
        else:  # suffix range: the last N bytes
            suffix = _bound(m.group(2))
            if suffix == 0:
                return _unsatisfiable(headers, size, "a suffix range of 0 bytes is empty")
            start = max(size - suffix, 0)
        if start >= size:
            return _unsatisfiable(headers, size, f"the range starts at or after the end ({size} bytes)")
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(
        store.iter_range(artifact.sha256, start, end),
        status_code=status,
        media_type=artifact.media_type,
        headers=headers,
    )

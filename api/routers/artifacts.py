"""Direct artifact download by id (weights, checkpoints, sketches)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import OwnerDep, SessionDep, StoreDep
from api.downloads import artifact_response
from core.errors import NotFound
from core.store.models import Artifact

router = APIRouter(tags=["artifacts"])


@router.get(
    "/v1/artifacts/{artifact_id}",
    operation_id="download_artifact",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
    },
)
def download_artifact(
    artifact_id: str, request: Request, session: SessionDep, store: StoreDep, owner: OwnerDep
) -> Response:
    """An artifact of the caller's (another owner's id is answered exactly like an unknown one)."""
    artifact = session.get(Artifact, artifact_id)
    if artifact is None or artifact.owner != owner:
        raise NotFound(f"no artifact with id {artifact_id!r}")
    return artifact_response(request, store, artifact, artifact.filename)

"""Direct artifact download by id (weights, checkpoints, sketches)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import OwnerDep, SessionDep, StoreDep
from api.downloads import artifact_response
from api.owned import BINARY, owned
from core.store.models import Artifact

router = APIRouter(tags=["artifacts"])


@router.get(
    "/v1/artifacts/{artifact_id}", operation_id="download_artifact", response_class=Response, responses=BINARY
)
def download_artifact(
    artifact_id: str, request: Request, session: SessionDep, store: StoreDep, owner: OwnerDep
) -> Response:
    """An artifact of the caller's (another owner's id is answered exactly like an unknown one)."""
    artifact = owned(session, Artifact, artifact_id, owner)
    return artifact_response(request, store, artifact, artifact.filename)

"""Every read of a stored resource goes through here, scoped to its owner.

Another owner's id is answered exactly like an unknown one (404), so ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import OwnerDep, SessionDep, StoreDep
from api.downloads import artifact_response
from api.pagination import paginate
from api.schemas import Page
from core.errors import Conflict, NotFound
from core.store.artifacts import ArtifactStore
from core.store.dependents import delete_unused
from core.store.models import NOUNS, Artifact, Job
from core.store.models import OwnedRow as Row

Out = TypeVar("Out", bound=BaseModel)


def binary(media_type: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of an endpoint that answers with a file, so clients can fetch it."""
    return {200: {"content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}}


BINARY = binary("application/octet-stream")


def owned(session: Session, row_type: type[Row], row_id: str, owner: str) -> Row:
    """The caller's row of this kind with this id, or 404."""
    row = session.get(row_type, row_id)
    if row is None or row.owner != owner:
        raise NotFound(f"no {NOUNS[row_type]} with id {row_id!r}")
    return row


@dataclass
class PageParams:
    limit: int
    cursor: str | None


async def page_params(
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> PageParams:
    return PageParams(limit, cursor)


PageDep = Annotated[PageParams, Depends(page_params)]


def owned_page(
    session: Session,
    row_type: type[Row],
    schema: type[Out],
    owner: str,
    page: PageParams,
    **filters: Any,
) -> Page[Out]:
    """One page of the caller's rows of this kind, oldest first (jobs: newest first)."""
    stmt = select(row_type).where(row_type.owner == owner)
    for column, value in filters.items():
        if value is not None:
            stmt = stmt.where(getattr(row_type, column) == value)
    newest_first = row_type is Job
    return paginate(
        session, stmt, row_type.id, schema, limit=page.limit, cursor=page.cursor, newest_first=newest_first
    )


@dataclass
class Scope:
    """The caller's view of the store: every lookup and download checks the owner."""

    session: Session
    owner: str
    store: ArtifactStore
    request: Request

    def get(self, row_type: type[Row], row_id: str) -> Row:
        return owned(self.session, row_type, row_id, self.owner)

    def download(self, artifact_id: str | None, filename: str, missing: str) -> Response:
        """Stream an artifact a resource of the caller's points to; ``missing`` says why there is
        none yet (409)."""
        artifact = self.session.get(Artifact, artifact_id) if artifact_id else None
        if artifact is None:
            raise Conflict(missing)
        return artifact_response(self.request, self.store, artifact, filename)


async def scope(session: SessionDep, owner: OwnerDep, store: StoreDep, request: Request) -> Scope:
    return Scope(session, owner, store, request)


ScopeDep = Annotated[Scope, Depends(scope)]


async def in_session(request: Request, work: Callable[[Session], BaseModel]) -> Response:
    """The JSON of what ``work`` reads with a fresh session, computed in one hop to the thread pool.

    The hot GETs use this instead of a sync session dependency plus a sync endpoint (three hops,
    most of their latency under load), and answer the schema's JSON directly rather than letting
    FastAPI validate the returned model a second time (the route's ``response_model`` documents it)."""

    def run() -> bytes:
        with request.app.state.sessions() as session:
            return work(session).model_dump_json().encode()

    return Response(await run_in_threadpool(run), media_type="application/json")


def resource_routes(
    router: APIRouter,
    collection: str,
    row_type: type[Row],
    schema: type[Out],
    *,
    out: Callable[[Row], Out] | None = None,
    listed: bool = True,
    archive: str | None = None,
) -> None:
    """The standard routes of a resource, all scoped to the caller: ``GET /v1/<collection>/{<noun>_id}``
    (``get_<noun>``), ``DELETE`` there (``delete_<noun>``: 204, or 409 naming whatever still uses
    it, ``core.store.dependents``), the caller's rows a page at a time at ``GET /v1/<collection>``
    when ``listed`` (``list_<collection>``), and ``GET .../checkpoint`` when the resource has an
    ``archive`` (its description; ``download_<noun>_checkpoint``)."""
    noun = NOUNS[row_type]
    convert: Callable[[Row], Out] = out or schema.model_validate
    path, item = f"/v1/{collection}", f"/v1/{collection}/{{{noun}_id}}"

    async def read_one(row_id: str, request: Request, owner: OwnerDep) -> Response:
        return await in_session(request, lambda s: convert(owned(s, row_type, row_id, owner)))

    def delete_one(row_id: str, session: SessionDep, owner: OwnerDep) -> Response:
        row: Any = owned(session, row_type, row_id, owner)  # jobs and artifacts have no DELETE
        delete_unused(session, row)
        session.commit()
        return Response(status_code=204)

    def download_archive(row_id: str, scope: ScopeDep) -> Response:
        row: Any = scope.get(row_type, row_id)
        missing = f"{noun} {row_id} is {row.status}; its checkpoint exists once it is done"
        return scope.download(row.checkpoint_artifact_id, f"{row_id}.zip", missing)

    async def list_page(request: Request, owner: OwnerDep, page: PageDep) -> Response:
        return await in_session(request, lambda s: owned_page(s, row_type, schema, owner, page))

    for endpoint in (read_one, delete_one, download_archive):  # the id is named after its resource
        endpoint.__annotations__["row_id"] = Annotated[str, Path(alias=f"{noun}_id", max_length=64)]
    if listed:
        page_schema: Any = Page[schema]  # type: ignore[valid-type]
        router.add_api_route(
            path,
            list_page,
            operation_id=f"list_{collection}",
            response_model=page_schema,
            summary=f"List {collection}",
        )
    router.add_api_route(
        item, read_one, operation_id=f"get_{noun}", response_model=schema, summary=f"Get a {noun}"
    )
    router.add_api_route(
        item,
        delete_one,
        methods=["DELETE"],
        operation_id=f"delete_{noun}",
        status_code=204,
        summary=f"Delete a {noun}",
        description=f"Delete the {noun} and what only it refers to; 409 names whatever still uses it.",
    )
    if archive is not None:
        router.add_api_route(
            f"{item}/checkpoint",
            download_archive,
            operation_id=f"download_{noun}_checkpoint",
            response_class=Response,
            responses=binary("application/zip"),
            summary=f"Download a {noun}'s archive",
            description=archive,
        )

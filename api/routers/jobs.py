"""Jobs: list, get, cancel, progress events (SSE), and the canary."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import OwnerDep, SessionDep, SessionsDep
from api.owned import PageDep, in_session, owned, owned_page
from api.schemas import CanaryIn, JobOut, Page
from api.starting import StarterDep
from core.errors import InvalidInput
from core.store.jobs import request_cancel
from core.store.models import TERMINAL_STATUSES, Job

router = APIRouter(tags=["jobs"])


@router.get("/v1/jobs", operation_id="list_jobs", response_model=Page[JobOut])
async def list_jobs(
    request: Request,
    owner: OwnerDep,
    page: PageDep,
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"] | None = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    return await in_session(
        request, lambda s: owned_page(s, Job, JobOut, owner, page, status=status, kind=kind)
    )


@router.get("/v1/jobs/{job_id}", operation_id="get_job", response_model=JobOut)
async def read_job(job_id: str, request: Request, owner: OwnerDep) -> Response:
    return await in_session(request, lambda s: JobOut.model_validate(owned(s, Job, job_id, owner)))


@router.post("/v1/jobs/{job_id}/cancel", operation_id="cancel_job", response_model=JobOut)
def cancel_job(job_id: str, session: SessionDep, owner: OwnerDep) -> JobOut:
    owned(session, Job, job_id, owner)
    return JobOut.model_validate(request_cancel(session, job_id))


@router.post("/v1/jobs:canary", operation_id="create_canary_job", response_model=JobOut, status_code=202)
def create_canary(body: CanaryIn, jobs: StarterDep) -> JobOut:
    settings = jobs.settings
    if body.seconds > settings.max_canary_seconds:
        raise InvalidInput(
            f"seconds={body.seconds:g} exceeds the canary limit of {settings.max_canary_seconds:g} s",
            details={"max_seconds": settings.max_canary_seconds},
        )
    return JobOut.model_validate(jobs.start("canary", body.model_dump()))


def _event_payload(job: Job) -> dict:
    return {
        "id": job.id,
        "status": job.status,
        "stage": job.stage,
        "progress": job.progress,
        "message": job.message,
        "error_code": job.error_code,
        "error_message": job.error_message,
    }


@router.get(
    "/v1/jobs/{job_id}/events",
    operation_id="stream_job_events",
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent progress events."}},
)
async def job_events(
    job_id: str, request: Request, sessions: SessionsDep, owner: OwnerDep
) -> StreamingResponse:
    """Server-sent events: one ``progress`` event per change, then one ``end`` event when terminal."""

    def fetch() -> Job:
        with sessions() as s:
            return owned(s, Job, job_id, owner)

    first = await run_in_threadpool(fetch)  # 404 before the stream starts

    async def stream() -> AsyncIterator[str]:
        last: dict | None = None
        job = first
        while True:
            payload = _event_payload(job)
            if payload != last:
                yield f"event: progress\ndata: {json.dumps(payload)}\n\n"
                last = payload
            if job.status in TERMINAL_STATUSES:
                yield f"event: end\ndata: {json.dumps(payload)}\n\n"
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.2)
            job = await run_in_threadpool(fetch)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

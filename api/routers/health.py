"""Liveness, readiness (database + broker) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from api.deps import SessionDep, SettingsDep
from api.schemas import HealthOut
from core.broker import celery_for
from core.settings import Settings

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="get_liveness", response_model=HealthOut)
async def healthz() -> HealthOut:
    return HealthOut(status="ok")


@router.get("/readyz", operation_id="get_readiness", response_model=HealthOut)
def readyz(session: SessionDep, settings: SettingsDep) -> Response:
    checks: dict[str, str] = {}
    try:
        session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, do not raise: readiness is an answer, not an error
        checks["database"] = f"unreachable: {type(exc).__name__}"
    checks["broker"] = _broker_check(settings)
    ok = all(v == "ok" for v in checks.values())
    body = HealthOut(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


def _broker_check(settings: Settings) -> str:
    try:
        with celery_for(settings).connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}"


@router.get(
    "/metrics",
    operation_id="get_metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
def metrics(request: Request, session: SessionDep) -> Response:
    """Prometheus text format: requests by method, route template and status; latency by route;
    jobs by status."""
    return Response(request.app.state.metrics.render(session), media_type=CONTENT_TYPE_LATEST)

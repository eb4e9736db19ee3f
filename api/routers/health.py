"""Liveness, readiness (database + broker) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import func, select, text

from api.deps import SessionDep, SettingsDep
from api.schemas import HealthOut
from core.broker import celery_for
from core.settings import Settings
from core.store.models import JOB_STATUSES, Job

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


@router.get("/metrics", operation_id="get_metrics", response_class=PlainTextResponse)
def metrics(request: Request, session: SessionDep) -> str:
    counts = dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
    lines = [
        "# HELP reassembly_jobs Jobs by status.",
        "# TYPE reassembly_jobs gauge",
        *(f'reassembly_jobs{{status="{s}"}} {int(counts.get(s, 0))}' for s in JOB_STATUSES),
        "# HELP reassembly_http_requests_total HTTP requests served by this process.",
        "# TYPE reassembly_http_requests_total counter",
        *(
            f'reassembly_http_requests_total{{method="{m}",status="{c}"}} {n}'
            for (m, c), n in sorted(request.app.state.request_counts.items())
        ),
    ]
    return "\n".join(lines) + "\n"

"""The one place where errors become HTTP responses: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from core import errors as E

log = logging.getLogger(__name__)

STATUS_BY_ERROR: list[tuple[type[E.ReassemblyError], int]] = [
    (E.NotFound, 404),
    (E.Conflict, 409),
    (E.PayloadTooLarge, 413),
    (E.UnsupportedMediaType, 415),
    (E.InvalidInput, 422),  # includes Infeasible, NotALineGraph
    (E.Unavailable, 503),
    (E.StorageFull, 507),
]


def status_for(exc: E.ReassemblyError) -> int:
    for cls, status in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return 500


DATABASE_RETRY_AFTER_SECONDS = 5


def database_unavailable(exc: BaseException) -> bool:
    """A connection failure, a dropped connection or an exhausted pool: the request may succeed later.
    Integrity and data errors are not (they stay 500s, or are mapped where they are caught)."""
    if isinstance(exc, sa_exc.TimeoutError | sa_exc.DisconnectionError):  # pool timeout / disconnect
        return True
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(E.ReassemblyError)
    async def _ours(_: Request, exc: E.ReassemblyError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=status_for(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in err.get("loc", ())), "problem": err.get("msg", "")}
            for err in exc.errors()
        ]
        summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:5])
        return JSONResponse(
            error_body("invalid_request", f"the request is not valid: {summary}", {"problems": problems}),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(sa_exc.SQLAlchemyError)
    async def _database(_: Request, exc: sa_exc.SQLAlchemyError) -> JSONResponse:
        if not database_unavailable(exc):
            log.error("unhandled database error", exc_info=exc)
            return JSONResponse(
                error_body("internal_error", "an unexpected error occurred; the server log has the details"),
                status_code=500,
            )
        log.warning("database unavailable: %s", exc)
        return JSONResponse(
            error_body(
                "database_unavailable",
                "the database is unavailable right now (unreachable, or no free connection); "
                f"retry in {DATABASE_RETRY_AFTER_SECONDS} s",
            ),
            status_code=503,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(
            error_body("internal_error", "an unexpected error occurred; the server log has the details"),
            status_code=500,
        )

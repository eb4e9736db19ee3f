"""Auth and size limits checked before a request body is read (a pure ASGI middleware).

FastAPI parses a multipart body — spooling it to the temp folder — while it resolves a route's
dependencies, so the bearer token and the upload limit used to be checked only after the whole body
was on disk: an unauthenticated 300 MB POST was stored before its 401. This middleware runs first.

For every request that carries a body (``Content-Length`` > 0 or ``Transfer-Encoding``), a
credential (``Authorization``) or asks for ``/metrics``:

1. the caller (``api.deps.caller_for``: env-var tokens, then API keys — one primary-key lookup in the
   thread pool — the same check as every route's) → 401 when unknown or revoked, 403 when the key's
   scope does not allow the method (a read key's POST), 503 when the database is unreachable. The
   caller is left in the ASGI scope for ``api.deps.get_caller``, so a request costs one lookup.

Then, for a request with a body:

1. the declared ``Content-Length`` against the route's limit → 413 (or 400 when it is not a number);
2. the bytes actually received (chunked bodies, lying lengths) → 413 as soon as they pass the limit:
   ``receive`` stops the route, whose own answer is replaced by the 413.

Limits (``core.settings``): ``max_weights_bytes`` for ``POST /v1/models:upload`` and
``max_dataset_bytes`` for ``POST /v1/datasets`` (each plus ``max_json_bytes`` for the multipart
envelope and form fields), ``max_json_bytes`` for any other body.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import CALLER_KEY, UNAUTHORIZED, caller_for, forbidden
from api.errors import DATABASE_RETRY_AFTER_SECONDS, database_unavailable, error_body
from core.settings import Settings
from core.store import keys
from core.store.db import session_factory

_MAX_DIGITS = 18
KEY_REQUIRED_PATHS = frozenset({"/metrics"})  # need a credential (any scope) whenever auth is on


class _BodyTooLarge(Exception):
    """Raised from ``receive`` once the body passed the limit; the middleware answers 413."""


def _mib(n: int) -> str:
    return f"{n / 1024**2:.1f} MiB ({n} bytes)"


class BodyLimits:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def limit_for(self, path: str) -> tuple[int, str]:
        """The most bytes a body sent to ``path`` may have, and the setting that raises it."""
        s = self.settings
        if path == "/v1/models:upload":
            return s.max_weights_bytes + s.max_json_bytes, "REASSEMBLY_MAX_WEIGHTS_BYTES"
        if path == "/v1/datasets":
            return s.max_dataset_bytes + s.max_json_bytes, "REASSEMBLY_MAX_DATASET_BYTES"
        return s.max_json_bytes, "REASSEMBLY_MAX_JSON_BYTES"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        chunked = "transfer-encoding" in headers
        has_body = chunked or (length is not None and length.strip() not in ("", "0"))
        authorization = headers.get("authorization")
        checked = has_body or authorization is not None or scope["path"] in KEY_REQUIRED_PATHS
        if checked and not await self._authorize(scope, send, authorization):
            return
        if not has_body:
            await self.app(scope, receive, send)  # no body: the routes check everything else
            return
        limit, setting = self.limit_for(scope["path"])
        too_large = (
            f"the request body is larger than the limit of {_mib(limit)} for {scope['path']}; "
            f"send a smaller file, or ask the operator to raise {setting}"
        )
        if length is not None:
            digits = length.strip()
            if not digits.isdigit():
                await _answer(
                    send, 400, "invalid_request", f"Content-Length {digits[:40]!r} is not a number of bytes"
                )
                return
            if len(digits.lstrip("0")) > _MAX_DIGITS or int(digits) > limit:
                await _answer(send, 413, "payload_too_large", too_large, details={"limit": limit})
                return

        received = 0
        over = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise _BodyTooLarge(too_large)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:
                return  # the route's own answer to the interrupted body is replaced by the 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await _answer(send, 413, "payload_too_large", too_large, details={"limit": limit})

    def _sessions(self, scope: Scope) -> sessionmaker[Session]:
        app = scope.get("app")
        sessions = getattr(getattr(app, "state", None), "sessions", None)
        return sessions if sessions is not None else session_factory(self.settings.resolved_database_url)

    async def _authorize(self, scope: Scope, send: Send, authorization: str | None) -> bool:
        """Resolve the caller into the scope, or answer 401/403/503 and return False."""
        try:
            caller = await caller_for(self.settings, self._sessions(scope), authorization)
        except sa_exc.SQLAlchemyError as exc:  # outside the app's exception handlers: answer here
            if not database_unavailable(exc):
                raise
            await _answer(
                send,
                503,
                "database_unavailable",
                "the database is unavailable right now, so the API key cannot be checked; "
                f"retry in {DATABASE_RETRY_AFTER_SECONDS} s",
                headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
            )
            return False
        if caller is None:
            await _answer(send, 401, "unauthorized", UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
            return False
        if not keys.scope_allows(caller.scope, scope["method"]):
            await _answer(send, 403, "forbidden", forbidden(caller, scope["method"]))
            return False
        scope[CALLER_KEY] = caller
        return True


async def _answer(
    send: Send,
    status: int,
    code: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    body = json.dumps(error_body(code, message, details)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    # The body was not read: ask the client to close, so the connection does not carry its rest.
    raw.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})

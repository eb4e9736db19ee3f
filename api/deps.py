"""FastAPI dependencies: settings, database sessions, the caller's identity, the artifact store.

Dependencies that never block are ``async def``: FastAPI runs a sync dependency in its thread pool,
and those hops were most of a GET's cost under load. Only the session is sync, because closing it
returns a connection (and may roll back) over the network."""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from core.settings import Settings
from core.store import keys
from core.store.artifacts import ArtifactStore


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_sessions(request: Request) -> sessionmaker[Session]:
    return request.app.state.sessions


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


async def get_store(request: Request) -> ArtifactStore:
    return request.app.state.artifacts


UNAUTHORIZED = "missing, unknown or revoked API key: send 'Authorization: Bearer <token>'"
CALLER_KEY = "reassembly.caller"  # where api.body_limits leaves the caller it resolved, in the ASGI scope
OPEN_RECHECK_SECONDS = 2.0  # an open service (no tokens, no keys) looks for a first key this often


@dataclass(frozen=True)
class Caller:
    owner: str
    scope: str  # read | write | admin (core.store.keys)


ANONYMOUS = Caller("anonymous", "admin")
_keys_seen: weakref.WeakKeyDictionary[sessionmaker[Session], float] = weakref.WeakKeyDictionary()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None for anything else."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _open_until(sessions: sessionmaker[Session]) -> float:
    """Until when (monotonic) the service may be taken to have no keys; 0 when it must look."""
    return _keys_seen.get(sessions, 0.0)


def _keys_required(sessions: sessionmaker[Session]) -> bool:
    """Whether a key was ever created. A yes is kept for good (keys are revoked, never deleted); a no
    is kept for OPEN_RECHECK_SECONDS, so an open service costs one tiny query per interval, not per
    request, and a key created by ``reassembly keys create`` closes it within that interval."""
    if _open_until(sessions) == math.inf:
        return True
    with sessions() as session:
        required = keys.any_keys(session)
    _keys_seen[sessions] = math.inf if required else time.monotonic() + OPEN_RECHECK_SECONDS
    return required


def caller_for_token(
    settings: Settings, sessions: sessionmaker[Session], authorization: str | None
) -> Caller | None:
    """Who sends ``authorization``, with what scope; None for a missing, unknown or revoked
    credential when credentials are required. May query the database (blocking: see ``caller_for``).

    1. an env-var token (``REASSEMBLY_API_TOKENS``) → its owner, scope admin;
    2. a key's token (``rsk_...``) → one primary-key lookup in ``api_keys`` (revoked → None);
    3. otherwise None when env tokens are configured or any key was ever created, else ``anonymous``
       (the open single-user mode)."""
    token = bearer_token(authorization)
    tokens = settings.tokens
    if token is not None and token in tokens:
        return Caller(tokens[token], "admin")
    if token is not None and keys.looks_like_key(token):
        with sessions() as session:
            found = keys.resolve(session, token)
            session.commit()  # last_used_at, at most once a minute
        if found is not None:
            _keys_seen[sessions] = math.inf
            return Caller(*found)
    if tokens or _keys_required(sessions):
        return None
    return ANONYMOUS


async def caller_for(
    settings: Settings, sessions: sessionmaker[Session], authorization: str | None
) -> Caller | None:
    """``caller_for_token`` without blocking the event loop: env-var tokens (and a service known to
    require keys, for a request without a key) are answered at once; a database lookup runs in the
    thread pool."""
    token = bearer_token(authorization)
    tokens = settings.tokens
    if token is not None and token in tokens:
        return Caller(tokens[token], "admin")
    is_key = token is not None and keys.looks_like_key(token)
    if not is_key and (tokens or _open_until(sessions) == math.inf):
        return None
    if not is_key and time.monotonic() < _open_until(sessions):
        return ANONYMOUS
    return await run_in_threadpool(caller_for_token, settings, sessions, authorization)


def forbidden(caller: Caller, method: str) -> str:
    return (
        f"this API key has scope '{caller.scope}'; {method.upper()} needs scope "
        f"'{keys.scope_needed(method)}' or higher: use another key, or ask an admin for one"
    )


async def get_caller(
    request: Request,
    settings: Annotated[Settings, Depends(get_app_settings)],
    authorization: Annotated[str | None, Header()] = None,
) -> Caller:
    """The caller: ``api.body_limits`` resolved it already for every request with a credential or a
    body (and refused 401/403 there); resolved here otherwise (a request without a credential)."""
    caller = request.scope.get(CALLER_KEY)
    if caller is None:
        caller = await caller_for(settings, request.app.state.sessions, authorization)
    if caller is None:
        raise HTTPException(401, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
    if not keys.scope_allows(caller.scope, request.method):
        raise HTTPException(403, forbidden(caller, request.method))
    return caller


async def get_owner(caller: Annotated[Caller, Depends(get_caller)]) -> str:
    """API keys and env-var tokens when configured; a single anonymous owner otherwise."""
    return caller.owner


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
SessionsDep = Annotated[sessionmaker[Session], Depends(get_sessions)]
OwnerDep = Annotated[str, Depends(get_owner)]
StoreDep = Annotated[ArtifactStore, Depends(get_store)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]

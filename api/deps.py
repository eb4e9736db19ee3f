"""FastAPI dependencies: settings, database sessions, the caller's identity, the artifact store.

Dependencies that never block are ``async def``: FastAPI runs a sync dependency in its thread pool,
and those hops were most of a GET's cost under load. Only the session is sync, because closing it
returns a connection (and may roll back) over the network."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from core.store.artifacts import LocalArtifactStore


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_sessions(request: Request) -> sessionmaker[Session]:
    return request.app.state.sessions


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


async def get_store(request: Request) -> LocalArtifactStore:
    return request.app.state.artifacts


UNAUTHORIZED = "missing or unknown API token: send 'Authorization: Bearer <token>'"


def owner_for_token(settings: Settings, authorization: str | None) -> str | None:
    """The owner an ``Authorization: Bearer <token>`` header names; ``anonymous`` when no tokens are
    configured; None when the header is missing, not a Bearer credential or an unknown token. Shared by
    ``get_owner`` and ``api.body_limits`` (which refuses before a request body is read)."""
    tokens = settings.tokens
    if not tokens:
        return "anonymous"
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    return tokens.get(token) if token else None


async def get_owner(
    settings: Annotated[Settings, Depends(get_app_settings)],
    authorization: Annotated[str | None, Header()] = None,
) -> str:
    """Bearer-token auth when tokens are configured; a single anonymous owner otherwise."""
    owner = owner_for_token(settings, authorization)
    if owner is None:
        raise HTTPException(401, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
    return owner


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
SessionsDep = Annotated[sessionmaker[Session], Depends(get_sessions)]
OwnerDep = Annotated[str, Depends(get_owner)]
StoreDep = Annotated[LocalArtifactStore, Depends(get_store)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]

"""API keys: created and revoked by an operator (``reassembly keys``), checked on every request.

A token is ``rsk_<26 hex>_<64 hex>``: the first part names its row (``key_<26 hex>``, so a request
costs one primary-key lookup), the second is 32 random bytes. Only ``sha256(token)`` is stored —
tokens are high-entropy, so a plain hash is enough (no salt or slow KDF needed) — and it is compared
in constant time. The token is returned once by ``create_key`` and never again.

Scopes: ``read`` may GET and HEAD; ``write`` may also POST, PUT, PATCH and DELETE; ``admin`` may
do everything (key management included, should it ever get endpoints).

Functions take the caller's session and do not commit: the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound
from core.store.ids import new_id
from core.store.models import API_KEY_SCOPES, ApiKey, utcnow

TOKEN_PREFIX = "rsk_"
ID_PREFIX = "key_"
SCOPES = API_KEY_SCOPES
READ_METHODS = frozenset({"GET", "HEAD"})
WRITE_METHODS = READ_METHODS | {"POST", "PUT", "PATCH", "DELETE"}
LAST_USED_RESOLUTION = timedelta(minutes=1)  # last_used_at is written at most once a minute per key
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key: everything but its hash."""

    id: str
    owner: str
    name: str
    scope: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def scope_allows(scope: str, method: str) -> bool:
    if scope == "admin":
        return True
    if scope == "write":
        return method.upper() in WRITE_METHODS
    return scope == "read" and method.upper() in READ_METHODS


def scope_needed(method: str) -> str:
    """The least scope that may send ``method``."""
    method = method.upper()
    if method in READ_METHODS:
        return "read"
    return "write" if method in WRITE_METHODS else "admin"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_key(token: str) -> bool:
    return token.startswith(TOKEN_PREFIX)


def key_id_of(token: str) -> str | None:
    """The id of the row a token names, or None when it is not shaped like one of our tokens."""
    parts = token.split("_")
    if len(parts) != 3 or parts[0] + "_" != TOKEN_PREFIX:
        return None
    ident, secret = parts[1], parts[2]
    if len(ident) != 26 or len(secret) != 64 or not set(ident + secret) <= _HEX:
        return None
    return ID_PREFIX + ident


def create_key(session: Session, owner: str, name: str, scope: str) -> tuple[str, str]:
    """A new key for ``owner``: returns ``(key_id, token)``; the token is not stored and cannot be
    shown again."""
    owner, name = owner.strip(), name.strip()
    if scope not in SCOPES:
        raise InvalidInput(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    if not owner or len(owner) > 100:
        raise InvalidInput("owner must be 1 to 100 characters")
    if len(name) > 200:
        raise InvalidInput("name must be at most 200 characters")
    key_id = new_id("key")
    token = f"{TOKEN_PREFIX}{key_id.removeprefix(ID_PREFIX)}_{secrets.token_hex(32)}"
    session.add(
        ApiKey(
            id=key_id,
            owner=owner,
            name=name,
            scope=scope,
            key_hash=hash_token(token),
            prefix=token[: len(TOKEN_PREFIX) + 26 + 5],  # rsk_<id>_ and 4 of 64 secret hex digits
            created_at=utcnow(),
        )
    )
    session.flush()
    return key_id, token


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(
        row.id, row.owner, row.name, row.scope, row.prefix, row.created_at, row.revoked_at, row.last_used_at
    )


def list_keys(session: Session, owner: str | None = None) -> list[KeyInfo]:
    query = select(ApiKey).order_by(ApiKey.id)
    if owner is not None:
        query = query.where(ApiKey.owner == owner)
    return [_info(row) for row in session.scalars(query)]


def revoke_key(session: Session, key_id: str) -> KeyInfo:
    """Revoke a key (at once: every request looks its key up). Revoking a revoked key is a no-op."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"no API key {key_id!r}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    return _info(row)


def resolve(session: Session, token: str) -> tuple[str, str] | None:
    """``(owner, scope)`` for a valid, unrevoked key's token; None otherwise. One primary-key query;
    ``last_used_at`` is refreshed (an UPDATE the caller commits) when older than a minute."""
    key_id = key_id_of(token)
    if key_id is None:
        return None
    row = session.execute(
        select(ApiKey.key_hash, ApiKey.owner, ApiKey.scope, ApiKey.revoked_at, ApiKey.last_used_at).where(
            ApiKey.id == key_id
        )
    ).one_or_none()
    if row is None:
        return None
    key_hash, owner, scope, revoked_at, last_used_at = row
    if not hmac.compare_digest(key_hash, hash_token(token)) or revoked_at is not None:
        return None
    now = utcnow()
    if last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION:
        session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))
    return owner, scope


def any_keys(session: Session) -> bool:
    """Whether a key was ever created (revoked ones count): then the API requires a credential."""
    return bool(session.scalar(select(exists().where(ApiKey.id.is_not(None)))))

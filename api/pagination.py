"""Cursor pagination over time-ordered ids: the cursor is the last id of the previous page."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.orm import Session

from api.schemas import Page

T = TypeVar("T", bound=BaseModel)


def paginate(
    session: Session,
    stmt: Select[Any],
    id_column: Any,
    schema: type[T],
    *,
    limit: int,
    cursor: str | None,
    newest_first: bool = False,
) -> Page[T]:
    if cursor:
        stmt = stmt.where(id_column < cursor if newest_first else id_column > cursor)
    stmt = stmt.order_by(id_column.desc() if newest_first else id_column).limit(limit + 1)
    rows = list(session.scalars(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page[schema](  # type: ignore[valid-type]
        items=[schema.model_validate(r) for r in rows], next_cursor=rows[-1].id if more and rows else None
    )

"""The one way an endpoint starts a job: idempotent replay, resource row and job in one commit, then
the message. Every job-starting endpoint takes a ``StarterDep`` instead of six parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from api.deps import IdempotencyKey, OwnerDep, SessionDep, SessionsDep, SettingsDep
from api.jobs_service import replayed_job, start_job
from api.owned import Row
from core.errors import Conflict
from core.settings import Settings
from core.store.ids import new_id
from core.store.models import NOUNS, Job

Body = BaseModel | dict[str, Any]


def _plain(body: Body) -> dict[str, Any]:
    return body.model_dump() if isinstance(body, BaseModel) else body


@dataclass
class JobStarter:
    session: Session
    sessions: sessionmaker[Session]
    settings: Settings
    owner: str
    key: str | None
    response: Response

    def replayed(self, kind: str, body: Body, row_type: type[Row]) -> tuple[Row, Job] | None:
        """The resource and job an earlier request with this Idempotency-Key and body created (200).

        A key whose resource was deleted since is refused: re-running its finished job would leave a
        new row pending for ever."""
        job = replayed_job(self.session, self.owner, self.key, kind, _plain(body))
        if job is None:
            return None
        row = self.session.get(row_type, job.subject_id or "")
        if row is None:
            raise Conflict(
                f"the {NOUNS[row_type]} created with Idempotency-Key {self.key!r} (job {job.id}) "
                "was deleted; send the request again with a new key",
                details={"job_id": job.id},
            )
        self.response.status_code = 200
        return row, job

    def start_for(self, row: Row, kind: str, body: Body) -> Job:
        """Add a new resource row and start the job that fills it (its id as ``<noun>_id``), committed
        together."""
        self.session.add(row)
        job, _ = self._start(kind, {f"{NOUNS[type(row)]}_id": row.id}, row.id, _plain(body))
        return job

    def start_new(self, row_type: type[Row], prefix: str, body: BaseModel, **columns: Any) -> tuple[Row, Job]:
        """A new resource row of the caller's — ``columns`` stored as columns, the rest of the request
        as its ``config`` — and the job that fills it (its kind is the row's noun), committed together."""
        config = body.model_dump(exclude=set(columns))
        row = row_type(id=new_id(prefix), owner=self.owner, config=config, **columns)
        return row, self.start_for(row, NOUNS[row_type], body)

    def start(self, kind: str, params: dict[str, Any], subject_id: str | None = None) -> Job:
        """Start a job on an existing resource (or none); a replayed key answers 200 with its job."""
        job, created = self._start(kind, params, subject_id, None)
        if not created:
            self.response.status_code = 200
        return job

    def _start(
        self, kind: str, params: dict[str, Any], subject_id: str | None, body: Any
    ) -> tuple[Job, bool]:
        return start_job(
            self.session,
            self.sessions,
            self.settings,
            kind=kind,
            params=params,
            owner=self.owner,
            idempotency_key=self.key,
            subject_id=subject_id,
            body_for_hash=body,
        )


async def job_starter(
    response: Response,
    session: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    owner: OwnerDep,
    idempotency_key: IdempotencyKey = None,
) -> JobStarter:
    return JobStarter(session, sessions, settings, owner, idempotency_key, response)


StarterDep = Annotated[JobStarter, Depends(job_starter)]

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.job_out_status import JobOutStatus

if TYPE_CHECKING:
    from ..models.job_out_error_details_type_0 import JobOutErrorDetailsType0
    from ..models.job_out_result_type_0 import JobOutResultType0


T = TypeVar("T", bound="JobOut")


@_attrs_define
class JobOut:
    """
    Attributes:
        id (str):
        kind (str):
        queue (str):
        status (JobOutStatus):
        stage (str):
        progress (float):
        message (str):
        error_code (None | str):
        error_message (None | str):
        error_details (JobOutErrorDetailsType0 | None):
        result (JobOutResultType0 | None):
        attempts (int):
        cancel_requested (bool):
        subject_id (None | str):
        owner (str):
        created_at (datetime.datetime):
        updated_at (datetime.datetime):
        started_at (datetime.datetime | None):
        finished_at (datetime.datetime | None):
    """

    id: str
    kind: str
    queue: str
    status: JobOutStatus
    stage: str
    progress: float
    message: str
    error_code: None | str
    error_message: None | str
    error_details: JobOutErrorDetailsType0 | None
    result: JobOutResultType0 | None
    attempts: int
    cancel_requested: bool
    subject_id: None | str
    owner: str
    created_at: datetime.datetime
    updated_at: datetime.datetime
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.job_out_error_details_type_0 import JobOutErrorDetailsType0  # noqa: PLC0415
        from ..models.job_out_result_type_0 import JobOutResultType0  # noqa: PLC0415

        id = self.id

        kind = self.kind

        queue = self.queue

        status = self.status.value

        stage = self.stage

        progress = self.progress

        message = self.message

        error_code: None | str
        error_code = self.error_code

        error_message: None | str
        error_message = self.error_message

        error_details: dict[str, Any] | None
        if isinstance(self.error_details, JobOutErrorDetailsType0):
            error_details = self.error_details.to_dict()
        else:
            error_details = self.error_details

        result: dict[str, Any] | None
        if isinstance(self.result, JobOutResultType0):
            result = self.result.to_dict()
        else:
            result = self.result

        attempts = self.attempts

        cancel_requested = self.cancel_requested

        subject_id: None | str
        subject_id = self.subject_id

        owner = self.owner

        created_at = self.created_at.isoformat()

        updated_at = self.updated_at.isoformat()

        started_at: None | str
        if isinstance(self.started_at, datetime.datetime):
            started_at = self.started_at.isoformat()
        else:
            started_at = self.started_at

        finished_at: None | str
        if isinstance(self.finished_at, datetime.datetime):
            finished_at = self.finished_at.isoformat()
        else:
            finished_at = self.finished_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "kind": kind,
                "queue": queue,
                "status": status,
                "stage": stage,
                "progress": progress,
                "message": message,
                "error_code": error_code,
                "error_message": error_message,
                "error_details": error_details,
                "result": result,
                "attempts": attempts,
                "cancel_requested": cancel_requested,
                "subject_id": subject_id,
                "owner": owner,
                "created_at": created_at,
                "updated_at": updated_at,
                "started_at": started_at,
                "finished_at": finished_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.job_out_error_details_type_0 import JobOutErrorDetailsType0  # noqa: PLC0415
        from ..models.job_out_result_type_0 import JobOutResultType0  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        kind = d.pop("kind")

        queue = d.pop("queue")

        status = JobOutStatus(d.pop("status"))

        stage = d.pop("stage")

        progress = d.pop("progress")

        message = d.pop("message")

        def _parse_error_code(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        error_code = _parse_error_code(d.pop("error_code"))

        def _parse_error_message(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        error_message = _parse_error_message(d.pop("error_message"))

        def _parse_error_details(data: object) -> JobOutErrorDetailsType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                error_details_type_0 = JobOutErrorDetailsType0.from_dict(data)

                return error_details_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(JobOutErrorDetailsType0 | None, data)

        error_details = _parse_error_details(d.pop("error_details"))

        def _parse_result(data: object) -> JobOutResultType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                result_type_0 = JobOutResultType0.from_dict(data)

                return result_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(JobOutResultType0 | None, data)

        result = _parse_result(d.pop("result"))

        attempts = d.pop("attempts")

        cancel_requested = d.pop("cancel_requested")

        def _parse_subject_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        subject_id = _parse_subject_id(d.pop("subject_id"))

        owner = d.pop("owner")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        def _parse_started_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                started_at_type_0 = datetime.datetime.fromisoformat(data)

                return started_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        started_at = _parse_started_at(d.pop("started_at"))

        def _parse_finished_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                finished_at_type_0 = datetime.datetime.fromisoformat(data)

                return finished_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        finished_at = _parse_finished_at(d.pop("finished_at"))

        job_out = cls(
            id=id,
            kind=kind,
            queue=queue,
            status=status,
            stage=stage,
            progress=progress,
            message=message,
            error_code=error_code,
            error_message=error_message,
            error_details=error_details,
            result=result,
            attempts=attempts,
            cancel_requested=cancel_requested,
            subject_id=subject_id,
            owner=owner,
            created_at=created_at,
            updated_at=updated_at,
            started_at=started_at,
            finished_at=finished_at,
        )

        job_out.additional_properties = d
        return job_out

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties

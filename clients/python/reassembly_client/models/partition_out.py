from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.partition_out_status import PartitionOutStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.job_out import JobOut
    from ..models.partition_out_config import PartitionOutConfig
    from ..models.partition_out_error_type_0 import PartitionOutErrorType0
    from ..models.set_out import SetOut


T = TypeVar("T", bound="PartitionOut")


@_attrs_define
class PartitionOut:
    """
    Attributes:
        id (str):
        status (PartitionOutStatus):
        config (PartitionOutConfig):
        created_at (datetime.datetime):
        model_ids (list[str]):
        probe_dataset_id (str):
        error (None | PartitionOutErrorType0 | Unset):
        checkpoint_available (bool | Unset): Its archive can be downloaded (…/checkpoint). Default: False.
        job (JobOut | None | Unset):
        objective (float | None | Unset):
        restarts_used (int | None | Unset):
        sets (list[SetOut] | Unset):
    """

    id: str
    status: PartitionOutStatus
    config: PartitionOutConfig
    created_at: datetime.datetime
    model_ids: list[str]
    probe_dataset_id: str
    error: None | PartitionOutErrorType0 | Unset = UNSET
    checkpoint_available: bool | Unset = False
    job: JobOut | None | Unset = UNSET
    objective: float | None | Unset = UNSET
    restarts_used: int | None | Unset = UNSET
    sets: list[SetOut] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.job_out import JobOut  # noqa: PLC0415
        from ..models.partition_out_error_type_0 import PartitionOutErrorType0  # noqa: PLC0415

        id = self.id

        status = self.status.value

        config = self.config.to_dict()

        created_at = self.created_at.isoformat()

        model_ids = self.model_ids

        probe_dataset_id = self.probe_dataset_id

        error: dict[str, Any] | None | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        elif isinstance(self.error, PartitionOutErrorType0):
            error = self.error.to_dict()
        else:
            error = self.error

        checkpoint_available = self.checkpoint_available

        job: dict[str, Any] | None | Unset
        if isinstance(self.job, Unset):
            job = UNSET
        elif isinstance(self.job, JobOut):
            job = self.job.to_dict()
        else:
            job = self.job

        objective: float | None | Unset
        if isinstance(self.objective, Unset):
            objective = UNSET
        else:
            objective = self.objective

        restarts_used: int | None | Unset
        if isinstance(self.restarts_used, Unset):
            restarts_used = UNSET
        else:
            restarts_used = self.restarts_used

        sets: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.sets, Unset):
            sets = []
            for sets_item_data in self.sets:
                sets_item = sets_item_data.to_dict()
                sets.append(sets_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "status": status,
                "config": config,
                "created_at": created_at,
                "model_ids": model_ids,
                "probe_dataset_id": probe_dataset_id,
            }
        )
        if error is not UNSET:
            field_dict["error"] = error
        if checkpoint_available is not UNSET:
            field_dict["checkpoint_available"] = checkpoint_available
        if job is not UNSET:
            field_dict["job"] = job
        if objective is not UNSET:
            field_dict["objective"] = objective
        if restarts_used is not UNSET:
            field_dict["restarts_used"] = restarts_used
        if sets is not UNSET:
            field_dict["sets"] = sets

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.job_out import JobOut  # noqa: PLC0415
        from ..models.partition_out_config import PartitionOutConfig  # noqa: PLC0415
        from ..models.partition_out_error_type_0 import PartitionOutErrorType0  # noqa: PLC0415
        from ..models.set_out import SetOut  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        status = PartitionOutStatus(d.pop("status"))

        config = PartitionOutConfig.from_dict(d.pop("config"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        model_ids = cast(list[str], d.pop("model_ids"))

        probe_dataset_id = d.pop("probe_dataset_id")

        def _parse_error(data: object) -> None | PartitionOutErrorType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                error_type_0 = PartitionOutErrorType0.from_dict(data)

                return error_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PartitionOutErrorType0 | Unset, data)

        error = _parse_error(d.pop("error", UNSET))

        checkpoint_available = d.pop("checkpoint_available", UNSET)

        def _parse_job(data: object) -> JobOut | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                job_type_0 = JobOut.from_dict(data)

                return job_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(JobOut | None | Unset, data)

        job = _parse_job(d.pop("job", UNSET))

        def _parse_objective(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        objective = _parse_objective(d.pop("objective", UNSET))

        def _parse_restarts_used(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        restarts_used = _parse_restarts_used(d.pop("restarts_used", UNSET))

        _sets = d.pop("sets", UNSET)
        sets: list[SetOut] | Unset = UNSET
        if _sets is not UNSET:
            sets = []
            for sets_item_data in _sets:
                sets_item = SetOut.from_dict(sets_item_data)

                sets.append(sets_item)

        partition_out = cls(
            id=id,
            status=status,
            config=config,
            created_at=created_at,
            model_ids=model_ids,
            probe_dataset_id=probe_dataset_id,
            error=error,
            checkpoint_available=checkpoint_available,
            job=job,
            objective=objective,
            restarts_used=restarts_used,
            sets=sets,
        )

        partition_out.additional_properties = d
        return partition_out

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

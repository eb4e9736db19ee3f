from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.composition_out_status import CompositionOutStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.composition_out_config import CompositionOutConfig
    from ..models.composition_out_error_type_0 import CompositionOutErrorType0
    from ..models.composition_out_result_type_0 import CompositionOutResultType0
    from ..models.job_out import JobOut


T = TypeVar("T", bound="CompositionOut")


@_attrs_define
class CompositionOut:
    """Components assembled into one classifier. Its ``result``, once done: params/FLOPs before
    (components side by side) and after, score1_unscaled, score1, score2, scales, class_labels, each
    component's accuracy on its own classes, max_abs_diff (assembled vs concatenated components before
    scaling), split sizes, seconds.

        Attributes:
            id (str):
            status (CompositionOutStatus):
            config (CompositionOutConfig):
            created_at (datetime.datetime):
            component_ids (list[str]):
            scaling_dataset_id (str):
            error (CompositionOutErrorType0 | None | Unset):
            checkpoint_available (bool | Unset): Its archive can be downloaded (…/checkpoint). Default: False.
            job (JobOut | None | Unset):
            result (CompositionOutResultType0 | None | Unset):
    """

    id: str
    status: CompositionOutStatus
    config: CompositionOutConfig
    created_at: datetime.datetime
    component_ids: list[str]
    scaling_dataset_id: str
    error: CompositionOutErrorType0 | None | Unset = UNSET
    checkpoint_available: bool | Unset = False
    job: JobOut | None | Unset = UNSET
    result: CompositionOutResultType0 | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.composition_out_error_type_0 import CompositionOutErrorType0  # noqa: PLC0415
        from ..models.composition_out_result_type_0 import CompositionOutResultType0  # noqa: PLC0415
        from ..models.job_out import JobOut  # noqa: PLC0415

        id = self.id

        status = self.status.value

        config = self.config.to_dict()

        created_at = self.created_at.isoformat()

        component_ids = self.component_ids

        scaling_dataset_id = self.scaling_dataset_id

        error: dict[str, Any] | None | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        elif isinstance(self.error, CompositionOutErrorType0):
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

        result: dict[str, Any] | None | Unset
        if isinstance(self.result, Unset):
            result = UNSET
        elif isinstance(self.result, CompositionOutResultType0):
            result = self.result.to_dict()
        else:
            result = self.result

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "status": status,
                "config": config,
                "created_at": created_at,
                "component_ids": component_ids,
                "scaling_dataset_id": scaling_dataset_id,
            }
        )
        if error is not UNSET:
            field_dict["error"] = error
        if checkpoint_available is not UNSET:
            field_dict["checkpoint_available"] = checkpoint_available
        if job is not UNSET:
            field_dict["job"] = job
        if result is not UNSET:
            field_dict["result"] = result

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.composition_out_config import CompositionOutConfig  # noqa: PLC0415
        from ..models.composition_out_error_type_0 import CompositionOutErrorType0  # noqa: PLC0415
        from ..models.composition_out_result_type_0 import CompositionOutResultType0  # noqa: PLC0415
        from ..models.job_out import JobOut  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        status = CompositionOutStatus(d.pop("status"))

        config = CompositionOutConfig.from_dict(d.pop("config"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        component_ids = cast(list[str], d.pop("component_ids"))

        scaling_dataset_id = d.pop("scaling_dataset_id")

        def _parse_error(data: object) -> CompositionOutErrorType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                error_type_0 = CompositionOutErrorType0.from_dict(data)

                return error_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CompositionOutErrorType0 | None | Unset, data)

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

        def _parse_result(data: object) -> CompositionOutResultType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                result_type_0 = CompositionOutResultType0.from_dict(data)

                return result_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CompositionOutResultType0 | None | Unset, data)

        result = _parse_result(d.pop("result", UNSET))

        composition_out = cls(
            id=id,
            status=status,
            config=config,
            created_at=created_at,
            component_ids=component_ids,
            scaling_dataset_id=scaling_dataset_id,
            error=error,
            checkpoint_available=checkpoint_available,
            job=job,
            result=result,
        )

        composition_out.additional_properties = d
        return composition_out

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

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.component_out_status import ComponentOutStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.component_out_config import ComponentOutConfig
    from ..models.component_out_error_type_0 import ComponentOutErrorType0
    from ..models.component_out_result_type_0 import ComponentOutResultType0
    from ..models.job_out import JobOut


T = TypeVar("T", bound="ComponentOut")


@_attrs_define
class ComponentOut:
    """A Model LEGO component. Its ``result``, once done: params/FLOPs before and after,
    accuracy_base, accuracy_base_restricted, accuracy_component (Disa.) on the eval split, classes,
    class_labels, samples_per_class, split sizes, weights_sha256, seconds.

        Attributes:
            id (str):
            status (ComponentOutStatus):
            config (ComponentOutConfig):
            created_at (datetime.datetime):
            dataset_id (str):
            error (ComponentOutErrorType0 | None | Unset):
            checkpoint_available (bool | Unset): Its archive can be downloaded (…/checkpoint). Default: False.
            job (JobOut | None | Unset):
            model_id (None | str | Unset): The source model; null once it was deleted.
            result (ComponentOutResultType0 | None | Unset):
    """

    id: str
    status: ComponentOutStatus
    config: ComponentOutConfig
    created_at: datetime.datetime
    dataset_id: str
    error: ComponentOutErrorType0 | None | Unset = UNSET
    checkpoint_available: bool | Unset = False
    job: JobOut | None | Unset = UNSET
    model_id: None | str | Unset = UNSET
    result: ComponentOutResultType0 | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.component_out_error_type_0 import ComponentOutErrorType0  # noqa: PLC0415
        from ..models.component_out_result_type_0 import ComponentOutResultType0  # noqa: PLC0415
        from ..models.job_out import JobOut  # noqa: PLC0415

        id = self.id

        status = self.status.value

        config = self.config.to_dict()

        created_at = self.created_at.isoformat()

        dataset_id = self.dataset_id

        error: dict[str, Any] | None | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        elif isinstance(self.error, ComponentOutErrorType0):
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

        model_id: None | str | Unset
        if isinstance(self.model_id, Unset):
            model_id = UNSET
        else:
            model_id = self.model_id

        result: dict[str, Any] | None | Unset
        if isinstance(self.result, Unset):
            result = UNSET
        elif isinstance(self.result, ComponentOutResultType0):
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
                "dataset_id": dataset_id,
            }
        )
        if error is not UNSET:
            field_dict["error"] = error
        if checkpoint_available is not UNSET:
            field_dict["checkpoint_available"] = checkpoint_available
        if job is not UNSET:
            field_dict["job"] = job
        if model_id is not UNSET:
            field_dict["model_id"] = model_id
        if result is not UNSET:
            field_dict["result"] = result

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.component_out_config import ComponentOutConfig  # noqa: PLC0415
        from ..models.component_out_error_type_0 import ComponentOutErrorType0  # noqa: PLC0415
        from ..models.component_out_result_type_0 import ComponentOutResultType0  # noqa: PLC0415
        from ..models.job_out import JobOut  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        status = ComponentOutStatus(d.pop("status"))

        config = ComponentOutConfig.from_dict(d.pop("config"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        dataset_id = d.pop("dataset_id")

        def _parse_error(data: object) -> ComponentOutErrorType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                error_type_0 = ComponentOutErrorType0.from_dict(data)

                return error_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ComponentOutErrorType0 | None | Unset, data)

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

        def _parse_model_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        model_id = _parse_model_id(d.pop("model_id", UNSET))

        def _parse_result(data: object) -> ComponentOutResultType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                result_type_0 = ComponentOutResultType0.from_dict(data)

                return result_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ComponentOutResultType0 | None | Unset, data)

        result = _parse_result(d.pop("result", UNSET))

        component_out = cls(
            id=id,
            status=status,
            config=config,
            created_at=created_at,
            dataset_id=dataset_id,
            error=error,
            checkpoint_available=checkpoint_available,
            job=job,
            model_id=model_id,
            result=result,
        )

        component_out.additional_properties = d
        return component_out

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

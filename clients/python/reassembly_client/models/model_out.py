from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.model_out_dissection_status import ModelOutDissectionStatus
from ..models.model_out_source import ModelOutSource
from ..models.model_out_status import ModelOutStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.job_out import JobOut
    from ..models.model_out_metrics import ModelOutMetrics
    from ..models.model_out_model_kwargs import ModelOutModelKwargs


T = TypeVar("T", bound="ModelOut")


@_attrs_define
class ModelOut:
    """
    Attributes:
        id (str):
        name (str):
        architecture (str):
        source (ModelOutSource):
        pretrained (bool):
        model_kwargs (ModelOutModelKwargs):
        num_classes (int):
        input_size (list[int]):
        mean (list[float]):
        std (list[float]):
        class_names (list[str] | None):
        params (int):
        flops (int):
        metrics (ModelOutMetrics):
        status (ModelOutStatus):
        dissection_status (ModelOutDissectionStatus):
        weights_artifact_id (None | str):
        created_at (datetime.datetime):
        job (JobOut | None | Unset): The registration or dissection job this response started.
    """

    id: str
    name: str
    architecture: str
    source: ModelOutSource
    pretrained: bool
    model_kwargs: ModelOutModelKwargs
    num_classes: int
    input_size: list[int]
    mean: list[float]
    std: list[float]
    class_names: list[str] | None
    params: int
    flops: int
    metrics: ModelOutMetrics
    status: ModelOutStatus
    dissection_status: ModelOutDissectionStatus
    weights_artifact_id: None | str
    created_at: datetime.datetime
    job: JobOut | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.job_out import JobOut  # noqa: PLC0415

        id = self.id

        name = self.name

        architecture = self.architecture

        source = self.source.value

        pretrained = self.pretrained

        model_kwargs = self.model_kwargs.to_dict()

        num_classes = self.num_classes

        input_size = self.input_size

        mean = self.mean

        std = self.std

        class_names: list[str] | None
        if isinstance(self.class_names, list):
            class_names = self.class_names

        else:
            class_names = self.class_names

        params = self.params

        flops = self.flops

        metrics = self.metrics.to_dict()

        status = self.status.value

        dissection_status = self.dissection_status.value

        weights_artifact_id: None | str
        weights_artifact_id = self.weights_artifact_id

        created_at = self.created_at.isoformat()

        job: dict[str, Any] | None | Unset
        if isinstance(self.job, Unset):
            job = UNSET
        elif isinstance(self.job, JobOut):
            job = self.job.to_dict()
        else:
            job = self.job

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "name": name,
                "architecture": architecture,
                "source": source,
                "pretrained": pretrained,
                "model_kwargs": model_kwargs,
                "num_classes": num_classes,
                "input_size": input_size,
                "mean": mean,
                "std": std,
                "class_names": class_names,
                "params": params,
                "flops": flops,
                "metrics": metrics,
                "status": status,
                "dissection_status": dissection_status,
                "weights_artifact_id": weights_artifact_id,
                "created_at": created_at,
            }
        )
        if job is not UNSET:
            field_dict["job"] = job

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.job_out import JobOut  # noqa: PLC0415
        from ..models.model_out_metrics import ModelOutMetrics  # noqa: PLC0415
        from ..models.model_out_model_kwargs import ModelOutModelKwargs  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        name = d.pop("name")

        architecture = d.pop("architecture")

        source = ModelOutSource(d.pop("source"))

        pretrained = d.pop("pretrained")

        model_kwargs = ModelOutModelKwargs.from_dict(d.pop("model_kwargs"))

        num_classes = d.pop("num_classes")

        input_size = cast(list[int], d.pop("input_size"))

        mean = cast(list[float], d.pop("mean"))

        std = cast(list[float], d.pop("std"))

        def _parse_class_names(data: object) -> list[str] | None:
            if data is None:
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                class_names_type_0 = cast(list[str], data)

                return class_names_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None, data)

        class_names = _parse_class_names(d.pop("class_names"))

        params = d.pop("params")

        flops = d.pop("flops")

        metrics = ModelOutMetrics.from_dict(d.pop("metrics"))

        status = ModelOutStatus(d.pop("status"))

        dissection_status = ModelOutDissectionStatus(d.pop("dissection_status"))

        def _parse_weights_artifact_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        weights_artifact_id = _parse_weights_artifact_id(d.pop("weights_artifact_id"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

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

        model_out = cls(
            id=id,
            name=name,
            architecture=architecture,
            source=source,
            pretrained=pretrained,
            model_kwargs=model_kwargs,
            num_classes=num_classes,
            input_size=input_size,
            mean=mean,
            std=std,
            class_names=class_names,
            params=params,
            flops=flops,
            metrics=metrics,
            status=status,
            dissection_status=dissection_status,
            weights_artifact_id=weights_artifact_id,
            created_at=created_at,
            job=job,
        )

        model_out.additional_properties = d
        return model_out

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

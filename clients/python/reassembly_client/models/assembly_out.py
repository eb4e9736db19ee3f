from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.assembly_out_status import AssemblyOutStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.assembly_out_candidates_item import AssemblyOutCandidatesItem
    from ..models.assembly_out_chosen_type_0 import AssemblyOutChosenType0
    from ..models.assembly_out_config import AssemblyOutConfig
    from ..models.assembly_out_error_type_0 import AssemblyOutErrorType0
    from ..models.assembly_out_model_scores_type_0 import AssemblyOutModelScoresType0
    from ..models.assembly_out_training_type_0 import AssemblyOutTrainingType0
    from ..models.job_out import JobOut


T = TypeVar("T", bound="AssemblyOut")


@_attrs_define
class AssemblyOut:
    """
    Attributes:
        id (str):
        status (AssemblyOutStatus):
        partition_id (str):
        target_dataset_id (str):
        config (AssemblyOutConfig):
        created_at (datetime.datetime):
        candidates (list[AssemblyOutCandidatesItem] | Unset):
        chosen (AssemblyOutChosenType0 | None | Unset):
        model_scores (AssemblyOutModelScoresType0 | None | Unset):
        training (AssemblyOutTrainingType0 | None | Unset):
        error (AssemblyOutErrorType0 | None | Unset):
        checkpoint_available (bool | Unset):  Default: False.
        job (JobOut | None | Unset):
    """

    id: str
    status: AssemblyOutStatus
    partition_id: str
    target_dataset_id: str
    config: AssemblyOutConfig
    created_at: datetime.datetime
    candidates: list[AssemblyOutCandidatesItem] | Unset = UNSET
    chosen: AssemblyOutChosenType0 | None | Unset = UNSET
    model_scores: AssemblyOutModelScoresType0 | None | Unset = UNSET
    training: AssemblyOutTrainingType0 | None | Unset = UNSET
    error: AssemblyOutErrorType0 | None | Unset = UNSET
    checkpoint_available: bool | Unset = False
    job: JobOut | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.assembly_out_chosen_type_0 import AssemblyOutChosenType0  # noqa: PLC0415
        from ..models.assembly_out_error_type_0 import AssemblyOutErrorType0  # noqa: PLC0415
        from ..models.assembly_out_model_scores_type_0 import AssemblyOutModelScoresType0  # noqa: PLC0415
        from ..models.assembly_out_training_type_0 import AssemblyOutTrainingType0  # noqa: PLC0415
        from ..models.job_out import JobOut  # noqa: PLC0415

        id = self.id

        status = self.status.value

        partition_id = self.partition_id

        target_dataset_id = self.target_dataset_id

        config = self.config.to_dict()

        created_at = self.created_at.isoformat()

        candidates: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.candidates, Unset):
            candidates = []
            for candidates_item_data in self.candidates:
                candidates_item = candidates_item_data.to_dict()
                candidates.append(candidates_item)

        chosen: dict[str, Any] | None | Unset
        if isinstance(self.chosen, Unset):
            chosen = UNSET
        elif isinstance(self.chosen, AssemblyOutChosenType0):
            chosen = self.chosen.to_dict()
        else:
            chosen = self.chosen

        model_scores: dict[str, Any] | None | Unset
        if isinstance(self.model_scores, Unset):
            model_scores = UNSET
        elif isinstance(self.model_scores, AssemblyOutModelScoresType0):
            model_scores = self.model_scores.to_dict()
        else:
            model_scores = self.model_scores

        training: dict[str, Any] | None | Unset
        if isinstance(self.training, Unset):
            training = UNSET
        elif isinstance(self.training, AssemblyOutTrainingType0):
            training = self.training.to_dict()
        else:
            training = self.training

        error: dict[str, Any] | None | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        elif isinstance(self.error, AssemblyOutErrorType0):
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

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "status": status,
                "partition_id": partition_id,
                "target_dataset_id": target_dataset_id,
                "config": config,
                "created_at": created_at,
            }
        )
        if candidates is not UNSET:
            field_dict["candidates"] = candidates
        if chosen is not UNSET:
            field_dict["chosen"] = chosen
        if model_scores is not UNSET:
            field_dict["model_scores"] = model_scores
        if training is not UNSET:
            field_dict["training"] = training
        if error is not UNSET:
            field_dict["error"] = error
        if checkpoint_available is not UNSET:
            field_dict["checkpoint_available"] = checkpoint_available
        if job is not UNSET:
            field_dict["job"] = job

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.assembly_out_candidates_item import AssemblyOutCandidatesItem  # noqa: PLC0415
        from ..models.assembly_out_chosen_type_0 import AssemblyOutChosenType0  # noqa: PLC0415
        from ..models.assembly_out_config import AssemblyOutConfig  # noqa: PLC0415
        from ..models.assembly_out_error_type_0 import AssemblyOutErrorType0  # noqa: PLC0415
        from ..models.assembly_out_model_scores_type_0 import AssemblyOutModelScoresType0  # noqa: PLC0415
        from ..models.assembly_out_training_type_0 import AssemblyOutTrainingType0  # noqa: PLC0415
        from ..models.job_out import JobOut  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        status = AssemblyOutStatus(d.pop("status"))

        partition_id = d.pop("partition_id")

        target_dataset_id = d.pop("target_dataset_id")

        config = AssemblyOutConfig.from_dict(d.pop("config"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        _candidates = d.pop("candidates", UNSET)
        candidates: list[AssemblyOutCandidatesItem] | Unset = UNSET
        if _candidates is not UNSET:
            candidates = []
            for candidates_item_data in _candidates:
                candidates_item = AssemblyOutCandidatesItem.from_dict(candidates_item_data)

                candidates.append(candidates_item)

        def _parse_chosen(data: object) -> AssemblyOutChosenType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                chosen_type_0 = AssemblyOutChosenType0.from_dict(data)

                return chosen_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AssemblyOutChosenType0 | None | Unset, data)

        chosen = _parse_chosen(d.pop("chosen", UNSET))

        def _parse_model_scores(data: object) -> AssemblyOutModelScoresType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                model_scores_type_0 = AssemblyOutModelScoresType0.from_dict(data)

                return model_scores_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AssemblyOutModelScoresType0 | None | Unset, data)

        model_scores = _parse_model_scores(d.pop("model_scores", UNSET))

        def _parse_training(data: object) -> AssemblyOutTrainingType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                training_type_0 = AssemblyOutTrainingType0.from_dict(data)

                return training_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AssemblyOutTrainingType0 | None | Unset, data)

        training = _parse_training(d.pop("training", UNSET))

        def _parse_error(data: object) -> AssemblyOutErrorType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                error_type_0 = AssemblyOutErrorType0.from_dict(data)

                return error_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AssemblyOutErrorType0 | None | Unset, data)

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

        assembly_out = cls(
            id=id,
            status=status,
            partition_id=partition_id,
            target_dataset_id=target_dataset_id,
            config=config,
            created_at=created_at,
            candidates=candidates,
            chosen=chosen,
            model_scores=model_scores,
            training=training,
            error=error,
            checkpoint_available=checkpoint_available,
            job=job,
        )

        assembly_out.additional_properties = d
        return assembly_out

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

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.assembly_out_recommendation_type_0 import AssemblyOutRecommendationType0
from ..models.assembly_out_status import AssemblyOutStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.assembly_out_baseline_type_0 import AssemblyOutBaselineType0
    from ..models.assembly_out_candidates_item import AssemblyOutCandidatesItem
    from ..models.assembly_out_chosen_type_0 import AssemblyOutChosenType0
    from ..models.assembly_out_config import AssemblyOutConfig
    from ..models.assembly_out_error_type_0 import AssemblyOutErrorType0
    from ..models.assembly_out_pool_item import AssemblyOutPoolItem
    from ..models.assembly_out_target_type_0 import AssemblyOutTargetType0
    from ..models.assembly_out_zoo_models_item import AssemblyOutZooModelsItem
    from ..models.job_out import JobOut


T = TypeVar("T", bound="AssemblyOut")


@_attrs_define
class AssemblyOut:
    """
    Attributes:
        id (str):
        status (AssemblyOutStatus):
        config (AssemblyOutConfig):
        created_at (datetime.datetime):
        partition_id (str):
        target_dataset_id (str):
        error (AssemblyOutErrorType0 | None | Unset):
        checkpoint_available (bool | Unset): Its archive can be downloaded (…/checkpoint). Default: False.
        job (JobOut | None | Unset):
        candidates (list[AssemblyOutCandidatesItem] | Unset):
        chosen (AssemblyOutChosenType0 | None | Unset):
        baseline (AssemblyOutBaselineType0 | None | Unset):
        baseline_note (None | str | Unset):
        gain (float | None | Unset): Held-out accuracy of the choice minus the baseline's, in points.
        recommendation (AssemblyOutRecommendationType0 | None | Unset): Decided on the validation split: ship the
            reassembly or the best zoo model.
        pool (list[AssemblyOutPoolItem] | Unset):
        zoo_models (list[AssemblyOutZooModelsItem] | Unset):
        target (AssemblyOutTargetType0 | None | Unset): Images in the fit, validation and held-out splits.
    """

    id: str
    status: AssemblyOutStatus
    config: AssemblyOutConfig
    created_at: datetime.datetime
    partition_id: str
    target_dataset_id: str
    error: AssemblyOutErrorType0 | None | Unset = UNSET
    checkpoint_available: bool | Unset = False
    job: JobOut | None | Unset = UNSET
    candidates: list[AssemblyOutCandidatesItem] | Unset = UNSET
    chosen: AssemblyOutChosenType0 | None | Unset = UNSET
    baseline: AssemblyOutBaselineType0 | None | Unset = UNSET
    baseline_note: None | str | Unset = UNSET
    gain: float | None | Unset = UNSET
    recommendation: AssemblyOutRecommendationType0 | None | Unset = UNSET
    pool: list[AssemblyOutPoolItem] | Unset = UNSET
    zoo_models: list[AssemblyOutZooModelsItem] | Unset = UNSET
    target: AssemblyOutTargetType0 | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.assembly_out_baseline_type_0 import AssemblyOutBaselineType0  # noqa: PLC0415
        from ..models.assembly_out_chosen_type_0 import AssemblyOutChosenType0  # noqa: PLC0415
        from ..models.assembly_out_error_type_0 import AssemblyOutErrorType0  # noqa: PLC0415
        from ..models.assembly_out_target_type_0 import AssemblyOutTargetType0  # noqa: PLC0415
        from ..models.job_out import JobOut  # noqa: PLC0415

        id = self.id

        status = self.status.value

        config = self.config.to_dict()

        created_at = self.created_at.isoformat()

        partition_id = self.partition_id

        target_dataset_id = self.target_dataset_id

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

        baseline: dict[str, Any] | None | Unset
        if isinstance(self.baseline, Unset):
            baseline = UNSET
        elif isinstance(self.baseline, AssemblyOutBaselineType0):
            baseline = self.baseline.to_dict()
        else:
            baseline = self.baseline

        baseline_note: None | str | Unset
        if isinstance(self.baseline_note, Unset):
            baseline_note = UNSET
        else:
            baseline_note = self.baseline_note

        gain: float | None | Unset
        if isinstance(self.gain, Unset):
            gain = UNSET
        else:
            gain = self.gain

        recommendation: None | str | Unset
        if isinstance(self.recommendation, Unset):
            recommendation = UNSET
        elif isinstance(self.recommendation, AssemblyOutRecommendationType0):
            recommendation = self.recommendation.value
        else:
            recommendation = self.recommendation

        pool: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.pool, Unset):
            pool = []
            for pool_item_data in self.pool:
                pool_item = pool_item_data.to_dict()
                pool.append(pool_item)

        zoo_models: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.zoo_models, Unset):
            zoo_models = []
            for zoo_models_item_data in self.zoo_models:
                zoo_models_item = zoo_models_item_data.to_dict()
                zoo_models.append(zoo_models_item)

        target: dict[str, Any] | None | Unset
        if isinstance(self.target, Unset):
            target = UNSET
        elif isinstance(self.target, AssemblyOutTargetType0):
            target = self.target.to_dict()
        else:
            target = self.target

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "status": status,
                "config": config,
                "created_at": created_at,
                "partition_id": partition_id,
                "target_dataset_id": target_dataset_id,
            }
        )
        if error is not UNSET:
            field_dict["error"] = error
        if checkpoint_available is not UNSET:
            field_dict["checkpoint_available"] = checkpoint_available
        if job is not UNSET:
            field_dict["job"] = job
        if candidates is not UNSET:
            field_dict["candidates"] = candidates
        if chosen is not UNSET:
            field_dict["chosen"] = chosen
        if baseline is not UNSET:
            field_dict["baseline"] = baseline
        if baseline_note is not UNSET:
            field_dict["baseline_note"] = baseline_note
        if gain is not UNSET:
            field_dict["gain"] = gain
        if recommendation is not UNSET:
            field_dict["recommendation"] = recommendation
        if pool is not UNSET:
            field_dict["pool"] = pool
        if zoo_models is not UNSET:
            field_dict["zoo_models"] = zoo_models
        if target is not UNSET:
            field_dict["target"] = target

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.assembly_out_baseline_type_0 import AssemblyOutBaselineType0  # noqa: PLC0415
        from ..models.assembly_out_candidates_item import AssemblyOutCandidatesItem  # noqa: PLC0415
        from ..models.assembly_out_chosen_type_0 import AssemblyOutChosenType0  # noqa: PLC0415
        from ..models.assembly_out_config import AssemblyOutConfig  # noqa: PLC0415
        from ..models.assembly_out_error_type_0 import AssemblyOutErrorType0  # noqa: PLC0415
        from ..models.assembly_out_pool_item import AssemblyOutPoolItem  # noqa: PLC0415
        from ..models.assembly_out_target_type_0 import AssemblyOutTargetType0  # noqa: PLC0415
        from ..models.assembly_out_zoo_models_item import AssemblyOutZooModelsItem  # noqa: PLC0415
        from ..models.job_out import JobOut  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        status = AssemblyOutStatus(d.pop("status"))

        config = AssemblyOutConfig.from_dict(d.pop("config"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        partition_id = d.pop("partition_id")

        target_dataset_id = d.pop("target_dataset_id")

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

        def _parse_baseline(data: object) -> AssemblyOutBaselineType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                baseline_type_0 = AssemblyOutBaselineType0.from_dict(data)

                return baseline_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AssemblyOutBaselineType0 | None | Unset, data)

        baseline = _parse_baseline(d.pop("baseline", UNSET))

        def _parse_baseline_note(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        baseline_note = _parse_baseline_note(d.pop("baseline_note", UNSET))

        def _parse_gain(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        gain = _parse_gain(d.pop("gain", UNSET))

        def _parse_recommendation(data: object) -> AssemblyOutRecommendationType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                recommendation_type_0 = AssemblyOutRecommendationType0(data)

                return recommendation_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AssemblyOutRecommendationType0 | None | Unset, data)

        recommendation = _parse_recommendation(d.pop("recommendation", UNSET))

        _pool = d.pop("pool", UNSET)
        pool: list[AssemblyOutPoolItem] | Unset = UNSET
        if _pool is not UNSET:
            pool = []
            for pool_item_data in _pool:
                pool_item = AssemblyOutPoolItem.from_dict(pool_item_data)

                pool.append(pool_item)

        _zoo_models = d.pop("zoo_models", UNSET)
        zoo_models: list[AssemblyOutZooModelsItem] | Unset = UNSET
        if _zoo_models is not UNSET:
            zoo_models = []
            for zoo_models_item_data in _zoo_models:
                zoo_models_item = AssemblyOutZooModelsItem.from_dict(zoo_models_item_data)

                zoo_models.append(zoo_models_item)

        def _parse_target(data: object) -> AssemblyOutTargetType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                target_type_0 = AssemblyOutTargetType0.from_dict(data)

                return target_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AssemblyOutTargetType0 | None | Unset, data)

        target = _parse_target(d.pop("target", UNSET))

        assembly_out = cls(
            id=id,
            status=status,
            config=config,
            created_at=created_at,
            partition_id=partition_id,
            target_dataset_id=target_dataset_id,
            error=error,
            checkpoint_available=checkpoint_available,
            job=job,
            candidates=candidates,
            chosen=chosen,
            baseline=baseline,
            baseline_note=baseline_note,
            gain=gain,
            recommendation=recommendation,
            pool=pool,
            zoo_models=zoo_models,
            target=target,
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

"""Schemas of Model LEGO components and compositions. The job settings are core's typed job configs
(``core.mda.jobs``), so the API and the worker read one definition with one set of bounds."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from api.schemas import JobResultOut, id_field, request_config
from core.mda.jobs import MAX_COMPONENTS, ComponentJob, CompositionJob


class ComponentCreate(ComponentJob):
    model_config = request_config(
        {"model_id": "mdl_187d2c4a9b3e5f01a1b2c3d4e5", "dataset_id": "ds_187d2c4a9b3e5f02f6e5d4c3b2",
         "classes": [0, 1]},
        {"model_id": "mdl_187d2c4a9b3e5f01a1b2c3d4e5", "dataset_id": "ds_187d2c4a9b3e5f02f6e5d4c3b2",
         "classes": [0, 1, 2], "class_labels": [5, 6, 7], "min_samples": 10, "seed": 0,
         "thresholds": {"alpha_conv": 0.3, "beta_conv": 0.2, "alpha_linear": 0.4, "beta_linear": 0.3}},
    )  # fmt: skip

    model_id: str = id_field("A ready model of yours: the trained classifier.")
    dataset_id: str = id_field(
        "Labelled images of the classes: samples are chosen from a fit split, Base vs Disa. measured on "
        "a held-out split."
    )


class CompositionCreate(CompositionJob):
    model_config = request_config(
        {"component_ids": ["cmp_187d2c4b0c1d2e03a9b8c7d6e5", "cmp_187d2c4b6e7f8a04e5d6c7b8a9"],
         "scaling_dataset_id": "ds_187d2c4a9b3e5f02f6e5d4c3b2"},
        {"component_ids": ["cmp_187d2c4b0c1d2e03a9b8c7d6e5", "cmp_187d2c4b6e7f8a04e5d6c7b8a9"],
         "scaling_dataset_id": "ds_187d2c4a9b3e5f02f6e5d4c3b2", "parameter_scaling": True,
         "classes": [5, 0, 1, 6], "finetune_epochs": 1},
    )  # fmt: skip

    component_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        ...,
        min_length=2,
        max_length=MAX_COMPONENTS,
        description="Done components of yours, from models of one architecture (distinct).",
    )
    scaling_dataset_id: str = id_field(
        "Labelled images of the components' classes (their class_labels): a validation split scales the "
        "logits (and fine-tunes), an eval split gives Score1/Score2."
    )


class ComponentOut(JobResultOut):
    """A Model LEGO component. Its ``result``, once done: params/FLOPs before and after,
    accuracy_base, accuracy_base_restricted, accuracy_component (Disa.) on the eval split, classes,
    class_labels, samples_per_class, split sizes, weights_sha256, seconds."""

    model_id: str | None = Field(None, description="The source model; null once it was deleted.")
    dataset_id: str
    result: dict[str, Any] | None = None


class CompositionOut(JobResultOut):
    """Components assembled into one classifier. Its ``result``, once done: params/FLOPs before
    (components side by side) and after, score1_unscaled, score1, score2, scales, class_labels, each
    component's accuracy on its own classes, max_abs_diff (assembled vs concatenated components before
    scaling), split sizes, seconds."""

    component_ids: list[str]
    scaling_dataset_id: str
    result: dict[str, Any] | None = None

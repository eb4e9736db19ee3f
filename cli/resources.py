"""The remote command groups: one per resource, each command one call of the generated client."""

from __future__ import annotations

import importlib
import io
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.remote import AsJson, Remote, Wait, folder_zip, generated, ints, show, started, sub

MODEL_COLUMNS = ("id", "name", "architecture", "status", "params", "flops", "dissection_status")
DATASET_COLUMNS = ("id", "name", "num_images", "num_classes", "image_shape")
JOB_COLUMNS = ("id", "kind", "status", "progress", "message", "error_code")
RESULT_COLUMNS = ("id", "status", "error")

models = sub("models", "Register, inspect, dissect and delete models.")
datasets = sub("datasets", "Upload and inspect datasets (.npz or an ImageFolder directory).")
partitions = sub("partitions", "Partition dissected models into equivalence sets.")
assemblies = sub("assemblies", "Reassemble a network under a budget; download it.")
components = sub("components", "Model LEGO: a model's component for a class subset.")
compositions = sub("compositions", "Model LEGO: assemble components into one classifier.")
jobs = sub("jobs", "Follow, list and cancel jobs.")
GROUPS = (models, datasets, partitions, assemblies, components, compositions, jobs)


def reads(group: typer.Typer, operations: str, noun: str, columns: tuple[str, ...], plural: str = "") -> None:
    """The group's ``show ID`` and, given the collection's ``plural``, ``list`` commands: one call of the
    generated client each (``<operations>.get_<noun>``, ``<operations>.list_<plural>``)."""

    def show_one(ctx: typer.Context, item_id: str, as_json: AsJson = False) -> None:
        show(ctx.obj.data(f"{operations}.get_{noun}", **{f"{noun}_id": item_id}), as_json, columns)

    def list_page(ctx: typer.Context, as_json: AsJson = False, limit: int = 50) -> None:
        show(ctx.obj.data(f"{operations}.list_{plural}", limit=limit), as_json, columns)

    show_one.__annotations__["item_id"] = Annotated[str, typer.Argument(metavar=f"{noun.upper()}_ID")]
    group.command("show", help=f"One {noun} (--json: all of it).")(show_one)
    if plural:
        group.command("list", help=f"Your {plural}, a page at a time (--limit).")(list_page)


def given(**options: Any) -> dict[str, Any]:
    """The options the user set (the server's defaults stand for the rest)."""
    return {k: v for k, v in options.items() if v is not None}


def schemas() -> Any:
    """The generated client's request models."""
    generated()  # exits with an install hint when the client is missing
    return importlib.import_module("reassembly_client.models")


# ----- models -------------------------------------------------------------------------------------


@models.command("add")
def models_add(
    ctx: typer.Context,
    name: str,
    timm: Annotated[str, typer.Option(help="The timm architecture, e.g. resnet18.")],
    num_classes: int | None = None,
    input_size: Annotated[str | None, typer.Option(help="C,H,W e.g. 3,224,224")] = None,
    pretrained: bool = False,
    as_json: AsJson = False,
) -> None:
    """Register a timm architecture (random init unless --pretrained)."""
    body: dict[str, Any] = {"name": name, "source": {"timm": timm, "pretrained": pretrained}}
    if num_classes is not None:
        body["num_classes"] = num_classes
    if input_size:
        body["input_size"] = ints(input_size)
    m = schemas()
    show(ctx.obj.data("models.create_model", body=m.ModelCreate.from_dict(body)), as_json, MODEL_COLUMNS)


@models.command("upload")
def models_upload(
    ctx: typer.Context,
    name: str,
    weights: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help=".safetensors file")],
    architecture: Annotated[str, typer.Option(help="The timm name the weights belong to.")],
    num_classes: int | None = None,
    input_size: Annotated[str | None, typer.Option(help="C,H,W")] = None,
    model_kwargs: Annotated[
        str | None, typer.Option(help='timm settings as JSON, e.g. {"in_chans": 1}')
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Register a model from safetensors weights."""
    rc, m = importlib.import_module("reassembly_client.types"), schemas()
    fields: dict[str, Any] = {"name": name, "architecture": architecture}
    if num_classes is not None:
        fields["num_classes"] = num_classes
    if input_size:
        fields["input_size"] = json.dumps(ints(input_size))
    if model_kwargs:
        fields["model_kwargs"] = model_kwargs
    with open(weights, "rb") as f:
        body = m.BodyUploadModel(weights=rc.File(payload=f, file_name=weights.name), **fields)
        show(ctx.obj.data("models.upload_model", body=body), as_json, MODEL_COLUMNS)


@models.command("dissect")
def models_dissect(ctx: typer.Context, model_id: str, wait: Wait = True, as_json: AsJson = False) -> None:
    """Find and verify the model's nodes (a job)."""
    job = ctx.obj.data("models.dissect_model", model_id=model_id)
    started(ctx.obj, job, wait, as_json, lambda: ctx.obj.data("models.get_model", model_id=model_id))


@models.command("rm")
def models_rm(ctx: typer.Context, model_id: str) -> None:
    """Delete a model (refused while partitions or running jobs use it)."""
    ctx.obj.call("models.delete_model", model_id=model_id)
    typer.echo(f"deleted {model_id}")


# ----- datasets -----------------------------------------------------------------------------------


@datasets.command("add")
def datasets_add(
    ctx: typer.Context,
    name: str,
    path: Annotated[
        Path, typer.Argument(exists=True, help=".npz file, or a folder with one sub-folder per class")
    ],
    as_json: AsJson = False,
) -> None:
    rc, m = importlib.import_module("reassembly_client.types"), schemas()
    payload = folder_zip(path) if path.is_dir() else path.read_bytes()
    file_name = f"{path.name}.zip" if path.is_dir() else path.name
    body = m.BodyCreateDataset(file=rc.File(payload=io.BytesIO(payload), file_name=file_name), name=name)
    show(ctx.obj.data("datasets.create_dataset", body=body), as_json, DATASET_COLUMNS)


# ----- partitions ---------------------------------------------------------------------------------


@partitions.command("create")
def partitions_create(
    ctx: typer.Context,
    model: Annotated[list[str], typer.Option("--model", help="A dissected model id (repeat).")],
    probe: Annotated[str, typer.Option(help="The probe dataset id.")],
    k: int = 4,
    probe_images: int = 512,
    batch_size: int = 64,
    epsilon: Annotated[float | None, typer.Option(help="Block-size slack (server default 0.2).")] = None,
    seed: int = 0,
    wait: Wait = True,
    as_json: AsJson = False,
) -> None:
    """Sketch the models on the probe set and cut them into K equivalence sets (a job)."""
    body = {"model_ids": model, "probe_dataset_id": probe, "k": k, "probe_images": probe_images,
            "batch_size": batch_size, "seed": seed, **given(epsilon=epsilon)}  # fmt: skip
    made = ctx.obj.data("partitions.create_partition", body=schemas().PartitionCreate.from_dict(body))
    started(
        ctx.obj,
        made,
        wait,
        as_json,
        lambda: ctx.obj.data("partitions.get_partition", partition_id=made["id"]),
    )


@partitions.command("add-model")
def partitions_add_model(
    ctx: typer.Context, partition_id: str, model_id: str, wait: Wait = True, as_json: AsJson = False
) -> None:
    body = schemas().PartitionAddModel(model_id=model_id)
    job = ctx.obj.data("partitions.add_partition_model", partition_id=partition_id, body=body)
    started(
        ctx.obj,
        job,
        wait,
        as_json,
        lambda: ctx.obj.data("partitions.get_partition", partition_id=partition_id),
    )


@partitions.command("pictures")
def partitions_pictures(
    ctx: typer.Context,
    partition_id: str,
    out: Annotated[Path, typer.Option(help="Folder for the PNGs.")] = Path("."),
) -> None:
    """Save the similarity heatmap and the partition diagram as PNG files."""
    out.mkdir(parents=True, exist_ok=True)
    for op, name in (("get_partition_similarity_png", "similarity"), ("get_partition_png", "partition")):
        target = out / f"{partition_id}-{name}.png"
        target.write_bytes(ctx.obj.call(f"partitions.{op}", partition_id=partition_id).content)
        typer.echo(str(target))


# ----- assemblies, components, compositions --------------------------------------------------------


@assemblies.command("create")
def assemblies_create(
    ctx: typer.Context,
    partition: str,
    target: Annotated[str, typer.Option(help="The target dataset id.")],
    max_params: int | None = None,
    max_flops: int | None = None,
    training: Annotated[str, typer.Option(help="none, frozen or finetune")] = "frozen",
    epochs: int = 10,
    pool_size: int = 200,
    candidates: int = 3,
    fit_images: int | None = None,
    heldout_images: int | None = None,
    wait: Wait = True,
    as_json: AsJson = False,
) -> None:
    """Search the partition under the budget; the best chain is trained and exported (a job)."""
    constraints = {k: v for k, v in (("max_params", max_params), ("max_flops", max_flops)) if v is not None}
    sizes = {
        k: v for k, v in (("fit_images", fit_images), ("heldout_images", heldout_images)) if v is not None
    }
    body = {"partition_id": partition, "target_dataset_id": target, "constraints": constraints,
            "training": {"mode": training, "epochs": epochs}, "pool_size": pool_size,
            "candidates": candidates, **sizes}  # fmt: skip
    made = ctx.obj.data("assemblies.create_assembly", body=schemas().AssemblyCreate.from_dict(body))
    read = lambda: ctx.obj.data("assemblies.get_assembly", assembly_id=made["id"])  # noqa: E731
    started(ctx.obj, made, wait, as_json, read)


@components.command("create")
def components_create(
    ctx: typer.Context,
    model: str,
    dataset: Annotated[str, typer.Option(help="Training images of the model's classes.")],
    classes: Annotated[str, typer.Option(help="Model output indices, e.g. 0,1")],
    class_labels: Annotated[str | None, typer.Option(help="Their labels in the dataset, e.g. 5,6")] = None,
    seed: int = 0,
    wait: Wait = True,
    as_json: AsJson = False,
) -> None:
    """Cut out the part of a model that serves some of its classes (a job)."""
    labels = given(class_labels=ints(class_labels) if class_labels else None)
    body = {"model_id": model, "dataset_id": dataset, "classes": ints(classes), "seed": seed, **labels}
    made = ctx.obj.data("model_lego.create_component", body=schemas().ComponentCreate.from_dict(body))
    read = lambda: ctx.obj.data("model_lego.get_component", component_id=made["id"])  # noqa: E731
    started(ctx.obj, made, wait, as_json, read)


@compositions.command("create")
def compositions_create(
    ctx: typer.Context,
    component: Annotated[list[str], typer.Option("--component", help="A component id (repeat, ≥ 2).")],
    scaling_dataset: Annotated[str, typer.Option(help="Validation images for parameter scaling.")],
    parameter_scaling: bool = True,
    wait: Wait = True,
    as_json: AsJson = False,
) -> None:
    body = {
        "component_ids": component,
        "scaling_dataset_id": scaling_dataset,
        "parameter_scaling": parameter_scaling,
    }
    made = ctx.obj.data("model_lego.create_composition", body=schemas().CompositionCreate.from_dict(body))
    read = lambda: ctx.obj.data("model_lego.get_composition", composition_id=made["id"])  # noqa: E731
    started(ctx.obj, made, wait, as_json, read)


def _download(remote: Remote, operation: str, out: Path, **ids: str) -> None:
    out.write_bytes(remote.call(operation, **ids).content)
    typer.echo(f"{out} ({out.stat().st_size:,} bytes)")


OutFile = Annotated[Path | None, typer.Option("--out", help="Where to write the archive.")]


@assemblies.command("download")
def assemblies_download(ctx: typer.Context, assembly_id: str, out: OutFile = None) -> None:
    _download(
        ctx.obj,
        "assemblies.download_assembly_checkpoint",
        out or Path(f"{assembly_id}.zip"),
        assembly_id=assembly_id,
    )


@components.command("download")
def components_download(ctx: typer.Context, component_id: str, out: OutFile = None) -> None:
    op = "model_lego.download_component_checkpoint"
    _download(ctx.obj, op, out or Path(f"{component_id}.zip"), component_id=component_id)


@compositions.command("download")
def compositions_download(ctx: typer.Context, composition_id: str, out: OutFile = None) -> None:
    op = "model_lego.download_composition_checkpoint"
    _download(ctx.obj, op, out or Path(f"{composition_id}.zip"), composition_id=composition_id)


# ----- jobs ---------------------------------------------------------------------------------------


@jobs.command("watch")
def jobs_watch(ctx: typer.Context, job_id: str, as_json: AsJson = False) -> None:
    """A live progress bar until the job ends; then its result. Exits 1 unless it succeeded."""
    show(ctx.obj.watch(job_id), as_json, (*JOB_COLUMNS, "result"))


@jobs.command("cancel")
def jobs_cancel(ctx: typer.Context, job_id: str, as_json: AsJson = False) -> None:
    show(ctx.obj.data("jobs.cancel_job", job_id=job_id), as_json, JOB_COLUMNS)


reads(models, "models", "model", MODEL_COLUMNS, "models")
reads(datasets, "datasets", "dataset", DATASET_COLUMNS, "datasets")
reads(partitions, "partitions", "partition", ("id", "status", "model_ids", "objective", "error"))
reads(
    assemblies, "assemblies", "assembly", ("id", "status", "gain", "recommendation", "baseline_note", "error")
)
reads(components, "model_lego", "component", RESULT_COLUMNS)
reads(compositions, "model_lego", "composition", RESULT_COLUMNS)
reads(jobs, "jobs", "job", JOB_COLUMNS, "jobs")

"""Datasets: image-classification .npz files used as probe sets and target tasks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from api.blobs import store_checked
from api.deps import OwnerDep, SessionDep, SettingsDep, StoreDep
from api.owned import resource_routes
from api.schemas_models import NAME_PATTERN, DatasetOut
from api.uploads import dataset_as_npz, read_npz_dataset
from core.store.artifacts import record_artifact
from core.store.ids import new_id
from core.store.models import Dataset

router = APIRouter(tags=["datasets"])
resource_routes(router, "datasets", Dataset, DatasetOut)


@router.post("/v1/datasets", operation_id="create_dataset", response_model=DatasetOut, status_code=201)
def create_dataset(
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    owner: OwnerDep,
    file: Annotated[
        UploadFile,
        File(
            description=".npz with uint8 'images' (N,H,W[,C]) and int 'labels' (N,), or a .zip ImageFolder: "
            "one folder per class of PNG/JPEG files of one size (class names from the folder names)",
            json_schema_extra={"format": "binary"},  # so the generated client sends a file
        ),
    ],
    name: Annotated[str, Form(pattern=NAME_PATTERN)],
) -> DatasetOut:
    upload = dataset_as_npz(file)  # an ImageFolder .zip becomes the .npz of its images (api/imagefolder.py)
    sha, size, info = store_checked(store, session, upload, settings.max_dataset_bytes, read_npz_dataset)
    artifact = record_artifact(
        session, sha, size, owner=owner, media_type="application/x-npz", filename=f"{name}.npz"
    )
    ds = Dataset(id=new_id("ds"), name=name, owner=owner, artifact_id=artifact.id, **info)
    session.add(ds)
    session.commit()
    return DatasetOut.model_validate(ds)

"""Datasets: image-classification .npz files used as probe sets and target tasks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import OwnerDep, SessionDep, SettingsDep, StoreDep
from api.pagination import paginate
from api.schemas import Page
from api.schemas_models import NAME_PATTERN, DatasetOut
from api.uploads import read_npz_dataset
from core.errors import NotFound, ReassemblyError
from core.store.artifacts import record_artifact
from core.store.ids import new_id
from core.store.models import Artifact, Dataset

router = APIRouter(tags=["datasets"])


def get_dataset(session: Session, dataset_id: str, owner: str) -> Dataset:
    ds = session.get(Dataset, dataset_id)
    if ds is None or ds.owner != owner:
        raise NotFound(f"no dataset with id {dataset_id!r}")
    return ds


@router.post("/v1/datasets", operation_id="create_dataset", response_model=DatasetOut, status_code=201)
def create_dataset(
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    owner: OwnerDep,
    file: Annotated[
        UploadFile, File(description=".npz with uint8 'images' (N,H,W[,C]) and int 'labels' (N,)")
    ],
    name: Annotated[str, Form(pattern=NAME_PATTERN)],
) -> DatasetOut:
    sha, size = store.put_stream(file.file, max_bytes=settings.max_upload_bytes)
    try:
        info = read_npz_dataset(store.path_for(sha))
    except ReassemblyError:
        if session.scalar(select(Artifact).where(Artifact.sha256 == sha)) is None:
            store.path_for(sha).unlink(missing_ok=True)
        raise
    artifact = record_artifact(
        session, sha, size, owner=owner, media_type="application/x-npz", filename=f"{name}.npz"
    )
    ds = Dataset(id=new_id("ds"), name=name, owner=owner, artifact_id=artifact.id, **info)
    session.add(ds)
    session.commit()
    return DatasetOut.model_validate(ds)


@router.get("/v1/datasets", operation_id="list_datasets", response_model=Page[DatasetOut])
def list_datasets(
    session: SessionDep,
    owner: OwnerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Page[DatasetOut]:
    stmt = select(Dataset).where(Dataset.owner == owner)
    return paginate(session, stmt, Dataset.id, DatasetOut, limit=limit, cursor=cursor)


@router.get("/v1/datasets/{dataset_id}", operation_id="get_dataset", response_model=DatasetOut)
def read_dataset(dataset_id: str, session: SessionDep, owner: OwnerDep) -> DatasetOut:
    return DatasetOut.model_validate(get_dataset(session, dataset_id, owner))

"""Model LEGO components and compositions

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.store.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _job_result_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", core.store.models.UTCDateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "components",
        *_job_result_columns(),
        sa.Column("model_id", sa.String(length=40), nullable=True),
        sa.Column("dataset_id", sa.String(length=40), nullable=False),
        sa.Column("checkpoint_artifact_id", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.ForeignKeyConstraint(["checkpoint_artifact_id"], ["artifacts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "compositions",
        *_job_result_columns(),
        sa.Column("component_ids", sa.JSON(), nullable=False),
        sa.Column("scaling_dataset_id", sa.String(length=40), nullable=False),
        sa.Column("checkpoint_artifact_id", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["scaling_dataset_id"], ["datasets.id"]),
        sa.ForeignKeyConstraint(["checkpoint_artifact_id"], ["artifacts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("compositions")
    op.drop_table("components")

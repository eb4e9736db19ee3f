"""owner-scoped artifacts and model names

Artifacts were one row per content for everyone, so a second owner uploading the same bytes got the
first owner's artifact id (and filename), and any owner could download any artifact by id. Now a row
belongs to one owner (unique per owner and content; the blob on disk stays shared). Model names are
unique per owner instead of globally. Existing artifacts take the owner of the model, dataset or
assembly that refers to them.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# SQLite has no names for the unique constraints created without one; this convention names them
# on reflection (PostgreSQL named them <table>_<column>_key).
NAMING = {"uq": "%(table_name)s_%(column_0_name)s_key"}

_OWNER_OF_ARTIFACT = """
UPDATE artifacts SET owner = COALESCE(
    (SELECT owner FROM models WHERE models.weights_artifact_id = artifacts.id LIMIT 1),
    (SELECT owner FROM datasets WHERE datasets.artifact_id = artifacts.id LIMIT 1),
    (SELECT owner FROM assemblies WHERE assemblies.checkpoint_artifact_id = artifacts.id LIMIT 1),
    'anonymous')
"""


def upgrade() -> None:
    with op.batch_alter_table("artifacts", naming_convention=NAMING) as batch_op:
        batch_op.add_column(
            sa.Column("owner", sa.String(length=100), nullable=False, server_default="anonymous")
        )
    op.execute(_OWNER_OF_ARTIFACT)
    with op.batch_alter_table("artifacts", naming_convention=NAMING) as batch_op:
        batch_op.alter_column("owner", server_default=None)
        batch_op.drop_constraint("artifacts_sha256_key", type_="unique")
        batch_op.create_unique_constraint("uq_artifacts_owner_sha256", ["owner", "sha256"])
    with op.batch_alter_table("models", naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint("models_name_key", type_="unique")
        batch_op.create_unique_constraint("uq_models_owner_name", ["owner", "name"])


def downgrade() -> None:
    with op.batch_alter_table("models", naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint("uq_models_owner_name", type_="unique")
        batch_op.create_unique_constraint("models_name_key", ["name"])
    with op.batch_alter_table("artifacts", naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint("uq_artifacts_owner_sha256", type_="unique")
        batch_op.create_unique_constraint("artifacts_sha256_key", ["sha256"])
        batch_op.drop_column("owner")

"""streamed imports: each import recorded and undoable; why a person is not enrolled

``imports`` records each ``cadence leads import`` (file, who, when, what it did), and
``import_changes`` each lead it created or updated, with the fields it had before, so that
``cadence leads import --undo ID`` can take the import back. ``leads`` gains
``not_enrolled_reasons`` (why a name or an unfit person is not followed up) and
``enrolled_anyway`` (who enrolled one anyway, when and why). Existing rows keep nulls.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file", sa.String(length=1000), nullable=False),
        sa.Column("imported_by", sa.String(length=320), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("undone_at", sa.DateTime(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imports")),
    )
    op.create_table(
        "import_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("created", sa.Boolean(), nullable=False),
        sa.Column("enrolled", sa.Boolean(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["import_id"], ["imports.id"], name=op.f("fk_import_changes_import_id_imports")),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_import_changes_lead_id_leads")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_changes")),
    )
    op.create_index("ix_import_changes_import_id", "import_changes", ["import_id"], unique=False)
    op.create_index("ix_import_changes_lead_id", "import_changes", ["lead_id"], unique=False)
    # Plain ADD COLUMN, no batch: see 0008.
    op.add_column("leads", sa.Column("not_enrolled_reasons", sa.JSON(), nullable=True))
    op.add_column("leads", sa.Column("enrolled_anyway", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("leads", "enrolled_anyway")
    op.drop_column("leads", "not_enrolled_reasons")
    op.drop_index("ix_import_changes_lead_id", table_name="import_changes")
    op.drop_index("ix_import_changes_import_id", table_name="import_changes")
    op.drop_table("import_changes")
    op.drop_table("imports")

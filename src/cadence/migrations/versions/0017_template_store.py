"""the template store: every version of every template and cadence file, shared by all runners

``template_files`` holds one row per saved version of a file of the templates folder (a template,
a cadence, the rules): its path inside the folder, its content, its version number (1, 2, 3... per
path), who saved it, when, and an optional comment. The newest version of each path is the one in
use. The ``templates/`` folder seeds the store on ``cadence init`` when it is empty.

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-07 21:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "template_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("saved_by", sa.String(length=320), nullable=True),
        sa.Column("saved_at", sa.DateTime(), nullable=False),
        sa.Column("comment", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_template_files")),
        sa.UniqueConstraint("path", "version", name=op.f("uq_template_files_path_version")),
    )


def downgrade() -> None:
    op.drop_table("template_files")

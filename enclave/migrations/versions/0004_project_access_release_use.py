"""Data-access requests decided by each institution's steward; the stated use of a release.

``project_access`` replaces ``project_approvals``: one row per project and institution named
in the project's request, with the scope asked for, the steward's decision and the scope
approved. Each existing approval becomes an approved row whose scope is everything (``"*"``),
as it was: decided by whoever approved it, marked as an administrator's override (no steward
decided it). ``projects.requested_by`` names who asked for the data; ``review_requests`` gets
``release_use`` and ``recipients`` (None for requests from before: see the README).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    access = op.create_table(
        "project_access",
        sa.Column("project", sa.String(30), nullable=False),
        sa.Column("institution", sa.String(20), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested", sa.Text(), nullable=False),
        sa.Column("approved", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_at", sa.String(32), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", sa.String(32), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("override", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["project"], ["projects.name"], name="project_access_project_fkey"),
        sa.PrimaryKeyConstraint("project", "institution", name="project_access_pkey"),
    )
    approvals = sa.table(
        "project_approvals",
        *(sa.column(name) for name in ("project", "institution", "approved_by", "approved_at")),
    )
    everything = sa.literal('"*"')
    op.execute(
        access.insert().from_select(
            ["project", "institution", "status", "requested", "approved", "requested_by"]
            + ["requested_at", "decided_by", "decided_at", "comment", "override"],
            sa.select(
                approvals.c.project,
                approvals.c.institution,
                sa.literal("approved"),
                everything,
                everything,
                approvals.c.approved_by,
                approvals.c.approved_at,
                approvals.c.approved_by,
                approvals.c.approved_at,
                sa.literal(""),
                sa.true(),
            ),
        )
    )
    op.drop_table("project_approvals")
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("requested_by", sa.String(200), nullable=True))
    with op.batch_alter_table("review_requests") as batch:
        batch.add_column(sa.Column("release_use", sa.String(16), nullable=True))
        batch.add_column(sa.Column("recipients", sa.Text(), nullable=True))


def downgrade():
    # never: a downgrade could drop audit rows; restore the backup `enclave upgrade-db` made
    raise NotImplementedError("the state database is never downgraded; restore its backup")

"""Trusted re-executions: one row per request round, its state and what the run found.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "review_reexecutions",
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("round", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("queued", sa.String(32), nullable=False),
        sa.Column("started", sa.String(32), nullable=True),
        sa.Column("finished", sa.String(32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("result", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["review_requests.id"], name="review_reexecutions_request_id_fkey"
        ),
        sa.PrimaryKeyConstraint("request_id", "round", name="review_reexecutions_pkey"),
    )
    op.create_index("ix_review_reexecutions_state", "review_reexecutions", ["state"])


def downgrade():
    # never: a downgrade could drop audit rows; restore the backup `enclave upgrade-db` made
    raise NotImplementedError("the state database is never downgraded; restore its backup")

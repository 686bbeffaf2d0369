"""Review rounds, per-output decisions and what each requester last saw.

``review_rounds`` keeps every round's frozen file and gate result (a resubmission used to
overwrite them on the request), filled here with each existing request's current round;
``review_output_decisions`` holds reviewers' and stewards' word on each output;
``review_seen`` the state of each request its requester last saw (notices of changes).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    rounds = op.create_table(
        "review_rounds",
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("round", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("gate_verdict", sa.String(16), nullable=False),
        sa.Column("gate_report", sa.Text(), nullable=False),
        sa.Column("institutions", sa.Text(), nullable=False),
        sa.Column("submitted", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["review_requests.id"], name="review_rounds_request_id_fkey"
        ),
        sa.PrimaryKeyConstraint("request_id", "round", name="review_rounds_pkey"),
    )
    op.create_table(
        "review_output_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("cell", sa.Integer(), nullable=False),
        sa.Column("output", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("time", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["review_requests.id"], name="review_output_decisions_request_id_fkey"
        ),
        sa.PrimaryKeyConstraint("id", name="review_output_decisions_pkey"),
    )
    op.create_index("ix_review_output_decisions_request", "review_output_decisions", ["request_id"])
    op.create_table(
        "review_seen",
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("time", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["review_requests.id"], name="review_seen_request_id_fkey"
        ),
        sa.PrimaryKeyConstraint("user", "request_id", name="review_seen_pkey"),
    )
    requests = sa.table(
        "review_requests",
        *(sa.column(name) for name in ("id", "round", "sha256", "size", "gate_verdict")),
        *(sa.column(name) for name in ("gate_report", "institutions", "updated")),
    )
    op.execute(
        rounds.insert().from_select(
            ["request_id", "round", "sha256", "size", "gate_verdict", "gate_report"]
            + ["institutions", "submitted"],
            sa.select(
                requests.c.id,
                requests.c.round,
                requests.c.sha256,
                requests.c.size,
                requests.c.gate_verdict,
                requests.c.gate_report,
                requests.c.institutions,
                requests.c.updated,
            ),
        )
    )


def downgrade():
    # never: a downgrade could drop audit rows; restore the backup `enclave upgrade-db` made
    raise NotImplementedError("the state database is never downgraded; restore its backup")

"""The schema of every state database made before migrations (enclave 0.1, commit 44be478).

Until then each part created its own tables on first use (``create_all`` in five places), so a
database of that time holds any subset of them: this revision creates the missing ones and
checks that the ones present have every column. A new database gets them all.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# frozen here as they were: enclave/tables.py moves on, this revision does not
schema = sa.MetaData(
    naming_convention={
        "pk": "%(table_name)s_pkey",
        "fk": "%(table_name)s_%(column_0_name)s_fkey",
        "uq": "%(table_name)s_%(column_0_N_name)s_key",
    }
)
sa.Table(
    "audit_events",
    schema,
    sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("time", sa.String(length=32), nullable=False),
    sa.Column("actor", sa.String(length=200), nullable=False),
    sa.Column("action", sa.String(length=100), nullable=False),
    sa.Column("project", sa.String(length=200), nullable=True),
    sa.Column("request", sa.String(length=100), nullable=True),
    sa.Column("details", sa.Text(), nullable=False),
    sa.Column("prev_hash", sa.String(length=64), nullable=False),
    sa.Column("hash", sa.String(length=64), nullable=False),
    sa.Index("ix_audit_actor", "actor"),
    sa.Index("ix_audit_project", "project"),
    sa.Index("ix_audit_request", "request"),
)
sa.Table(
    "projects",
    schema,
    sa.Column("name", sa.String(length=30), primary_key=True),
    sa.Column("purpose", sa.Text(), nullable=False),
    sa.Column("expires", sa.Date(), nullable=False),
    sa.Column("expired_at", sa.String(length=32), nullable=True),
    sa.Column("created_by", sa.String(length=200), nullable=False),
    sa.Column("created_at", sa.String(length=32), nullable=False),
    sa.Column("warehouse_access", sa.Text(), nullable=True),
)
sa.Table(
    "project_members",
    schema,
    sa.Column("project", sa.String(length=30), sa.ForeignKey("projects.name"), primary_key=True),
    sa.Column("user", sa.String(length=200), primary_key=True),
    sa.Column("added_at", sa.String(length=32), nullable=False),
)
sa.Table(
    "project_approvals",
    schema,
    sa.Column("project", sa.String(length=30), sa.ForeignKey("projects.name"), primary_key=True),
    sa.Column("institution", sa.String(length=20), primary_key=True),
    sa.Column("approved_by", sa.String(length=200), nullable=False),
    sa.Column("approved_at", sa.String(length=32), nullable=False),
)
sa.Table(
    "agreement_acceptances",
    schema,
    sa.Column("user", sa.String(length=200), primary_key=True),
    sa.Column("version", sa.String(length=64), primary_key=True),
    sa.Column("accepted_at", sa.String(length=32), nullable=False),
)
sa.Table(
    "review_requests",
    schema,
    sa.Column("id", sa.String(length=32), primary_key=True),
    sa.Column("project", sa.String(length=200), nullable=False),
    sa.Column("author", sa.String(length=200), nullable=False),
    sa.Column("notebook", sa.String(length=200), nullable=False),
    sa.Column("sha256", sa.String(length=64), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("purpose", sa.Text(), nullable=False),
    sa.Column("summary", sa.Text(), nullable=False),
    sa.Column("exception_note", sa.Text(), nullable=False),
    sa.Column("status", sa.String(length=32), nullable=False),
    sa.Column("round", sa.Integer(), nullable=False),
    sa.Column("gate_verdict", sa.String(length=16), nullable=False),
    sa.Column("gate_report", sa.Text(), nullable=False),
    sa.Column("institutions", sa.Text(), nullable=False),
    sa.Column("institutions_source", sa.Text(), nullable=False),
    sa.Column("created", sa.String(length=32), nullable=False),
    sa.Column("updated", sa.String(length=32), nullable=False),
    sa.Index("ix_review_requests_status", "status"),
    sa.Index("ix_review_requests_author", "author"),
)
sa.Table(
    "review_decisions",
    schema,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column(
        "request_id", sa.String(length=32), sa.ForeignKey("review_requests.id"), nullable=False
    ),
    sa.Column("round", sa.Integer(), nullable=False),
    sa.Column("user", sa.String(length=200), nullable=False),
    sa.Column("decision", sa.String(length=32), nullable=False),
    sa.Column("as_reviewer", sa.Boolean(), nullable=False),
    sa.Column("institutions", sa.Text(), nullable=False),
    sa.Column("sha256", sa.String(length=64), nullable=False),
    sa.Column("time", sa.String(length=32), nullable=False),
    sa.UniqueConstraint("request_id", "round", "user", name="uq_one_decision_per_round"),
)
sa.Table(
    "review_comments",
    schema,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column(
        "request_id", sa.String(length=32), sa.ForeignKey("review_requests.id"), nullable=False
    ),
    sa.Column("author", sa.String(length=200), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("visibility", sa.String(length=16), nullable=False),
    sa.Column("time", sa.String(length=32), nullable=False),
)
sa.Table(
    "review_releases",
    schema,
    sa.Column(
        "request_id", sa.String(length=32), sa.ForeignKey("review_requests.id"), primary_key=True
    ),
    sa.Column("sha256", sa.String(length=64), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("approvers", sa.Text(), nullable=False),
    sa.Column("built", sa.String(length=32), nullable=False),
)
sa.Table(
    "pg_sessions",
    schema,
    sa.Column("role", sa.String(length=63), primary_key=True),
    sa.Column("user", sa.String(length=200), nullable=False),
    sa.Column("project", sa.String(length=30), nullable=False),
)
sa.Table(
    "pg_log_offsets",
    schema,
    sa.Column("path", sa.Text(), primary_key=True),
    sa.Column("inode", sa.BigInteger(), nullable=False),
    sa.Column("offset", sa.BigInteger(), nullable=False),
)


def upgrade():
    from enclave.state import StateSchemaError

    bind = op.get_bind()
    inspector = sa.inspect(bind)
    present = set(inspector.get_table_names())
    for table in schema.sorted_tables:
        if table.name not in present:
            continue
        have = {c["name"] for c in inspector.get_columns(table.name)}
        missing = [c.name for c in table.columns if c.name not in have]
        if missing:
            raise StateSchemaError(
                f"table {table.name} has no column {', '.join(missing)}: this state database "
                "is older than any enclave release that can be upgraded; restore a newer backup."
            )
    schema.create_all(bind, checkfirst=True)


def downgrade():
    # never: a downgrade could drop audit rows; restore the backup `enclave upgrade-db` made
    raise NotImplementedError("the state database is never downgraded; restore its backup")

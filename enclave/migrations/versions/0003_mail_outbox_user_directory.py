"""E-mail notifications: the outbox and what sign-on said of each user.

``mail_outbox`` holds one message to one user, written in the transaction of the change it
tells of and delivered by the review service; ``user_directory`` the address and groups the
identity provider gave at each user's last sign-on.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "user_directory",
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("groups", sa.Text(), nullable=False),
        sa.Column("updated", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("user", name="user_directory_pkey"),
    )
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt", sa.String(32), nullable=False),
        sa.Column("done", sa.String(32), nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="mail_outbox_pkey"),
    )
    op.create_index("ix_mail_outbox_due", "mail_outbox", ["state", "next_attempt"])


def downgrade():
    op.drop_index("ix_mail_outbox_due", table_name="mail_outbox")
    op.drop_table("mail_outbox")
    op.drop_table("user_directory")

"""Tables of the review service, in the enclave state database beside the audit trail.

A request's file is referred to by its SHA-256 only (the bytes live in the frozen store).
Decisions carry the round they belong to and the hash they approved: a resubmission starts
a new round, and earlier approvals no longer count.
"""

import sqlalchemy as sa

metadata = sa.MetaData()

review_requests = sa.Table(
    "review_requests",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("project", sa.String(200), nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("notebook", sa.String(200), nullable=False),  # the researcher's file name
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),  # what the outputs show
    sa.Column("exception_note", sa.Text, nullable=False, default=""),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("round", sa.Integer, nullable=False, default=1),
    sa.Column("gate_verdict", sa.String(16), nullable=False),
    sa.Column("gate_report", sa.Text, nullable=False),  # GateReport.to_dict() as JSON
    sa.Column("institutions", sa.Text, nullable=False),  # JSON list of required stewards
    sa.Column("institutions_source", sa.Text, nullable=False),  # JSON: why each is required
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("updated", sa.String(32), nullable=False),
)
sa.Index("ix_review_requests_status", review_requests.c.status)
sa.Index("ix_review_requests_author", review_requests.c.author)

review_decisions = sa.Table(
    "review_decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.ForeignKey("review_requests.id"), nullable=False),
    sa.Column("round", sa.Integer, nullable=False),
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("decision", sa.String(32), nullable=False),  # approve | request_changes | reject
    sa.Column("as_reviewer", sa.Boolean, nullable=False),
    sa.Column("institutions", sa.Text, nullable=False),  # JSON list it counts for as steward
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("time", sa.String(32), nullable=False),
    sa.UniqueConstraint("request_id", "round", "user", name="uq_one_decision_per_round"),
)

review_comments = sa.Table(
    "review_comments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.ForeignKey("review_requests.id"), nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("visibility", sa.String(16), nullable=False),  # all | reviewers
    sa.Column("time", sa.String(32), nullable=False),
)

releases = sa.Table(
    "review_releases",
    metadata,
    # one package per request: the primary key is what makes a second build impossible
    sa.Column("request_id", sa.ForeignKey("review_requests.id"), primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("approvers", sa.Text, nullable=False),  # JSON list
    sa.Column("built", sa.String(32), nullable=False),
)

"""Every table of the enclave state database, in one ``MetaData``.

The state database (``EnclaveState.db_url``) holds the audit trail, projects, agreement
acceptances, review requests and the statement-log bookkeeping. Its schema is changed only by
the migrations in ``enclave/migrations/`` (``enclave upgrade-db``); a test checks that running
them gives exactly these tables. A new table goes here *and* into a new migration.

Constraint names follow PostgreSQL's own defaults, so a database created by the migrations
and one created before them (by ``create_all``) carry the same names, and later migrations can
refer to them on both.
"""

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "pk": "%(table_name)s_pkey",
        "fk": "%(table_name)s_%(column_0_name)s_fkey",
        "uq": "%(table_name)s_%(column_0_N_name)s_key",
    }
)

# -- the audit trail (enclave.audit.log): append-only, hash-chained ------------------------------
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("time", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("project", sa.String(200)),
    sa.Column("request", sa.String(100)),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)
sa.Index("ix_audit_actor", audit_events.c.actor)
sa.Index("ix_audit_project", audit_events.c.project)
sa.Index("ix_audit_request", audit_events.c.request)

# -- approved projects (enclave.projects) --------------------------------------------------------
projects = sa.Table(
    "projects",
    metadata,
    sa.Column("name", sa.String(30), primary_key=True),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("expires", sa.Date, nullable=False),
    sa.Column("expired_at", sa.String(32)),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    # what grant_project returned: the PostgreSQL role or the SQLite extract path
    sa.Column("warehouse_access", sa.Text),
    sa.Column("requested_by", sa.String(200)),  # who asked for the data (None: an administrator)
)
project_members = sa.Table(
    "project_members",
    metadata,
    sa.Column("project", sa.ForeignKey("projects.name"), primary_key=True),
    sa.Column("user", sa.String(200), primary_key=True),
    sa.Column("added_at", sa.String(32), nullable=False),
)
# one row per project and institution named in its data-access request: what was asked, what
# its steward decided (``enclave.projects``: the state transitions as data); a scope is JSON
# {table: [columns] | null (every column)}
project_access = sa.Table(
    "project_access",
    metadata,
    sa.Column("project", sa.ForeignKey("projects.name"), primary_key=True),
    sa.Column("institution", sa.String(20), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),  # pending|approved|declined|withdrawn
    sa.Column("requested", sa.Text, nullable=False),
    sa.Column("approved", sa.Text),  # the scope approved (no more than requested)
    sa.Column("requested_by", sa.String(200), nullable=False),
    sa.Column("requested_at", sa.String(32), nullable=False),
    sa.Column("decided_by", sa.String(200)),
    sa.Column("decided_at", sa.String(32)),
    sa.Column("comment", sa.Text, nullable=False),  # the steward's last word, for the requester
    sa.Column("override", sa.Boolean, nullable=False),  # approved by an administrator's override
)

# -- data-use agreement acceptances (enclave.hub.agreement) --------------------------------------
agreement_acceptances = sa.Table(
    "agreement_acceptances",
    metadata,
    sa.Column("user", sa.String(200), primary_key=True),
    sa.Column("version", sa.String(64), primary_key=True),
    sa.Column("accepted_at", sa.String(32), nullable=False),
)

# -- review and release (enclave.review_service) -------------------------------------------------
# A request's file is referred to by its SHA-256 only (the bytes live in the frozen store).
# Decisions carry the round they belong to and the hash they approved: a resubmission starts a
# new round, and earlier approvals no longer count.
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
    # internal (use by the member institutions in ``recipients``) or external (reporting
    # outside the consortium); None: submitted before releases stated their use
    sa.Column("release_use", sa.String(16)),
    sa.Column("recipients", sa.Text),  # JSON list of institution codes (internal use)
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

review_releases = sa.Table(
    "review_releases",
    metadata,
    # one package per request: the primary key is what makes a second build impossible
    sa.Column("request_id", sa.ForeignKey("review_requests.id"), primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("approvers", sa.Text, nullable=False),  # JSON list
    sa.Column("built", sa.String(32), nullable=False),
)

review_rounds = sa.Table(  # every round's frozen file and gate result (the request shows the last)
    "review_rounds",
    metadata,
    sa.Column("request_id", sa.ForeignKey("review_requests.id"), primary_key=True),
    sa.Column("round", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("gate_verdict", sa.String(16), nullable=False),
    sa.Column("gate_report", sa.Text, nullable=False),
    sa.Column("institutions", sa.Text, nullable=False),
    sa.Column("submitted", sa.String(32), nullable=False),
)

review_output_decisions = sa.Table(  # a reviewer's or steward's word on each output, per round
    "review_output_decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.ForeignKey("review_requests.id"), nullable=False),
    sa.Column("round", sa.Integer, nullable=False),
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("cell", sa.Integer, nullable=False),  # 0-based, as the gate counts
    sa.Column("output", sa.Integer, nullable=False),
    sa.Column("decision", sa.String(32), nullable=False),  # approve | request_changes | reject
    sa.Column("comment", sa.Text, nullable=False),  # for the requester
    sa.Column("time", sa.String(32), nullable=False),
)
sa.Index("ix_review_output_decisions_request", review_output_decisions.c.request_id)

review_reexecutions = sa.Table(  # each round's trusted re-execution (review_service.reexecution)
    "review_reexecutions",
    metadata,
    sa.Column("request_id", sa.ForeignKey("review_requests.id"), primary_key=True),
    sa.Column("round", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("state", sa.String(16), nullable=False),  # states.RunState
    sa.Column("queued", sa.String(32), nullable=False),  # its place in the queue
    sa.Column("started", sa.String(32), nullable=True),
    sa.Column("finished", sa.String(32), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("sha256", sa.String(64), nullable=True),  # the re-executed notebook, in the store
    sa.Column("result", sa.Text, nullable=False, default="{}"),  # JSON: marks, gate, failure...
)
sa.Index("ix_review_reexecutions_state", review_reexecutions.c.state)

review_seen = sa.Table(  # the state of each request its requester last saw (notices)
    "review_seen",
    metadata,
    sa.Column("user", sa.String(200), primary_key=True),
    sa.Column("request_id", sa.ForeignKey("review_requests.id"), primary_key=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("round", sa.Integer, nullable=False),
    sa.Column("time", sa.String(32), nullable=False),
)

# -- PostgreSQL sessions and the server's statement log (enclave.warehouse.statement_log) --------
pg_sessions = sa.Table(  # which user and project a session's login role currently stands for
    "pg_sessions",
    metadata,
    sa.Column("role", sa.String(63), primary_key=True),
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("project", sa.String(30), nullable=False),
)
pg_log_offsets = sa.Table(  # how far each statement log has been imported
    "pg_log_offsets",
    metadata,
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("inode", sa.BigInteger, nullable=False),
    sa.Column("offset", sa.BigInteger, nullable=False),
)

# -- e-mail notifications (enclave.notify) -----------------------------------------------------
user_directory = sa.Table(  # what sign-on said of each user: where to write, which groups
    "user_directory",
    metadata,
    sa.Column("user", sa.String(200), primary_key=True),
    sa.Column("email", sa.String(320)),  # the provider's verified claim, if it gave one
    sa.Column("groups", sa.Text, nullable=False),  # JSON list, as of the last sign-on
    sa.Column("updated", sa.String(32), nullable=False),
)
mail_outbox = sa.Table(  # one message to one user, written in the transaction of its change
    "mail_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(64), nullable=False),  # a key of enclave.notify.KINDS
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("context", sa.Text, nullable=False),  # JSON: ids, names, states; never outputs
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # pending | sent | failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt", sa.String(32), nullable=False),  # also the lease of a sender
    sa.Column("done", sa.String(32)),
    sa.Column("error", sa.String(200)),  # the last failure, named by its kind only
)
sa.Index("ix_mail_outbox_due", mail_outbox.c.state, mail_outbox.c.next_attempt)

"""The data-use agreement: shown and accepted before any access to data, again on each new version.

The text lives in ``templates/hub/agreement.txt`` (the FERPA excerpt and the consortium's guiding
principles). Its version defaults to a digest of the text, so editing the text is a new version
that everyone must accept again. Acceptances (user, version, time) are kept in the state
database with an ``agreement.accept`` audit event in the same transaction.
"""

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from traitlets import Unicode, default
from traitlets.config import Configurable

from enclave.audit import AuditLog
from enclave.templates import template_dir

TEMPLATES = template_dir("hub")

metadata = sa.MetaData()
acceptances = sa.Table(
    "agreement_acceptances",
    metadata,
    sa.Column("user", sa.String(200), primary_key=True),
    sa.Column("version", sa.String(64), primary_key=True),
    sa.Column("accepted_at", sa.String(32), nullable=False),
)


class DataUseAgreement(Configurable):
    """Which agreement researchers must accept."""

    text_file = Unicode(
        str(TEMPLATES / "agreement.txt"),
        help="""Plain-text file with the agreement shown on the hub's agreement page
        (the FERPA excerpt and the consortium's guiding principles).""",
    ).tag(config=True)

    version = Unicode(
        help="""Version of the agreement. Defaults to the first 16 hex digits of the SHA-256
        of the text, so any edit to the text requires everyone to accept again. Set it
        explicitly to force re-acceptance without editing the text.""",
    ).tag(config=True)

    @default("version")
    def _version_from_text(self):
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    @property
    def text(self) -> str:
        return Path(self.text_file).read_text(encoding="utf-8")


class AgreementRecords:
    """Acceptances in the enclave state database."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.audit = AuditLog(engine)
        metadata.create_all(engine)

    @staticmethod
    def _accepted(conn: sa.Connection, user: str, version: str) -> bool:
        query = sa.select(acceptances.c.user).where(
            acceptances.c.user == user, acceptances.c.version == version
        )
        return conn.execute(query).first() is not None

    def has_accepted(self, user: str, version: str) -> bool:
        with self.engine.connect() as conn:
            return self._accepted(conn, user, version)

    def accept(self, user: str, version: str) -> None:
        with self.engine.begin() as conn:
            if self._accepted(conn, user, version):
                return
            conn.execute(
                acceptances.insert().values(
                    user=user,
                    version=version,
                    accepted_at=datetime.now(UTC).isoformat(timespec="seconds"),
                )
            )
            self.audit.record(
                conn, actor=user, action="agreement.accept", details={"version": version}
            )

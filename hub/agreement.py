"""The data-use agreement: shown and accepted before any access to data, again on each new version.

The text lives in ``templates/hub/agreement.md`` (the FERPA excerpt and the consortium's guiding
principles), Markdown shown as HTML (raw HTML in it is escaped, never run). Its version defaults
to a digest of the text, so editing the text is a new version that everyone must accept again;
people see it as the date it took effect and a short id (``2026-11-29 · a21ba8df``).
Acceptances (user, version, time) are kept in the state database with an ``agreement.accept``
audit event in the same transaction.
"""

import hashlib
import re
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from traitlets import Unicode, default, validate
from traitlets.config import Configurable

from enclave.audit import AuditLog
from enclave.audit.actions import AuditAction
from enclave.tables import agreement_acceptances
from enclave.templates import template_dir

TEMPLATES = template_dir("hub")


class DataUseAgreement(Configurable):
    """Which agreement researchers must accept."""

    text_file = Unicode(
        str(TEMPLATES / "agreement.md"),
        help="""Markdown file with the agreement shown on the hub's agreement page
        (the FERPA excerpt and the consortium's guiding principles). Raw HTML in it is shown
        as text, never rendered.""",
    ).tag(config=True)

    effective = Unicode(
        help="""Date (YYYY-MM-DD) the current text took effect, shown with its short id as the
        version people read. Defaults to the day the text file was last modified; set it
        when you publish a new text.""",
    ).tag(config=True)

    version = Unicode(
        help="""Version of the agreement. Defaults to the first 16 hex digits of the SHA-256
        of the text, so any edit to the text requires everyone to accept again. Set it
        explicitly to force re-acceptance without editing the text.""",
    ).tag(config=True)

    @default("version")
    def _version_from_text(self):
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    @default("effective")
    def _effective_from_file(self):
        modified = Path(self.text_file).stat().st_mtime
        return datetime.fromtimestamp(modified, UTC).date().isoformat()

    @validate("effective")
    def _a_date(self, proposal):
        try:
            return date.fromisoformat(proposal.value).isoformat()
        except ValueError:
            raise ValueError(
                f"DataUseAgreement.effective {proposal.value!r}: not a date; use YYYY-MM-DD."
            ) from None

    @property
    def text(self) -> str:
        return Path(self.text_file).read_text(encoding="utf-8")

    @property
    def short_id(self) -> str:
        return self.version[:8]

    @property
    def label(self) -> str:
        """The version as people read it: the date it took effect and a short id."""
        return f"{self.effective} · {self.short_id}"

    @property
    def html(self) -> str:
        """The text as HTML; any HTML written in the file is escaped."""
        import mistune

        return mistune.create_markdown(escape=True)(self.text)

    @property
    def title(self) -> str:
        heading = re.search(r"^#\s+(.+)$", self.text, re.M)
        return heading.group(1).strip() if heading else "Data-use agreement"


class AgreementRecords:
    """Acceptances in the enclave state database."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.audit = AuditLog(engine)

    @staticmethod
    def _accepted(conn: sa.Connection, user: str, version: str) -> bool:
        query = sa.select(agreement_acceptances.c.user).where(
            agreement_acceptances.c.user == user, agreement_acceptances.c.version == version
        )
        return conn.execute(query).first() is not None

    def has_accepted(self, user: str, version: str) -> bool:
        with self.engine.connect() as conn:
            return self._accepted(conn, user, version)

    def accepted_at(self, user: str, version: str) -> str | None:
        """When ``user`` accepted ``version`` (ISO time, UTC), or None."""
        query = sa.select(agreement_acceptances.c.accepted_at).where(
            agreement_acceptances.c.user == user, agreement_acceptances.c.version == version
        )
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def latest(self) -> dict[str, tuple[str, str]]:
        """Each user's most recent acceptance: ``{user: (version, accepted_at)}``."""
        query = sa.select(agreement_acceptances).order_by(agreement_acceptances.c.accepted_at)
        with self.engine.connect() as conn:
            return {row.user: (row.version, row.accepted_at) for row in conn.execute(query)}

    def accept(self, user: str, version: str) -> None:
        with self.engine.begin() as conn:
            if self._accepted(conn, user, version):
                return
            conn.execute(
                agreement_acceptances.insert().values(
                    user=user,
                    version=version,
                    accepted_at=datetime.now(UTC).isoformat(timespec="seconds"),
                )
            )
            self.audit.record(
                conn, actor=user, action=AuditAction.AGREEMENT_ACCEPT, details={"version": version}
            )

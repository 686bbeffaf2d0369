"""E-mail notifications: written in the change's transaction, delivered later, never lost.

A change that someone should hear of (a request submitted, a decision, a project closed) calls
``Mail.notify(conn, kind, users=..., groups=..., context=...)`` on the connection of its own
transaction: one ``mail_outbox`` row per recipient commits with the change or not at all. The
review service delivers the outbox (``Postman``): each message through SMTP, retried with a
growing delay when the server refuses or is down, each attempt's outcome an audit event.

What a message may say is fixed by its kind (``KINDS``): a template under
``templates/mail/<kind>.txt`` and the fields it is given, each of a type that admits only ids,
names, states, numbers and dates (``FIELDS``). Mail leaves the enclave, so no free text a
session can choose (a notebook's name, a purpose, a comment, an output value) ever goes in: a
context carrying anything else is refused before anything is written.

Addresses come from the provider's ``email`` claim at each user's sign-on (``remember_user``,
called by the hub), or from ``Mail.addresses``; group members (reviewers, an institution's
stewards) are the users whose last sign-on put them in that group.
"""

import json
import logging
import re
import smtplib
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from ipaddress import ip_address
from pathlib import Path

import sqlalchemy as sa
from traitlets import CaselessStrEnum, Dict, Float, Int, List, Unicode, validate
from traitlets.config import Configurable

from enclave.audit import AuditLog
from enclave.audit.actions import AuditAction, AuditEvent
from enclave.errors import EnclaveError
from enclave.tables import mail_outbox, user_directory

log = logging.getLogger(__name__)

# what a context field may hold: each type admits only ids, names, states, numbers and dates
FIELDS = {
    "request": re.compile(r"r-[0-9a-f]{10}"),
    "project": re.compile(r"[a-z][a-z0-9_]{1,29}"),
    "user": re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}"),  # as the provider names them
    "institution": re.compile(r"[A-Z0-9]+-[0-9]{3}"),
    "state": re.compile(r"[a-z][a-z_-]{0,31}"),
    "date": re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"),
    "id": re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"),
    "number": int,
}
ROLES = ("researchers", "reviewers", "stewards", "admins", "members")


@dataclass(frozen=True)
class Kind:
    """One kind of message: who it is for (a role ``Mail.send_to`` can turn off), the fields
    its template is given (name -> a key of ``FIELDS``), and the page it links to."""

    role: str
    fields: dict
    link: str  # a path under Mail.base_url, formatted with the fields

    def check(self, kind: str, context: dict) -> dict:
        """The context as stored; a one-line ValueError for any field that is not allowed."""
        unknown = set(context) - set(self.fields)
        if unknown:
            raise ValueError(f"mail {kind}: field {sorted(unknown)[0]!r} is not one it may carry.")
        checked = {}
        for name, type_name in self.fields.items():
            value = context.get(name)
            rule = FIELDS[type_name]
            if rule is int:
                ok = type(value) is int
            else:
                ok = isinstance(value, str) and rule.fullmatch(value) is not None
            if not ok:
                raise ValueError(f"mail {kind}: field {name!r} must be a {type_name}.")
            checked[name] = value
        return checked


REVIEW = "services/review/requests/{request}"
KINDS = {
    # to reviewers: a request (or a new round of one) waits for their review
    "request.submitted": Kind(
        "reviewers",
        {"request": "request", "project": "project", "author": "user", "round": "number"},
        REVIEW,
    ),
    # to an institution's stewards: a request that uses its data needs their sign-off
    "request.sign-off": Kind(
        "stewards",
        {
            "request": "request",
            "project": "project",
            "author": "user",
            "round": "number",
            "institution": "institution",
        },
        REVIEW,
    ),
    # to the requester: someone decided (each decision; the status it led to)
    "request.decided": Kind(
        "researchers",
        {
            "request": "request",
            "project": "project",
            "round": "number",
            "decision": "state",
            "status": "state",
            "by": "user",
        },
        REVIEW,
    ),
    # to the requester: the release package is ready to download
    "request.released": Kind("researchers", {"request": "request", "project": "project"}, REVIEW),
}


def now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def is_address(value: str) -> bool:
    """A plain ``local@domain`` address, nothing around it (no name, no second address)."""
    return bool(re.fullmatch(r"[^@\s<>,;\"'()]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}", value))


def remember_user(engine: sa.Engine, user: str, email: str | None, groups: Iterable[str]) -> None:
    """What sign-on said of ``user``: their address (None if the provider gave none, or not a
    plain address) and their groups, replacing what the last sign-on said."""
    row = {
        "user": user,
        "email": email if email and is_address(email) else None,
        "groups": json.dumps(sorted(set(groups))),
        "updated": stamp(now()),
    }
    with engine.begin() as conn:
        conn.execute(user_directory.delete().where(user_directory.c.user == user))
        conn.execute(user_directory.insert().values(**row))


class Mail(Configurable):
    """E-mail notifications through SMTP: off until ``smtp_host`` and ``sender`` are set."""

    smtp_host = Unicode(
        "",
        help="""SMTP server to send notifications through (empty: no e-mail is sent, none is
        queued). Its name must match its certificate unless ``security`` is "none".""",
    ).tag(config=True)
    smtp_port = Int(0, help="""SMTP port (0: 587 for starttls, 465 for tls, 25 for none).""").tag(
        config=True
    )
    security = CaselessStrEnum(
        ["starttls", "tls", "none"],
        "starttls",
        help="""How the connection is protected: "starttls" (upgrade after connecting, the
        usual submission port 587), "tls" (TLS from the start, port 465) or "none" (plain;
        only to a server on this machine's loopback).""",
    ).tag(config=True)
    ca_file = Unicode(
        "", help="""CA bundle to verify the SMTP server with (empty: the system's)."""
    ).tag(config=True)
    username = Unicode("", help="""SMTP login (empty: send without logging in).""").tag(config=True)
    password_file = Unicode(
        "",
        help="""File holding the SMTP password (one line; keep it 0600, readable only by the
        hub's account). Never put the password itself in the configuration.""",
    ).tag(config=True)
    sender = Unicode(
        "", help="""From address of every notification, e.g. enclave@consortium.example."""
    ).tag(config=True)
    base_url = Unicode(
        "",
        help="""Public URL of the hub, the start of every link in a message, e.g.
        https://enclave.consortium.example/ (empty: JupyterHub.public_url, else its bind_url).""",
    ).tag(config=True)
    site_name = Unicode(
        "Consortium research enclave", help="""How messages name the enclave."""
    ).tag(config=True)
    send_to = List(
        Unicode(),
        list(ROLES),
        help=f"""Roles that get e-mail, any of {", ".join(ROLES)}: "reviewers" on each
        submission, "stewards" when their institution's sign-off is needed, "researchers" on
        every decision on their requests and when a release is ready.""",
    ).tag(config=True)
    addresses = Dict(
        key_trait=Unicode(),
        value_trait=Unicode(),
        help="""user -> address, used instead of the address the provider gives at sign-on
        (for accounts whose provider has no e-mail claim).""",
    ).tag(config=True)
    max_attempts = Int(
        12, help="""Attempts at one message before it is given up (and audited so)."""
    ).tag(config=True)
    retry_delay = Float(
        30.0,
        help="""Seconds before the first retry; each later one waits twice as long, up to an
        hour.""",
    ).tag(config=True)
    poll_interval = Float(
        2.0, help="""Seconds between the review service's looks at the outbox."""
    ).tag(config=True)
    timeout = Float(20.0, help="""Seconds to wait for the SMTP server at each step.""").tag(
        config=True
    )

    @property
    def enabled(self) -> bool:
        return bool(self.smtp_host)

    @validate("send_to")
    def _roles(self, proposal):
        for role in proposal.value:
            if role not in ROLES:
                raise ValueError(f"Mail.send_to: {role!r} is not a role; use {', '.join(ROLES)}.")
        return proposal.value

    @validate("sender")
    def _sender(self, proposal):
        if proposal.value and not is_address(proposal.value):
            raise ValueError(f"Mail.sender: {proposal.value!r} is not an address like a@b.org.")
        return proposal.value

    @validate("addresses")
    def _addresses(self, proposal):
        for user, address in proposal.value.items():
            if not is_address(address):
                raise ValueError(f"Mail.addresses[{user!r}]: {address!r} is not an address.")
        return proposal.value

    def check(self) -> None:
        """Refuse, in one line, settings that would send nothing or send in the clear."""
        if not self.enabled:
            return
        if not self.sender:
            raise EnclaveError("Mail.sender: set the From address of notifications.")
        if self.security == "none" and not _is_loopback(self.smtp_host):
            raise EnclaveError(
                f"Mail.security 'none' sends in the clear: {self.smtp_host!r} is not this "
                "machine's loopback; use starttls or tls."
            )
        if self.password_file and not Path(self.password_file).is_file():
            raise EnclaveError(f"Mail.password_file {self.password_file}: no such file.")

    @property
    def port(self) -> int:
        return self.smtp_port or {"starttls": 587, "tls": 465, "none": 25}[self.security]

    def link_base(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/") + "/"
        hub = self.config.get("JupyterHub", {})
        return (hub.get("public_url") or hub.get("bind_url") or "http://127.0.0.1:8000").rstrip(
            "/"
        ) + "/"

    # -- queueing, in the caller's transaction ----------------------------------------------------
    def notify(
        self,
        conn: sa.Connection,
        kind: str,
        *,
        users: Iterable[str] = (),
        groups: Iterable[str] = (),
        context: dict,
        exclude: Iterable[str] = (),
    ) -> int:
        """Queue a ``kind`` message to ``users`` and the members of ``groups`` (less
        ``exclude``: who made the change) on ``conn``, the transaction of the change; return
        how many. Nothing is queued when mail is off or the kind's role is not in ``send_to``;
        a context a kind may not carry is a ValueError (nothing written)."""
        spec = KINDS.get(kind)
        if spec is None:
            raise ValueError(f"mail {kind!r}: no such kind of message.")
        stored = json.dumps(spec.check(kind, context), sort_keys=True)
        if not self.enabled or spec.role not in self.send_to:
            return 0
        recipients = set(users) | members_of(conn, groups)
        recipients -= set(exclude)
        due = stamp(now())
        rows = [
            {
                "kind": kind,
                "user": user,
                "context": stored,
                "created": due,
                "state": "pending",
                "attempts": 0,
                "next_attempt": due,
            }
            for user in sorted(recipients)
        ]
        if rows:
            conn.execute(mail_outbox.insert(), rows)
        return len(rows)


def members_of(conn: sa.Connection, groups: Iterable[str]) -> set[str]:
    """Users whose last sign-on put them in any of ``groups``."""
    wanted = set(groups)
    if not wanted:
        return set()
    found = set()
    for row in conn.execute(sa.select(user_directory.c.user, user_directory.c.groups)):
        if wanted & set(json.loads(row.groups)):
            found.add(row.user)
    return found


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


class Undeliverable(Exception):
    """A message that no retry can send (no address for its user)."""


class Postman:
    """Delivers the outbox: one message at a time, claimed so that two deliverers never send
    the same one at once, each outcome recorded with its audit event."""

    LEASE = timedelta(minutes=5)  # a claimed message is another's again after this
    MAX_DELAY = 3600.0

    def __init__(self, mail: Mail, engine: sa.Engine, actor: str = "review-service"):
        from jinja2 import Environment, FileSystemLoader, StrictUndefined

        from enclave.templates import template_dir

        self.mail = mail
        self.engine = engine
        self.audit = AuditLog(engine)
        self.actor = actor
        self.templates = Environment(
            loader=FileSystemLoader(template_dir("mail")),
            undefined=StrictUndefined,
            autoescape=False,  # noqa: S701 (plain text, not HTML; every value matched a field)
            keep_trailing_newline=True,
        )

    def deliver_due(self, limit: int = 100) -> int:
        """Send what is due (at most ``limit``, each once); return how many were sent."""
        sent, tried = 0, []
        for _ in range(limit):
            row = self._claim(tried)
            if row is None:
                break
            tried.append(row.id)
            sent += self._deliver(row)
        return sent

    def _claim(self, tried):
        """The oldest due message not ``tried`` in this round, its next attempt moved past the
        lease (None: none due)."""
        moment = now()
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(mail_outbox)
                .where(mail_outbox.c.state == "pending")
                .where(mail_outbox.c.next_attempt <= stamp(moment))
                .where(mail_outbox.c.id.not_in(tried))
                .order_by(mail_outbox.c.id)
                .limit(1)
            ).first()
            if row is None:
                return None
            claimed = conn.execute(
                mail_outbox.update()
                .where(mail_outbox.c.id == row.id)
                .where(mail_outbox.c.next_attempt == row.next_attempt)
                .values(next_attempt=stamp(moment + self.LEASE))
            ).rowcount
        return row if claimed else None

    def _deliver(self, row) -> int:
        context = json.loads(row.context)
        details = {"outbox": row.id, "kind": row.kind, "to": row.user, "attempt": row.attempts + 1}
        try:
            address = self.address(row.user)
            message = self.compose(row.kind, context, address)
            self.send(message)
        except Undeliverable as e:
            self._finish(row, "failed", AuditAction.MAIL_UNDELIVERABLE, context, details, str(e))
            return 0
        except Exception as e:  # refused, unreachable, timed out: retried later
            reason = type(e).__name__
            if isinstance(e, smtplib.SMTPResponseException):
                reason = f"{reason} {e.smtp_code}"
            log.warning(
                "mail %d to %s: attempt %d failed (%s)", row.id, row.user, row.attempts + 1, reason
            )
            if row.attempts + 1 >= self.mail.max_attempts:
                action, state = AuditAction.MAIL_UNDELIVERABLE, "failed"
            else:
                action, state = AuditAction.MAIL_FAILED, "pending"
            self._finish(row, state, action, context, details, reason)
            return 0
        self._finish(row, "sent", AuditAction.MAIL_SENT, context, details, None)
        return 1

    def _finish(self, row, state, action, context, details, error) -> None:
        moment = now()
        values = {"state": state, "attempts": row.attempts + 1, "error": error}
        if state == "pending":
            delay = min(self.mail.retry_delay * 2**row.attempts, self.MAX_DELAY)
            values["next_attempt"] = stamp(moment + timedelta(seconds=delay))
        else:
            values["done"] = stamp(moment)
        if error:
            details = {**details, "error": error}
        event = AuditEvent(
            action,
            self.actor,
            project=context.get("project"),
            request=context.get("request"),
            details=details,
        )
        with self.engine.begin() as conn:
            conn.execute(mail_outbox.update().where(mail_outbox.c.id == row.id).values(**values))
            self.audit.record(conn, event)

    def address(self, user: str) -> str:
        if user in self.mail.addresses:
            return self.mail.addresses[user]
        with self.engine.connect() as conn:
            email = conn.execute(
                sa.select(user_directory.c.email).where(user_directory.c.user == user)
            ).scalar()
        if not email:
            raise Undeliverable("no address")
        return email

    def compose(self, kind: str, context: dict, address: str) -> EmailMessage:
        """The message, from ``templates/mail/<kind>.txt``: a ``Subject:`` line, a blank line,
        the body."""
        spec = KINDS[kind]
        link = self.mail.link_base() + spec.link.format(**context)
        text = self.templates.get_template(f"{kind}.txt").render(
            **context, link=link, site_name=self.mail.site_name
        )
        head, _, body = text.partition("\n\n")
        if not head.startswith("Subject: "):
            raise EnclaveError(f"templates/mail/{kind}.txt: the first line must be 'Subject: ...'.")
        message = EmailMessage()
        message["Subject"] = head.removeprefix("Subject: ").strip()
        message["From"] = self.mail.sender
        message["To"] = address
        message["Date"] = format_datetime(now())
        message["Message-ID"] = make_msgid(domain=parseaddr(self.mail.sender)[1].partition("@")[2])
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
        message.set_content(body)
        return message

    def send(self, message: EmailMessage) -> None:
        mail = self.mail
        context = ssl.create_default_context(cafile=mail.ca_file or None)
        if mail.security == "tls":
            smtp = smtplib.SMTP_SSL(
                mail.smtp_host, mail.port, timeout=mail.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(mail.smtp_host, mail.port, timeout=mail.timeout)
        with smtp:
            if mail.security == "starttls":
                smtp.starttls(context=context)
            if mail.username:
                password = (
                    Path(mail.password_file).read_text().strip() if mail.password_file else ""
                )
                smtp.login(mail.username, password)
            smtp.send_message(message)

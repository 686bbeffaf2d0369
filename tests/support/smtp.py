"""A real SMTP server on loopback (aiosmtpd) that keeps every message it accepts, and can be
told to refuse for a while, as a busy or broken relay does."""

import email
import email.policy
import socket
import threading
import time

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def subject(message) -> str:
    """The subject as a reader sees it (a long one is folded over lines when sent)."""
    return " ".join(message["Subject"].split())


class Mailbox:
    """aiosmtpd's handler: accepted messages, parsed; ``refuse`` answers 451 (try later)."""

    def __init__(self):
        self.messages: list = []
        self.refuse = False
        self.refused = 0
        self.arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            self.refused += 1
            return "451 4.3.0 mailbox busy, try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.arrived:
            self.messages.append((envelope.rcpt_tos, message))
            self.arrived.notify_all()
        return "250 OK"

    def to(self, address: str) -> list:
        return [m for rcpt, m in self.messages if address in rcpt]

    def wait_for(self, count: int, timeout: float = 60) -> list:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(self.messages)} message(s) arrived, {count} expected: "
                        + "; ".join(subject(m) for _, m in self.messages)
                    )
                self.arrived.wait(left)
        return list(self.messages)


def self_signed(folder) -> tuple[str, str]:
    """(certificate, key) files for ``localhost``, made here: a server to verify against."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = f"{folder}/smtp.crt", f"{folder}/smtp.key"
    with open(cert_file, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_file, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_file, key_file


class SMTPServer:
    """``starttls``: (certificate, key) files; the server then refuses mail before STARTTLS."""

    def __init__(self, starttls: tuple[str, str] | None = None):
        self.mailbox = Mailbox()
        self.port = free_port()
        self.options = {}
        if starttls:
            import ssl

            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*starttls)
            self.options = {"tls_context": context, "require_starttls": True}
        self.controller = self._controller()

    def _controller(self):
        return Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **self.options)

    def __enter__(self):
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def restart(self) -> None:
        """Back on the same port (a stopped controller's loop is closed: a new one)."""
        self.controller = self._controller()
        self.controller.start()

    def __exit__(self, *exc):
        self.controller.stop()

    def config(self, section: str = "c.Mail") -> str:
        """Lines of a ``jupyterhub_config.py`` sending through this server."""
        return "\n".join(
            [
                f'{section}.smtp_host = "127.0.0.1"',
                f"{section}.smtp_port = {self.port}",
                f'{section}.security = "none"',
                f'{section}.sender = "enclave@consortium.example"',
                f"{section}.poll_interval = 0.2",
                f"{section}.retry_delay = 0.5",
                "",
            ]
        )

"""SMTP over TLS (STARTTLS and implicit) with AUTH, against a real aiosmtpd on loopback.

The server's certificate is self-signed and generated here; the client trusts it only
because ``SSL_CERT_FILE`` points at it (``ssl.create_default_context()`` honours that).
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from server.notify.outbox import Outbox
from server.notify.smtp import SmtpTransport
from server.store import OutboxItem
from server.store.sqlite import SqliteStore

from .conftest import free_port
from .support.smtp import Mailbox

USER = "user@x"
PASSWORD = "p:w"
#: the same credentials, percent-encoded as they must be in the URL
CREDENTIALS = "user%40x:p%3Aw"


@dataclass(frozen=True, slots=True)
class CertFiles:
    cert: Path
    key: Path


def make_certificate(directory: Path) -> CertFiles:
    """A self-signed server certificate for 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    files = CertFiles(directory / "server.pem", directory / "server.key")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


def over_tls(server: Any) -> bool:
    """Whether the server's connection is encrypted (after STARTTLS or from the start).

    ``session.ssl`` is only set by STARTTLS in aiosmtpd 1.4, so ask the transport.
    """
    return server.transport.get_extra_info("ssl_object") is not None


class Recorder(Mailbox):
    """Keeps the messages, whether each came over TLS, and every AUTH attempt."""

    def __init__(self) -> None:
        super().__init__()
        #: (user, password, over TLS) of every AUTH the server saw
        self.logins: list[tuple[str, str, bool]] = []
        #: (over TLS, authenticated) of every message
        self.sessions: list[tuple[bool, bool]] = []

    def authenticator(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        with self.lock:
            self.logins.append((login, password, over_tls(server)))
        ok = (login, password) == (USER, PASSWORD)
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.sessions.append((over_tls(server), bool(session.authenticated)))
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def cert_files(tmp_path: Path) -> CertFiles:
    return make_certificate(tmp_path)


@pytest.fixture
def server_context(cert_files: CertFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_files.cert, cert_files.key)
    return context


@pytest.fixture
def trust_cert(monkeypatch: pytest.MonkeyPatch, cert_files: CertFiles) -> None:
    """The client's default context trusts the test certificate (and only it)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_files.cert))
    monkeypatch.setenv("SSL_CERT_DIR", str(cert_files.cert.parent / "no-such-dir"))


@contextmanager
def serving(handler: Recorder, **kwargs: Any) -> Iterator[int]:
    """An aiosmtpd server on a free loopback port; yields the port."""
    for _ in range(5):
        controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
        try:
            controller.start()
        except OSError:  # the port was taken in the meantime
            continue
        break
    else:
        raise RuntimeError("no free port for the SMTP server")
    try:
        yield controller.port
    finally:
        controller.stop()


@contextmanager
def starttls_server(handler: Recorder, context: ssl.SSLContext) -> Iterator[int]:
    """STARTTLS required before anything else, and AUTH only over TLS."""
    with serving(
        handler,
        tls_context=context,
        require_starttls=True,
        auth_require_tls=True,
        authenticator=handler.authenticator,
    ) as port:
        yield port


def message(subject: str = "Hello over TLS") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "t@example.org"
    msg["To"] = "a@example.org"
    msg["Subject"] = subject
    msg.set_content("body")
    return msg


@pytest.mark.usefixtures("trust_cert")
async def test_starttls_with_auth_delivers(server_context: ssl.SSLContext) -> None:
    """Percent-encoded credentials are decoded and sent only after STARTTLS."""
    handler = Recorder()
    with starttls_server(handler, server_context) as port:
        transport = SmtpTransport.from_url(f"smtp+starttls://{CREDENTIALS}@127.0.0.1:{port}")
        await transport.send(message())
    assert [str(m["Subject"]) for m in handler.messages] == ["Hello over TLS"]
    assert handler.sessions == [(True, True)]
    assert handler.logins == [(USER, PASSWORD, True)]


async def test_starttls_rejects_an_untrusted_certificate(
    monkeypatch: pytest.MonkeyPatch, server_context: ssl.SSLContext, tmp_path: Path
) -> None:
    """Without trusting the self-signed certificate the client gives up before AUTH."""
    (tmp_path / "other").mkdir()
    other = make_certificate(tmp_path / "other")  # trusted instead: a different certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(other.cert))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-such-dir"))
    handler = Recorder()
    with starttls_server(handler, server_context) as port:
        transport = SmtpTransport.from_url(f"smtp+starttls://{CREDENTIALS}@127.0.0.1:{port}")
        with pytest.raises(ssl.SSLCertVerificationError, match="CERTIFICATE_VERIFY_FAILED"):
            await transport.send(message())  # an OSError: the outbox retries it later
    assert handler.logins == []
    assert handler.messages == []


@pytest.mark.usefixtures("trust_cert")
async def test_wrong_password_is_a_temporary_outbox_error(
    server_context: ssl.SSLContext, tmp_path: Path
) -> None:
    """SMTPAuthenticationError: nothing is sent and the row goes back to the queue."""
    handler = Recorder()
    store = SqliteStore(tmp_path / "outbox.sqlite3")
    await store.open()
    now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    try:
        with starttls_server(handler, server_context) as port:
            transport = SmtpTransport.from_url(
                f"smtp+starttls://user%40x:wrong@127.0.0.1:{port}"
            )
            with pytest.raises(aiosmtplib.SMTPAuthenticationError) as raised:
                await transport.send(message())
            assert isinstance(raised.value, aiosmtplib.SMTPException)
            assert raised.value.code == 535

            outbox = Outbox(store, transport, mail_from="T <t@example.org>", now=lambda: now)
            (entry_id,) = await outbox.enqueue(
                [OutboxItem(None, "password-reset", "a@example.org", "a", "Reset", "t", "<p/>")]
            )
            assert await outbox.deliver_due() == 0
        row = await store.outbox_entry(entry_id)
        assert row is not None
        assert (row.state, row.attempts) == ("queued", 1)
        assert row.next_attempt_at == now + timedelta(seconds=10)
        assert row.last_error is not None
        assert "SMTPAuthenticationError" in row.last_error
        assert "authentication" in row.last_error.lower()
    finally:
        await store.close()
    assert handler.messages == []
    assert handler.logins and all(login == (USER, "wrong", True) for login in handler.logins)


async def test_plain_client_never_sends_credentials_to_a_starttls_server(
    server_context: ssl.SSLContext, caplog: pytest.LogCaptureFixture
) -> None:
    """``smtp://`` with a password against a server that requires STARTTLS: refused."""
    caplog.set_level(logging.INFO, logger="mail.log")  # aiosmtpd logs each command line
    handler = Recorder()
    with starttls_server(handler, server_context) as port:
        transport = SmtpTransport.from_url(f"smtp://{CREDENTIALS}@127.0.0.1:{port}")
        assert not transport.start_tls and not transport.use_tls
        with pytest.raises(aiosmtplib.SMTPException, match="AUTH"):
            await transport.send(message())
    assert handler.logins == []
    assert handler.messages == []
    commands = [
        bytes(r.args[1]).upper() for r in caplog.records
        if r.name == "mail.log" and r.msg == "%r >> %r" and isinstance(r.args, tuple)
    ]
    assert any(c.startswith(b"EHLO") for c in commands), commands
    assert not any(c.startswith(b"AUTH") for c in commands), commands


@pytest.mark.usefixtures("trust_cert")
async def test_implicit_tls_with_auth_delivers(server_context: ssl.SSLContext) -> None:
    """``smtps://``: TLS from the first byte, then AUTH and the message."""
    handler = Recorder()
    # aiosmtpd 1.4 only counts STARTTLS as TLS for auth_require_tls (it would not offer
    # AUTH here at all); that AUTH really ran over TLS is checked through the transport.
    with serving(
        handler,
        ssl_context=server_context,
        auth_require_tls=False,
        authenticator=handler.authenticator,
    ) as port:
        transport = SmtpTransport.from_url(f"smtps://{CREDENTIALS}@127.0.0.1:{port}")
        assert transport.use_tls and not transport.start_tls
        await transport.send(message("Hello over implicit TLS"))
    assert [str(m["Subject"]) for m in handler.messages] == ["Hello over implicit TLS"]
    assert handler.sessions == [(True, True)]
    assert handler.logins == [(USER, PASSWORD, True)]

"""Sending SMS over SMPP 3.4 with smpplib, configured by ``smpp://system_id:password@host:port``.

Query options: ``system_type=…`` (some SMSCs want one) and ``source=…`` (the sender:
"+38640123456", a short code "1234" or an alphanumeric name of up to 11 characters);
without ``source`` the ``sender`` argument is used, and without either the SMSC fills
in its default. A "+" in the query stays a "+" (%2B works too).

smpplib is blocking, so all SMPP work runs on one worker thread of our own, which
also keeps the one bound transmitter connection: sends are serialised (the link's
lock, and a single worker). Before each message the link takes in what the SMSC sent
while we were idle (answering enquire_link, noticing an unbind or a closed socket)
and binds again if the session is gone; an error in the middle of a send drops the
connection, and the next send binds anew.

A long message goes as concatenated parts (UDH, see ``concat``). If a later part is
refused after earlier ones were accepted, the error is raised all the same: a retry
then resends the whole message (at-least-once, like the e-mail outbox).

The id returned is the SMSC's message id; for a concatenated message, the ids of its
parts joined by ",".
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import re
import select
import socket
import struct
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.smpp

from .concat import Submission, submission
from .provider import SmsError, check_message, public_url

logger = logging.getLogger(__name__)

DEFAULT_PORT = 2775
TIMEOUT_SECONDS = 10.0
#: how long close() waits for the SMSC's unbind_resp
UNBIND_TIMEOUT_SECONDS = 2.0

TON_UNKNOWN, TON_INTERNATIONAL, TON_NATIONAL, TON_ALPHANUMERIC = 0, 1, 2, 5
NPI_UNKNOWN, NPI_ISDN = 0, 1

#: longest values SMPP 3.4 allows (C-octet strings, without the NUL); smpplib would
#: silently cut longer ones, and a cut password fails the bind mysteriously
MAX_SYSTEM_ID, MAX_PASSWORD, MAX_SYSTEM_TYPE, MAX_ALPHANUMERIC_SOURCE = 15, 8, 12, 11

#: command_status values that refuse this message itself: retrying cannot help.
#: Everything else (throttling 0x58, system error 0x08, queue full 0x14, submit
#: failed 0x45, temporary application error 0x64, vendor codes…) is temporary.
PERMANENT_STATUSES = frozenset(
    {
        0x01,  # ESME_RINVMSGLEN: message length is invalid
        0x0A,  # ESME_RINVSRCADR: source address refused
        0x0B,  # ESME_RINVDSTADR: destination address invalid
        0x33,  # ESME_RINVNUMDESTS
        0x43,  # ESME_RINVESMCLASS
        0x48,  # ESME_RINVSRCTON
        0x49,  # ESME_RINVSRCNPI
        0x50,  # ESME_RINVDSTTON
        0x51,  # ESME_RINVDSTNPI
        0x65,  # ESME_RX_P_APPN: permanent application error
        0x66,  # ESME_RX_R_APPN: message rejected
    }
)

# smpplib logs every PDU in hex at DEBUG, the bind (with the password) included:
# its records go to our own logger, which drops those dumps.
_WIRE_LOGGER = f"{__name__}.wire"


class _NoHexDumps(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith((">>", "<<"))


logging.getLogger(_WIRE_LOGGER).addFilter(_NoHexDumps())


def _query(query: str) -> dict[str, str]:
    """``a=b&c=d`` with percent-decoding only: a "+" in a sender number stays a "+"."""
    options: dict[str, str] = {}
    for item in filter(None, query.split("&")):
        key, _, value = item.partition("=")
        options[unquote(key)] = unquote(value)
    return options


def source_address(source: str) -> tuple[int, int, str]:
    """(TON, NPI, address) of a sender; ``ValueError`` for one no SMSC would take."""
    if not source:
        return TON_UNKNOWN, NPI_UNKNOWN, ""
    if re.fullmatch(r"\+[1-9][0-9]{1,19}", source):
        return TON_INTERNATIONAL, NPI_ISDN, source[1:]
    if re.fullmatch(r"[0-9]{1,20}", source):
        return TON_UNKNOWN, NPI_ISDN, source  # a short code or a national number
    if re.fullmatch(r"[ -~]{1,11}", source) and re.search(r"[A-Za-z]", source):
        return TON_ALPHANUMERIC, NPI_UNKNOWN, source  # printable ASCII, a name
    raise ValueError(
        f"SMS sender {source!r}: use +E.164 digits, a short code, or up to"
        f" {MAX_ALPHANUMERIC_SOURCE} ASCII letters, digits and spaces"
    )


@dataclass(frozen=True)
class SmppSettings:
    host: str
    port: int
    system_id: str
    password: str = field(repr=False)
    system_type: str = ""
    source: str = ""
    timeout: float = TIMEOUT_SECONDS

    @classmethod
    def from_url(
        cls, url: str, *, sender: str = "", timeout: float = TIMEOUT_SECONDS
    ) -> SmppSettings:
        shown = public_url(url)
        parts = urlsplit(url.strip())
        if parts.scheme.lower() != "smpp":
            raise ValueError(f"SMPP URL {shown!r}: the scheme must be smpp")
        if not parts.hostname:
            raise ValueError(f"SMPP URL {shown!r} names no host")
        try:
            port = parts.port or DEFAULT_PORT
        except ValueError as exc:
            raise ValueError(f"SMPP URL {shown!r}: {exc}") from None
        if parts.path not in ("", "/"):
            raise ValueError(f"SMPP URL {shown!r}: unexpected path {parts.path!r}")
        if not parts.username:
            raise ValueError(
                f"SMPP URL {shown!r} names no system_id: smpp://system_id:password@host:port"
            )
        options = _query(parts.query)
        unknown = sorted(set(options) - {"system_type", "source"})
        if unknown:
            raise ValueError(
                f"SMPP URL {shown!r}: unknown option {unknown[0]!r} (known: system_type, source)"
            )
        settings = cls(
            host=parts.hostname,
            port=port,
            system_id=unquote(parts.username),
            password=unquote(parts.password or ""),
            system_type=options.get("system_type", ""),
            source=options.get("source", sender),
            timeout=timeout,
        )
        settings._check(shown)
        return settings

    def _check(self, shown: str) -> None:
        for what, value, limit in (
            ("system_id", self.system_id, MAX_SYSTEM_ID),
            ("password", self.password, MAX_PASSWORD),
            ("system_type", self.system_type, MAX_SYSTEM_TYPE),
        ):
            if len(value) > limit or not value.isascii():
                raise ValueError(
                    f"SMPP URL {shown!r}: the {what} must be at most {limit} ASCII characters"
                )
        source_address(self.source)


def status_text(status: int) -> str:
    description = smpplib.consts.DESCRIPTIONS.get(status, "unknown status")
    return f"command_status 0x{status:08X} ({description})"


def status_error(status: int, what: str) -> SmsError:
    return SmsError(f"{what}: {status_text(status)}", permanent=status in PERMANENT_STATUSES)


class _LinkLost(Exception):
    """The session ended under us (the SMSC unbound or closed the connection)."""


#: what can go wrong on the wire, as smpplib reports it
_TRANSPORT_ERRORS = (
    OSError,  # socket.timeout included
    smpplib.exceptions.ConnectionError,
    smpplib.exceptions.PDUError,
    smpplib.exceptions.UnknownCommandError,
    struct.error,
    _LinkLost,
)


def _socket_of(client: smpplib.client.Client) -> socket.socket | None:
    return client._socket  # smpplib has no public accessor


def _hang_up(client: smpplib.client.Client) -> None:
    """Close the socket without smpplib's disconnect(), which warns about bound states."""
    sock = _socket_of(client)
    client._socket = None
    client.state = smpplib.consts.SMPP_CLIENT_STATE_CLOSED
    if sock is not None:
        sock.close()


class _Link:
    """The one bound transmitter session. Blocking: used from the worker thread only."""

    def __init__(self, settings: SmppSettings) -> None:
        self.settings = settings
        self.source = source_address(settings.source)
        self.where = f"SMSC {settings.host}:{settings.port}"
        self.client: smpplib.client.Client | None = None
        self.lock = threading.Lock()

    def submit(self, digits: str, message: Submission) -> list[str]:
        with self.lock:
            client = self._bound()
            try:
                return [self._submit_part(client, digits, message, p) for p in message.payloads]
            except _TRANSPORT_ERRORS as exc:
                self._drop()
                raise SmsError(f"{self.where}: {_describe(exc)}", permanent=False) from None

    def close(self) -> None:
        """Unbind politely (briefly) and close."""
        with self.lock:
            client, self.client = self.client, None
            if client is None:
                return
            try:
                sock = _socket_of(client)
                if sock is not None:
                    sock.settimeout(UNBIND_TIMEOUT_SECONDS)
                client.unbind()
            except _TRANSPORT_ERRORS:
                pass  # closing anyway
            finally:
                _hang_up(client)

    def _drop(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            _hang_up(client)

    def _bound(self) -> smpplib.client.Client:
        if self.client is not None and not self._still_bound(self.client):
            logger.info("%s: the session ended while idle; binding again", self.where)
            self._drop()
        if self.client is None:
            self.client = self._bind()
        return self.client

    def _bind(self) -> smpplib.client.Client:
        settings = self.settings
        client = smpplib.client.Client(
            settings.host,
            settings.port,
            timeout=settings.timeout,
            logger_name=_WIRE_LOGGER,
            allow_unknown_opt_params=True,
        )
        try:
            client.connect()
            client.bind_transmitter(
                system_id=settings.system_id,
                password=settings.password,
                system_type=settings.system_type,
            )
        except smpplib.exceptions.PDUError as exc:
            _hang_up(client)
            status = exc.args[1] if len(exc.args) > 1 else None
            if not isinstance(status, int):
                raise SmsError(f"{self.where}: bind failed: {exc}", permanent=False) from None
            # wrong credentials are the operator's to fix: the messages can wait
            raise SmsError(
                f"{self.where} refused the bind as {settings.system_id!r}: {status_text(status)}",
                permanent=False,
            ) from None
        except _TRANSPORT_ERRORS as exc:
            _hang_up(client)
            raise SmsError(
                f"{self.where}: cannot connect and bind: {_describe(exc)}", permanent=False
            ) from None
        logger.info("%s: bound as transmitter %r", self.where, settings.system_id)
        return client

    def _still_bound(self, client: smpplib.client.Client) -> bool:
        """Take in what arrived while idle; False when the session is gone."""
        sock = _socket_of(client)
        if sock is None:
            return False
        try:
            while select.select([sock], [], [], 0)[0]:
                if not self._unsolicited(client, client.read_pdu()):
                    return False
        except _TRANSPORT_ERRORS:  # end of stream or reset
            return False
        return True

    def _unsolicited(self, client: smpplib.client.Client, pdu: Any) -> bool:
        """Answer a request from the SMSC; False when it ends the session."""
        if pdu.command == "enquire_link":
            self._answer(client, pdu, "enquire_link_resp")
        elif pdu.command == "unbind":
            try:
                self._answer(client, pdu, "unbind_resp")
            except _TRANSPORT_ERRORS:
                pass
            return False
        # anything else (a late response, a stray deliver_sm) is of no use to a transmitter
        return True

    @staticmethod
    def _answer(client: smpplib.client.Client, request: Any, command: str) -> None:
        response = smpplib.smpp.make_pdu(command, client=client)
        response.sequence = request.sequence
        client.send_pdu(response)

    def _submit_part(
        self, client: smpplib.client.Client, digits: str, message: Submission, payload: bytes
    ) -> str:
        ton, npi, source = self.source
        request = client.send_message(
            source_addr_ton=ton,
            source_addr_npi=npi,
            source_addr=source,
            dest_addr_ton=TON_INTERNATIONAL,
            dest_addr_npi=NPI_ISDN,
            destination_addr=digits,
            esm_class=message.esm_class,
            data_coding=message.data_coding,
            short_message=payload,
        )
        response = self._response_to(client, request.sequence)
        if response.status != smpplib.consts.SMPP_ESME_ROK:
            raise status_error(response.status, f"{self.where} refused the message")
        message_id = getattr(response, "message_id", None) or b""
        if isinstance(message_id, bytes):
            message_id = message_id.decode("ascii", "replace")
        return str(message_id)

    def _response_to(self, client: smpplib.client.Client, sequence: int) -> Any:
        while True:
            pdu = client.read_pdu()
            if pdu.command in ("submit_sm_resp", "generic_nack") and pdu.sequence == sequence:
                return pdu
            if pdu.command == "generic_nack" and pdu.sequence == 0:  # our PDU was unreadable
                return pdu
            if not self._unsolicited(client, pdu):
                raise _LinkLost("the SMSC ended the session")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class SmppSmsProvider:
    name = "smpp"

    def __init__(self, url: str, *, sender: str = "", timeout: float = TIMEOUT_SECONDS) -> None:
        self.settings = SmppSettings.from_url(url, sender=sender, timeout=timeout)
        self._link = _Link(self.settings)
        self._executor: ThreadPoolExecutor | None = None
        # ties the parts of one long message; a random start keeps restarts apart
        self._references = itertools.count(random.randrange(256))

    def __repr__(self) -> str:  # never the password
        s = self.settings
        return f"SmppSmsProvider({s.host}:{s.port}, system_id={s.system_id!r})"

    def _worker(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smpp")
        return self._executor

    async def send(self, to: str, text: str) -> str:
        digits = check_message(to, text)
        try:
            message = submission(text, next(self._references) & 0xFF)
        except ValueError as exc:
            raise SmsError(str(exc), permanent=True) from None
        loop = asyncio.get_running_loop()
        ids = await loop.run_in_executor(self._worker(), self._link.submit, digits, message)
        return ",".join(ids)

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._link.close)
        finally:
            executor.shutdown(wait=False)

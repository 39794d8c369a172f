"""The durable outbox: every message is committed to SQLite before it is sent.

A single sender task delivers what is due, one SMTP transaction (or one SMS) per message:

1. the row is marked ``sending`` (attempts + 1, its Message-ID recorded) and committed;
2. the message goes to the SMTP server;
3. on the server's acceptance the row becomes ``sent``; on an error it goes back to
   ``queued`` with the next attempt after 10 s, 30 s, 2 min, 10 min, then every 30 min,
   until it is 24 h old: then ``failed``. A refused recipient fails at once.

A restart loses nothing: ``queued`` rows are sent by the next process. A row found in
``sending`` at start-up was interrupted between steps 1 and 3; it is queued again and
sent once more with the *same* Message-ID (``<outbox-ID.CONFERENCE@DOMAIN>``).

The window that remains, honestly: if the process dies after the SMTP server accepted
the message (its 250 after DATA) but before ``sent`` is committed (a few milliseconds),
the message is delivered twice. Delivery is at-least-once, not exactly-once; the
duplicate carries the identical Message-ID, so mail servers and clients that
de-duplicate by Message-ID drop it, and anyone can recognise it. Choosing the other
side (never resend a ``sending`` row) would lose invitations instead.

Time is injected (``now``) so tests drive retries with a fake clock.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Protocol

import aiosmtplib

from ..store import OutboxEntry, OutboxItem, Store
from .sms.provider import SmsError, SmsProvider

logger = logging.getLogger(__name__)

#: seconds before the 1st, 2nd, … retry; the last one repeats
BACKOFF_SECONDS = (10, 30, 120, 600, 1800)
#: a message this old that still could not be sent is given up
GIVE_UP_AFTER = timedelta(hours=24)
#: the sender looks at the queue at least this often (seconds)
POLL_SECONDS = 60.0


class Transport(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt (1-based)."""
    index = min(max(attempts, 1), len(BACKOFF_SECONDS)) - 1
    return timedelta(seconds=BACKOFF_SECONDS[index])


def one_line(value: str) -> str:
    """A header value can never carry CR/LF (or other controls): no header injection."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())


def mail_domain(mail_from: str) -> str:
    _, address = parseaddr(mail_from)
    domain = address.rpartition("@")[2]
    return domain or "localhost"


def message_id(entry: OutboxEntry, domain: str) -> str:
    """Stable per outbox row: a resend after a crash carries the same Message-ID."""
    scope = entry.conference_id or "account"
    return f"<outbox-{entry.id}.{scope}@{domain}>"


def _address(name: str, addr: str) -> Address:
    username, _, domain = addr.partition("@")
    return Address(display_name=one_line(name), username=username, domain=domain)


def build_email(entry: OutboxEntry, mail_from: str, now: datetime) -> EmailMessage:
    """The MIME message of an outbox row: text + HTML alternatives, the .ics attached."""
    from_name, from_addr = parseaddr(one_line(mail_from))
    msg = EmailMessage()
    msg["From"] = _address(from_name, from_addr or "noreply@localhost")
    msg["To"] = _address(entry.recipient_name, entry.recipient)
    msg["Subject"] = one_line(entry.subject)
    msg["Date"] = format_datetime(entry.created_at.astimezone(UTC))
    msg["Message-ID"] = message_id(entry, mail_domain(mail_from))
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(entry.body_text)
    msg.add_alternative(entry.body_html, subtype="html")
    if entry.attachment is not None:
        name, mime, text = entry.attachment
        _, _, subtype = mime.partition("/")
        msg.add_attachment(text, subtype=subtype or "plain", filename=name)
    if entry.ics:
        # The calendar's own METHOD line (icalendar escapes line breaks in user text, so
        # a title can never start a line of its own).
        found = re.search(r"^METHOD:([A-Z-]+)\r?$", entry.ics, re.MULTILINE)
        method = found.group(1) if found else "PUBLISH"
        msg.add_attachment(
            entry.ics, subtype="calendar", filename="invitation.ics",
            params={"method": method},
        )
    return msg


def utcnow() -> datetime:
    return datetime.now(UTC)


#: told of every change of a message's state (the organiser's page shows it live)
ChangeListener = Callable[[OutboxEntry], None]


class Outbox:
    def __init__(
        self,
        store: Store,
        transport: Transport | None,
        *,
        mail_from: str,
        sms: SmsProvider | None = None,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.transport = transport
        self.sms = sms
        self.mail_from = mail_from
        self.now = now
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._warned_no_transport = False
        self._lock = asyncio.Lock()
        self._listeners: list[ChangeListener] = []
        self._stopping = False

    def subscribe(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels that can send now; messages on others wait in the queue."""
        return (*(("email",) if self.transport else ()), *(("sms",) if self.sms else ()))

    def _tell(self, entry: OutboxEntry) -> None:
        for listener in self._listeners:
            try:
                listener(entry)
            except Exception:
                logger.exception("outbox listener failed")

    async def _changed(self, entry_id: int) -> None:
        if self._listeners and (entry := await self.store.outbox_entry(entry_id)) is not None:
            self._tell(entry)

    async def enqueue(self, items: list[OutboxItem]) -> list[int]:
        """Store the messages (committed) and wake the sender; their ids."""
        return [entry.id for entry in await self.enqueue_entries(items)]

    async def enqueue_entries(self, items: list[OutboxItem]) -> list[OutboxEntry]:
        """Store the messages (committed), tell the listeners, wake the sender.

        A message whose ``dedup_key`` was stored before is left out of the answer.
        """
        if not items:
            return []
        ids = await self.store.add_outbox(items, self.now())
        entries = [e for i in ids if (e := await self.store.outbox_entry(i)) is not None]
        for entry in entries:
            self._tell(entry)
        self._wake.set()
        return entries

    async def deliver_due(self) -> int:
        """Send every message that is due now; returns how many were sent."""
        async with self._lock:
            sent = 0
            while True:
                channels = self.channels
                if not channels:
                    if not self._warned_no_transport:
                        logger.warning(
                            "no SMTP server configured (TELEKONF_SMTP_URL): e-mail stays queued"
                        )
                        self._warned_no_transport = True
                    return sent
                due = await self.store.due_outbox(self.now(), channels)
                if not due:
                    return sent
                for entry in due:
                    sent += await self._deliver(entry)

    async def _send(self, entry: OutboxEntry) -> None:
        if entry.channel == "sms":
            assert self.sms is not None
            await self.sms.send(entry.recipient, entry.body_text)
        else:
            assert self.transport is not None
            await self.transport.send(build_email(entry, self.mail_from, self.now()))

    async def _deliver(self, entry: OutboxEntry) -> int:
        attempts = entry.attempts + 1
        mid = message_id(entry, mail_domain(self.mail_from))
        await self.store.outbox_sending(entry.id, attempts, mid)
        try:
            await self._send(entry)
        except (aiosmtplib.SMTPException, SmsError, OSError, TimeoutError) as exc:
            error = str(exc) if isinstance(exc, SmsError) else f"{type(exc).__name__}: {exc}"
            error = error[:500]
            now = self.now()
            permanent = isinstance(exc, aiosmtplib.SMTPRecipientsRefused) or (
                isinstance(exc, SmsError) and exc.permanent
            )
            next_at = now + backoff(attempts)
            if permanent or next_at - entry.created_at > GIVE_UP_AFTER:
                logger.warning("outbox %d to %s failed for good: %s", entry.id,
                               entry.recipient, error)
                await self.store.outbox_retry(entry.id, error, None)
            else:
                logger.info("outbox %d: %s; next attempt at %s", entry.id, error,
                            next_at.isoformat())
                await self.store.outbox_retry(entry.id, error, next_at)
            await self._changed(entry.id)
            return 0
        except Exception as exc:  # a bug must not stop the sender; retry later
            logger.exception("outbox %d: unexpected error", entry.id)
            await self.store.outbox_retry(
                entry.id, f"{type(exc).__name__}: {exc}"[:500], self.now() + backoff(attempts)
            )
            await self._changed(entry.id)
            return 0
        await self.store.outbox_sent(entry.id, self.now())
        logger.info("outbox %d sent to %s", entry.id, entry.recipient)
        await self._changed(entry.id)
        return 1

    # -- the sender task -------------------------------------------------------------

    async def start(self) -> None:
        requeued = await self.store.requeue_outbox_sending(self.now())
        if requeued:
            logger.warning(
                "%d message(s) were being sent when the service stopped: sending again"
                " (same Message-ID)", requeued,
            )
        self._task = asyncio.create_task(self._run(), name="outbox-sender")

    async def stop(self) -> None:
        """Stop the sender; a message in flight is sent again by the next process."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        # Cancel until it is done: a library awaited inside (an SMTP client, say) may
        # swallow one cancellation, and the sender would then never end.
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        if not task.cancelled() and task.exception() is not None:
            logger.error("the outbox sender failed", exc_info=task.exception())

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self.deliver_due()
                delay = POLL_SECONDS
                channels = self.channels
                due = await self.store.next_outbox_due(channels) if channels else None
                if due is not None:
                    delay = min(POLL_SECONDS, max(0.05, (due - self.now()).total_seconds()))
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("the outbox sender failed; trying again")
                delay = POLL_SECONDS
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that
            # arrives as the event is set, and stop() would wait for the sender forever.
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass

"""The gateway's user agent: SIP calls in, conference legs out.

Messages are parsed and matched to transactions by the sans-IO core
(``gateway.sip``); this module is the transaction user: it answers dial-in
INVITEs on an access number, runs the PIN prompt (``gateway.ivr``), moves the
caller into the conference, and hangs up when the conference ends. It talks to
the conference service through its methods and to the media side only through
``server.media.messages``. Sockets live in ``gateway.transport``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from server.access import AccessNumber, find_access_number
from server.conference import Mode
from server.media import messages as m
from server.service import ConferenceService

from . import ivr
from .dtmf import parse_dtmf_info
from .sip.auth import DigestClient, DigestCredentials, DigestError
from .sip.dialog import Dialog, DialogError, new_call_id, new_tag
from .sip.message import (
    Headers,
    SipParseError,
    SipRequest,
    SipResponse,
    SipUri,
    Via,
    make_cancel,
    make_response,
    parse_message,
    stamp_received,
)
from .sip.sdp import (
    Negotiated,
    SdpError,
    SessionDescription,
    accept_answer,
    make_offer,
    negotiate,
    parse_sdp,
    revise,
)
from .sip.transaction import (
    DEFAULT_TIMERS,
    LayerEvent,
    RequestReceived,
    ResponseReceived,
    ServerTransaction,
    TimedOut,
    TransactionLayer,
    new_branch,
)

logger = logging.getLogger(__name__)

MediaRequest = Callable[[m.MediaCommand], Awaitable[m.MediaReply]]
#: (transport, host, port) of the peer a message came from or goes to
Peer = tuple[str, str, int]
Sender = Callable[[bytes, Peer], None]

LOBBY = "lobby"
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"
USER_AGENT = "Telekonf"
#: why a call we placed did not connect, by final response
FAILURES = {
    486: "busy", 600: "busy", 603: "rejected", 403: "rejected",
    404: "unreachable", 410: "unreachable", 484: "unreachable", 604: "unreachable",
    408: "no-answer", 480: "no-answer", 487: "no-answer",
}
KEYPAD_COMMANDS = {
    ivr.Command.TOGGLE_MUTE: "mute",
    ivr.Command.HELP: "help",
    ivr.Command.TOGGLE_MUTE_ALL: "mute_all",
    ivr.Command.TOGGLE_LOCK: "lock",
    ivr.Command.COUNT: "count",
}


@dataclass(eq=False)
class Call:
    """One dial-in call, from INVITE to BYE."""

    leg_id: str
    invite: SipRequest
    peer: Peer
    access: AccessNumber | None  # dial-in: the number dialled; None for calls we place
    caller: str | None  # E.164 when the From user is a valid number
    caller_name: str
    local_tag: str = field(default_factory=new_tag)
    flow: ivr.CallFlow = field(default_factory=ivr.CallFlow)
    dialog: Dialog | None = None
    answer: SessionDescription | None = None
    ok: SipResponse | None = None  # our 2xx, retransmitted until the ACK
    ok_interval: float = DEFAULT_TIMERS.t1
    ok_next: float = 0.0
    ok_deadline: float = 0.0
    acked: bool = False
    ended: bool = False
    conference_id: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Calls we place (dial-out):
    outbound: bool = False
    #: the conference a call we place joins once answered
    pending_conference: str | None = None
    role: str = "participant"
    press_one: bool = False
    offer: SessionDescription | None = None
    client_tx: object | None = None
    digest: DigestClient | None = None
    auth_tries: int = 0
    ring_deadline: float = float("inf")  # set when the INVITE goes out
    ringing: bool = False
    cancelled: bool = False
    ack: SipRequest | None = None

    @property
    def call_id(self) -> str:
        return self.invite.call_id


class SipGateway:
    def __init__(
        self,
        service: ConferenceService,
        media: MediaRequest,
        *,
        contact_host: str,
        contact_port: int,
        rtp_host: str,
        numbers: tuple[AccessNumber, ...],
        language: str = "en",
        max_calls: int = 500,
        max_unjoined: int = 100,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.media = media
        self.contact_host = contact_host
        self.contact_port = contact_port
        self.rtp_host = rtp_host
        self.numbers = numbers
        self.language = language
        self.max_calls = max_calls
        self.max_unjoined = max_unjoined
        self.monotonic = monotonic
        self.layer = TransactionLayer()
        self.calls: dict[str, Call] = {}  # by Call-ID
        self._by_leg: dict[str, Call] = {}
        self._senders: dict[str, Sender] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self.stats: dict[str, int] = {"malformed": 0, "rejected_busy": 0, "answered": 0}
        self.trunk: SipUri | None = None
        self.registration: Registration | None = None
        self.credentials: DigestCredentials | None = None
        self.caller_id = ""
        self.ring_timeout = 45.0

    def configure_trunk(
        self, trunk: str, *, username: str = "", password: str = "", caller_id: str = "",
        ring_timeout: float = 45.0, register: bool = False,
    ) -> None:
        """Where calls we place go: the carrier's outbound proxy."""
        self.trunk = SipUri.parse(trunk) if trunk else None
        self.credentials = DigestCredentials(username, password) if username else None
        self.caller_id = caller_id
        self.ring_timeout = ring_timeout
        self.registration = Registration() if register and self.trunk else None

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        await self.media(m.OpenConference(LOBBY, self.language))
        self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="sip-timers")
        if self.registration is not None:
            self._register()

    async def stop(self) -> None:
        for call in list(self.calls.values()):
            if call.acked and not call.ended:
                self._send_bye(call)
        self._flush()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def add_transport(self, name: str, sender: Sender) -> None:
        self._senders[name] = sender

    # -- from the wire ---------------------------------------------------------------

    def receive(self, data: bytes, peer: Peer, *, reliable: bool = False) -> None:
        """One datagram (UDP) or one framed message (TCP) from ``peer``."""
        try:
            message = parse_message(data)
        except SipParseError as exc:
            self.stats["malformed"] += 1
            self._answer_malformed(data, exc, peer)
            return
        self.receive_message(message, peer, reliable=reliable)

    def receive_message(
        self, message: SipRequest | SipResponse, peer: Peer, *, reliable: bool = False
    ) -> None:
        now = self.monotonic()
        if isinstance(message, SipRequest):
            stamp_received(message, peer[1], peer[2])
        try:
            self.layer.receive(message, now, peer=peer, reliable=reliable)
        except Exception:
            logger.exception("SIP message from %s could not be handled", peer)
            return
        self._drain_events()
        self._flush()

    def _answer_malformed(self, data: bytes, error: SipParseError, peer: Peer) -> None:
        """400 where an answer is possible: a request with enough headers to address it."""
        if not re.match(rb"^[A-Z]+ \S+ SIP/\d+\.\d+\r?\n", data) or data.startswith(b"ACK "):
            return
        head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        wanted = {"via": "Via", "v": "Via", "from": "From", "f": "From", "to": "To", "t": "To",
                  "call-id": "Call-ID", "i": "Call-ID", "cseq": "CSeq"}
        headers = Headers()
        for line in head.split("\n")[1:]:
            name, sep, value = line.partition(":")
            canonical = wanted.get(name.strip().lower())
            if sep and canonical and "\r" not in value.strip() and value.strip():
                with contextlib.suppress(ValueError):
                    headers.add(canonical, value.strip())
        if not all(h in headers for h in ("Via", "From", "To", "Call-ID", "CSeq")):
            return
        reason = "Bad Request" if error.status == 400 else error.reason
        lines = [f"SIP/2.0 {error.status} {reason}"]
        lines += [f"{name}: {value}" for name, value in headers]
        lines += [f"Warning: 399 {self.contact_host} \"{_quote(str(error))}\"",
                  "Content-Length: 0", "", ""]
        try:
            via = Via.parse(headers.get("Via") or "")
            host, port = via.response_address()
        except ValueError:
            host, port = peer[1], peer[2]
        if peer[0] == "udp":
            # rport is the norm today; answer where the datagram came from.
            host, port = peer[1], peer[2]
        self._send_raw("\r\n".join(lines).encode(), (peer[0], host, port))

    # -- transaction events ------------------------------------------------------------

    def _drain_events(self) -> None:
        while (item := self.layer.next_event()) is not None:
            try:
                self._on_layer_event(item)
            except Exception:
                logger.exception("SIP event %r failed", item.event)

    def _on_layer_event(self, item: LayerEvent) -> None:
        event = item.event
        if isinstance(event, RequestReceived):
            request = event.request
            peer = item.peer if isinstance(item.peer, tuple) else None
            if request.method == "ACK":
                self._on_ack(request)
            elif isinstance(item.transaction, ServerTransaction) and peer is not None:
                self._on_request(item.transaction, request, peer)  # type: ignore[arg-type]
        elif isinstance(event, ResponseReceived) and event.response.cseq.method == "REGISTER":
            self._on_register_response(event.response)
        elif isinstance(event, ResponseReceived):
            call = self.calls.get(event.response.call_id)
            if call is not None and call.outbound and event.response.cseq.method == "INVITE":
                self._on_dial_response(call, event.response)
        elif isinstance(event, TimedOut):
            if self.registration is not None and item.transaction is self.registration.tx:
                self.registration.failed(self.monotonic())
            for call in list(self.calls.values()):
                if call.outbound and call.client_tx is item.transaction and call.dialog is None:
                    self._spawn(self._dial_failed(call, "unreachable"))
        # Responses to our BYEs need nothing more than the transaction's handling.

    def _on_request(self, tx: ServerTransaction, request: SipRequest, peer: Peer) -> None:
        method = request.method
        call = self.calls.get(request.call_id)
        in_dialog = request.to.tag is not None
        if method == "INVITE" and not in_dialog:
            if call is not None:
                return  # a retransmission the transaction did not absorb
            self._spawn(self._on_invite(request, peer))
        elif method == "CANCEL":
            self._on_cancel(request)
        elif method == "OPTIONS" and not in_dialog:
            self._respond(request, 200, headers={"Allow": ALLOW, "Accept": "application/sdp"})
        elif in_dialog and (call is None or call.dialog is None or call.ended):
            self._respond(request, 481)
        elif in_dialog and call is not None:
            try:
                assert call.dialog is not None
                call.dialog.receive_request(request)
            except DialogError as exc:
                self._respond(request, exc.status)
                return
            if method == "BYE":
                self._respond(request, 200)
                self._spawn(self._hung_up(call, "hangup"))
            elif method == "INVITE":
                self._spawn(self._on_reinvite(call, request))
            elif method == "INFO":
                self._on_info(call, request)
            elif method == "OPTIONS":
                self._respond(request, 200, headers={"Allow": ALLOW})
            else:
                self._respond(request, 405, headers={"Allow": ALLOW})
        elif method in ("REGISTER", "SUBSCRIBE", "PUBLISH", "MESSAGE", "NOTIFY", "REFER",
                        "UPDATE", "PRACK", "BYE", "INFO"):
            status = 481 if method in ("BYE", "INFO", "UPDATE", "PRACK", "NOTIFY") else 405
            self._respond(request, status, headers={"Allow": ALLOW})
        else:
            self._respond(request, 501)

    # -- dial-in -------------------------------------------------------------------------

    async def _on_invite(self, invite: SipRequest, peer: Peer) -> None:
        dialled = invite.uri.user or ""
        access = find_access_number(dialled, self.numbers)
        if access is None:
            self._respond(invite, 404, "No Such Number")
            return
        unjoined = sum(1 for c in self.calls.values() if c.conference_id is None)
        if len(self.calls) >= self.max_calls or unjoined >= self.max_unjoined:
            self.stats["rejected_busy"] += 1
            self._respond(invite, 503, headers={"Retry-After": "30"})
            return
        if invite.headers.get("Content-Type", "").split(";")[0].strip().lower() not in (
            "application/sdp", ""
        ) or not invite.body:
            # Offerless INVITEs (late offer) are rare on trunks; we need the offer.
            self._respond(invite, 488, headers={"Warning": '399 - "an SDP offer is required"'})
            return
        try:
            offer = parse_sdp(invite.body.decode("utf-8", "replace"))
            negotiate(offer, self.rtp_host, 9, session_id=1, session_version=1)
        except SdpError as exc:
            self._respond(invite, exc.status, headers={"Warning": f'399 - "{_quote(str(exc))}"'})
            return
        caller, caller_name = _caller(invite)
        call = Call(secrets.token_hex(8), invite, peer, access, caller, caller_name)
        self.calls[invite.call_id] = call
        self._by_leg[call.leg_id] = call
        async with call.lock:
            session_id = secrets.randbelow(2**31)
            first = negotiate(offer, self.rtp_host, 9, session_id=session_id, session_version=1)
            facts = first.negotiated
            reply = await self.media(
                m.AddRtpLeg(
                    LOBBY, call.leg_id, facts.remote_address, facts.remote_port, facts.codec,
                    facts.payload_type, facts.telephone_event, facts.ptime or 20,
                )
            )
            if call.ended:  # CANCELled meanwhile
                await self.media(m.CloseLeg(call.leg_id))
                return
            if not isinstance(reply, m.RtpLegReady):
                self._forget(call)
                self._respond(invite, 503, headers={"Retry-After": "10"})
                return
            if facts.on_hold:
                await self.media(
                    m.UpdateRtpLeg(call.leg_id, facts.remote_address, facts.remote_port, True)
                )
            answer = negotiate(
                offer, reply.local_host, reply.local_port,
                session_id=session_id, session_version=1,
            )
            call.answer = answer.sdp
            ok = make_response(
                invite, 200, to_tag=call.local_tag,
                headers=self._contact_headers(peer) | {"Content-Type": "application/sdp"},
                body=str(answer.sdp).encode(),
            )
            call.ok = ok
            call.dialog = Dialog.uas(invite, ok)
            now = self.monotonic()
            call.ok_next = now + call.ok_interval
            call.ok_deadline = now + DEFAULT_TIMERS.b
            self._send_response(ok)
            self.stats["answered"] += 1

    def _on_ack(self, ack: SipRequest) -> None:
        call = self.calls.get(ack.call_id)
        if call is None or call.acked or call.ended:
            return
        call.acked = True
        call.ok = None
        self._spawn(self._run_actions(call, call.flow.start(self.monotonic())))

    def _on_cancel(self, cancel: SipRequest) -> None:
        invite_tx = self.layer.find_invite(cancel)
        self._respond(cancel, 200 if invite_tx is not None else 481)
        call = self.calls.get(cancel.call_id)
        if invite_tx is None or call is None or call.ok is not None or call.acked:
            return  # answered already: the caller will BYE
        call.ended = True
        self._forget(call)
        self._respond(call.invite, 487)

    def _on_info(self, call: Call, request: SipRequest) -> None:
        content_type = request.headers.get("Content-Type", "")
        digit = parse_dtmf_info(content_type, request.body) if request.body else None
        self._respond(request, 200 if digit is not None or not request.body else 415)
        if digit is not None:
            self._spawn(self._digit(call, digit))

    async def _on_reinvite(self, call: Call, request: SipRequest) -> None:
        """Hold, resume or a new address: take the leg out of the mix while held."""
        async with call.lock:
            try:
                offer = parse_sdp(request.body.decode("utf-8", "replace"))
                previous = call.answer
                session_id = previous.origin.session_id if previous else 1
                answer = negotiate(
                    offer, self.rtp_host, _media_port(previous),
                    session_id=session_id, session_version=1,
                )
            except SdpError as exc:
                self._respond(request, exc.status)
                return
            facts: Negotiated = answer.negotiated
            await self.media(
                m.UpdateRtpLeg(call.leg_id, facts.remote_address, facts.remote_port,
                               facts.on_hold)
            )
            sdp = revise(previous, answer.sdp)
            call.answer = sdp
            self._respond(
                request, 200,
                headers=self._contact_headers(call.peer) | {"Content-Type": "application/sdp"},
                body=str(sdp).encode(),
            )

    # -- the caller's way in ---------------------------------------------------------------

    async def _digit(self, call: Call, digit: str) -> None:
        async with call.lock:
            if not call.ended:
                await self._run_actions(call, call.flow.digit(digit, self.monotonic()))

    async def _run_actions(self, call: Call, actions: list[ivr.Action]) -> None:
        for action in actions:
            if call.ended:
                return
            match action:
                case ivr.Play(prompts):
                    room = call.conference_id or LOBBY
                    await self.media(
                        m.PlayPrompts(room, prompts, leg_ids=(call.leg_id,), exclusive=True)
                    )
                case ivr.StopPrompts():
                    await self.media(m.StopPrompts(call.leg_id))
                case ivr.CheckPin(pin):
                    await self._check_pin(call, pin)
                case ivr.RunCommand(command):
                    await self.service.keypad(call.leg_id, KEYPAD_COMMANDS[command])
                case ivr.HangUp(farewell):
                    if call.outbound and call.conference_id is None:
                        await self._dial_failed(call, "no-answer", bye=True)
                    else:
                        await self.media(m.CloseLeg(call.leg_id, farewell=farewell))
                case ivr.Accept():
                    await self._accept(call)

    async def _check_pin(self, call: Call, pin: str) -> None:
        clients = [f"ip:{call.peer[1]}"]
        if call.caller:
            clients.append(f"tel:{call.caller}")
        check = await self.service.check_pin(pin, clients)
        now = self.monotonic()
        if check.verdict == "ok" and check.conference_id is not None and check.role:
            joined = await self.service.admit_phone(
                check.conference_id, call.leg_id, check.role,
                name=call.caller_name, phone=call.caller,
                access_number=call.access.e164 if call.access else None,
                access_mode=call.access.mode.value if call.access else None,
            )
            if joined:
                call.conference_id = check.conference_id
                await self._run_actions(call, call.flow.verdict(ivr.Verdict.OK, now, check.role))
                return
            await self._run_actions(call, call.flow.verdict(ivr.Verdict.WRONG, now))
            return
        verdict = {"throttled": ivr.Verdict.THROTTLED, "locked": ivr.Verdict.LOCKED}.get(
            check.verdict, ivr.Verdict.WRONG
        )
        await self._run_actions(call, call.flow.verdict(verdict, now))

    # -- dial-out ----------------------------------------------------------------------------

    async def dial(
        self,
        conference_id: str,
        leg_id: str,
        number: str,
        *,
        name: str,
        role: str = "participant",
        press_one: bool = False,
    ) -> None:
        """Call ``number`` (E.164, already through the toll-fraud fence) into a conference.

        Progress goes to the service: ``dial_progress(leg_id, "ringing" | failure)``,
        then ``admit_phone`` once answered (and 1 pressed, with ``press_one``).
        """
        if self.trunk is None:
            raise RuntimeError("no SIP trunk is configured for dial-out")
        trunk = self.trunk
        peer: Peer = ("udp", trunk.host.strip("[]"), trunk.port or 5060)
        call_id = new_call_id(self.contact_host)
        uri = SipUri("sip", user=number, host=trunk.host, port=trunk.port,
                     params={"user": "phone"})
        headers = Headers()
        headers.add("Via", self._via(peer))
        headers.add("Max-Forwards", "70")
        caller = self.caller_id or "telekonf"
        headers.add("From", f"<sip:{caller}@{self.contact_host}>;tag={new_tag()}")
        headers.add("To", f"<sip:{number}@{trunk.host}>")
        headers.add("Call-ID", call_id)
        headers.add("CSeq", "1 INVITE")
        headers.add("Contact", self._contact_headers(peer)["Contact"])
        headers.add("Allow", ALLOW)
        headers.add("User-Agent", USER_AGENT)
        invite = SipRequest("INVITE", uri, headers)
        call = Call(leg_id, invite, peer, None, number, name, outbound=True, role=role,
                    press_one=press_one, pending_conference=conference_id)
        call.local_tag = invite.from_.tag or new_tag()
        call.digest = DigestClient(self.credentials) if self.credentials else None
        self.calls[call_id] = call
        self._by_leg[leg_id] = call
        reply = await self.media(
            # No address to send to until the answer: port 0 keeps the leg quiet.
            m.AddRtpLeg(LOBBY, leg_id, "0.0.0.0", 0, "PCMU", 0, 101)
        )
        if not isinstance(reply, m.RtpLegReady):
            self._forget(call)
            await self.service.dial_progress(leg_id, "failed")
            return
        if call.cancelled or call.ended:  # given up on before the INVITE went out
            await self._dial_failed(call, "no-answer")
            return
        call.offer = make_offer(
            reply.local_host, reply.local_port, ("PCMU", "PCMA", "telephone-event"),
            session_id=secrets.randbelow(2**31), session_version=1,
        )
        invite.headers.add("Content-Type", "application/sdp")
        invite.body = str(call.offer).encode()
        call.ring_deadline = self.monotonic() + self.ring_timeout
        self._send_invite(call)

    def _via(self, peer: Peer) -> str:
        transport = "TCP" if peer[0] == "tcp" else "UDP"
        host, port = self.contact_host, self.contact_port
        return f"SIP/2.0/{transport} {host}:{port};branch={new_branch()};rport"

    def _send_invite(self, call: Call) -> None:
        try:
            call.client_tx = self.layer.send_request(call.invite, self.monotonic(), peer=call.peer)
        except Exception:
            logger.exception("INVITE for %s could not be sent", call.leg_id)
            self._spawn(self._dial_failed(call, "failed"))
        self._flush()

    def _on_dial_response(self, call: Call, response: SipResponse) -> None:
        status = response.status
        if call.ended:
            return
        if 100 < status < 200 and not call.ringing and call.dialog is None:
            call.ringing = True
            self._spawn(self.service.dial_progress(call.leg_id, "ringing"))
        elif 200 <= status < 300:
            if call.dialog is not None:
                if call.ack is not None:  # our ACK was lost: the 2xx came again
                    self.layer.send_stateless(call.ack, call.peer)
                    self._flush()
                return
            self._spawn(self._dial_answered(call, response))
        elif status in (401, 407) and call.digest is not None and call.auth_tries < 2:
            call.auth_tries += 1
            header = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
            try:
                call.digest.challenge(*response.headers.get_all(header))
                value = call.digest.authorization("INVITE", str(call.invite.uri))
            except DigestError as exc:
                logger.info("cannot answer the trunk's challenge: %s", exc)
                self._spawn(self._dial_failed(call, "failed"))
                return
            invite = call.invite
            headers = Headers([(n, v) for n, v in invite.headers
                               if n not in ("Via", "CSeq", "Authorization",
                                            "Proxy-Authorization")])
            headers.add("Via", self._via(call.peer), first=True)
            headers.add("CSeq", f"{invite.cseq.number + 1} INVITE")
            headers.add("Authorization" if status == 401 else "Proxy-Authorization", value)
            call.invite = SipRequest("INVITE", invite.uri, headers, invite.body)
            self._send_invite(call)
        elif status >= 300:
            reason = FAILURES.get(status, "failed")
            if call.cancelled:
                reason = "no-answer"
            self._spawn(self._dial_failed(call, reason))

    async def _dial_answered(self, call: Call, response: SipResponse) -> None:
        call.dialog = Dialog.uac(call.invite, response)
        ack = call.dialog.create_ack(via=Via.parse(self._via(call.peer)))
        call.ack = ack
        call.acked = True
        self.layer.send_stateless(ack, call.peer)
        self._flush()
        async with call.lock:
            try:
                assert call.offer is not None
                answer = parse_sdp(response.body.decode("utf-8", "replace"))
                facts = accept_answer(call.offer, answer)
            except (SdpError, ValueError) as exc:
                logger.info("unusable answer from %s: %s", call.invite.uri, exc)
                await self._dial_failed(call, "failed", bye=True)
                return
            await self.media(
                m.UpdateRtpLeg(
                    call.leg_id, facts.remote_address, facts.remote_port, facts.on_hold,
                    codec=facts.codec, payload_type=facts.payload_type,
                    dtmf_payload_type=facts.telephone_event,
                )
            )
            if call.press_one:
                await self._run_actions(call, call.flow.ask_to_press_one(self.monotonic()))
            else:
                await self._accept(call)

    async def _accept(self, call: Call) -> None:
        conference_id = call.pending_conference
        joined = conference_id is not None and await self.service.admit_phone(
            conference_id, call.leg_id, call.role, name=call.caller_name, phone=call.caller,
            mode=Mode.DIAL_OUT,
        )
        if not joined:
            await self._dial_failed(call, "failed", bye=True)
            return
        call.conference_id = conference_id
        call.flow.joined(call.role)

    async def _dial_failed(self, call: Call, reason: str, *, bye: bool = False) -> None:
        if call.ended:
            return
        call.ended = True
        if bye and call.dialog is not None:
            self._send_bye(call)
        self._forget(call)
        await self.media(m.CloseLeg(call.leg_id))
        await self.service.dial_progress(call.leg_id, reason)

    def _cancel(self, call: Call) -> None:
        """Stop a call that is still ringing (ring timeout, or the conference ended)."""
        if call.cancelled or call.dialog is not None:
            return
        call.cancelled = True
        if call.client_tx is None:
            return  # no INVITE sent yet: dial() sees the flag and stops there
        try:
            self.layer.send_request(make_cancel(call.invite), self.monotonic(), peer=call.peer)
        except Exception:
            logger.exception("CANCEL for %s could not be sent", call.leg_id)
        self._flush()

    # -- registration with the trunk ------------------------------------------------------

    def _register(self, authorization: tuple[str, str] | None = None) -> None:
        reg = self.registration
        assert reg is not None and self.trunk is not None
        trunk = self.trunk
        peer: Peer = ("udp", trunk.host.strip("[]"), trunk.port or 5060)
        user = self.credentials.username if self.credentials else "telekonf"
        reg.cseq += 1
        headers = Headers()
        headers.add("Via", self._via(peer))
        headers.add("Max-Forwards", "70")
        headers.add("From", f"<sip:{user}@{trunk.host}>;tag={reg.tag}")
        headers.add("To", f"<sip:{user}@{trunk.host}>")
        headers.add("Call-ID", reg.call_id)
        headers.add("CSeq", f"{reg.cseq} REGISTER")
        headers.add("Contact", self._contact_headers(peer)["Contact"])
        headers.add("Expires", str(reg.expires))
        headers.add("User-Agent", USER_AGENT)
        if authorization is not None:
            headers.add(*authorization)
        uri = SipUri("sip", host=trunk.host, port=trunk.port)
        try:
            reg.tx = self.layer.send_request(
                SipRequest("REGISTER", uri, headers), self.monotonic(), peer=peer
            )
        except Exception:
            logger.exception("REGISTER could not be sent")
            reg.failed(self.monotonic())
        self._flush()

    def _on_register_response(self, response: SipResponse) -> None:
        reg = self.registration
        if reg is None or response.status < 200:
            return
        now = self.monotonic()
        if 200 <= response.status < 300:
            granted = response.headers.get("Expires")
            expires = int(granted) if granted and granted.isdigit() else reg.expires
            reg.registered(now, expires)
            logger.info("registered with the trunk for %d s", expires)
        elif response.status in (401, 407) and self.credentials and reg.auth_tries < 2:
            reg.auth_tries += 1
            header = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
            digest = DigestClient(self.credentials)
            try:
                digest.challenge(*response.headers.get_all(header))
                assert self.trunk is not None
                uri = str(SipUri("sip", host=self.trunk.host, port=self.trunk.port))
                value = digest.authorization("REGISTER", uri)
            except DigestError as exc:
                logger.warning("cannot answer the trunk's REGISTER challenge: %s", exc)
                reg.failed(now)
                return
            name = "Authorization" if response.status == 401 else "Proxy-Authorization"
            self._register((name, value))
        else:
            logger.warning("the trunk refused our REGISTER: %s", response.status)
            reg.failed(now)

    # -- media events ------------------------------------------------------------------------

    def on_media_event(self, event: m.MediaEvent) -> None:
        call = self._by_leg.get(event.leg_id)
        if call is None:
            return
        if isinstance(event, m.LegDigit):
            self._spawn(self._digit(call, event.digit))
        elif isinstance(event, m.LegClosed) and call.outbound and call.dialog is None:
            self._cancel(call)  # still ringing: the conference no longer wants it
        elif isinstance(event, m.LegClosed) and not call.ended:
            # The bridge closed the leg (farewell heard, removed, conference over, or
            # RTP dead): end the call.
            call.ended = True
            if call.acked:
                self._send_bye(call)
            self._forget(call)
            if event.reason == "failed":
                self._spawn(self.service.phone_left(call.leg_id, "failed"))

    async def _hung_up(self, call: Call, reason: str) -> None:
        if call.ended:
            return
        call.ended = True
        self._forget(call)
        # Media first: if this was the organiser, ending the conference must not
        # queue a farewell for a phone that has already hung up.
        await self.media(m.CloseLeg(call.leg_id))
        await self.service.phone_left(call.leg_id, reason)

    # -- sending ---------------------------------------------------------------------------------

    def _contact_headers(self, peer: Peer) -> dict[str, str]:
        transport = ";transport=tcp" if peer[0] == "tcp" else ""
        return {
            "Contact": f"<sip:telekonf@{self.contact_host}:{self.contact_port}{transport}>",
            "Allow": ALLOW,
            "Server": USER_AGENT,
        }

    def _respond(
        self,
        request: SipRequest,
        status: int,
        reason: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        to_tag = None
        call = self.calls.get(request.call_id)
        if request.to.tag is None and status > 100:
            to_tag = call.local_tag if call is not None else new_tag()
        response = make_response(
            request, status, reason, to_tag=to_tag, headers=headers, body=body
        )
        self._send_response(response)

    def _send_response(self, response: SipResponse) -> None:
        try:
            self.layer.send_response(response, self.monotonic())
        except Exception:
            logger.debug("no transaction for %s", response.status, exc_info=True)
        self._flush()

    def _send_bye(self, call: Call) -> None:
        assert call.dialog is not None
        transport = "TCP" if call.peer[0] == "tcp" else "UDP"
        via = Via(transport, self.contact_host, self.contact_port, {"branch": "", "rport": None})
        bye = call.dialog.create_request("BYE", via=via)
        bye.headers.add("User-Agent", USER_AGENT)
        try:
            self.layer.send_request(
                bye, self.monotonic(), peer=call.peer, reliable=call.peer[0] == "tcp"
            )
        except Exception:
            logger.exception("BYE for %s could not be sent", call.call_id)
        self._flush()

    def _flush(self) -> None:
        for out in self.layer.pop_outgoing():
            peer = out.peer
            message = out.message
            if isinstance(message, SipResponse) and (
                not isinstance(peer, tuple) or peer[0] == "udp"
            ):
                host, port = message.top_via.response_address()
                peer = ("udp", host, port)
            if isinstance(peer, tuple):
                self._send_raw(bytes(message), peer)

    def _send_raw(self, data: bytes, peer: Peer) -> None:
        sender = self._senders.get(peer[0])
        if sender is None:
            logger.warning("no %s transport to reach %s", peer[0], peer)
            return
        try:
            sender(data, peer)
        except OSError as exc:
            logger.info("could not send to %s: %s", peer, exc)

    # -- timers ---------------------------------------------------------------------------------

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.02)
            try:
                self.handle_timers(self.monotonic())
            except Exception:
                logger.exception("SIP timers failed")

    def handle_timers(self, now: float) -> None:
        self.layer.handle_timer(now)
        self._drain_events()
        if self.registration is not None and now >= self.registration.next_attempt:
            self.registration.next_attempt = now + 60.0  # until an answer says otherwise
            self.registration.auth_tries = 0
            self._register()
        for call in list(self.calls.values()):
            if call.ok is not None and not call.acked:
                if now >= call.ok_deadline:
                    # No ACK ever came (RFC 3261 §13.3.1.4): confirm and end the dialog.
                    call.ok = None
                    call.acked = True
                    call.ended = True
                    self._send_bye(call)
                    self._forget(call)
                    self._spawn(self.media(m.CloseLeg(call.leg_id)))
                elif now >= call.ok_next and call.peer[0] == "udp":
                    self.layer.send_stateless(call.ok, call.peer)
                    call.ok_interval = min(call.ok_interval * 2, DEFAULT_TIMERS.t2)
                    call.ok_next = now + call.ok_interval
            if call.outbound and call.dialog is None and now >= call.ring_deadline:
                self._cancel(call)
            deadline = call.flow.next_timer()
            if deadline is not None and now >= deadline and not call.ended:
                self._spawn(self._flow_timer(call, now))
        self._flush()

    async def _flow_timer(self, call: Call, now: float) -> None:
        async with call.lock:
            await self._run_actions(call, call.flow.timer(now))

    # -- bookkeeping ----------------------------------------------------------------------------

    def _forget(self, call: Call) -> None:
        self.calls.pop(call.call_id, None)
        self._by_leg.pop(call.leg_id, None)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("SIP task failed", exc_info=task.exception())


@dataclass
class Registration:
    """Our binding at the trunk: refreshed before it expires, retried after failures."""

    expires: int = 3600
    call_id: str = field(default_factory=new_call_id)
    tag: str = field(default_factory=new_tag)
    cseq: int = 0
    auth_tries: int = 0
    tx: object | None = None
    active: bool = False
    next_attempt: float = float("inf")  # the first REGISTER goes out at start

    def registered(self, now: float, expires: int) -> None:
        self.active = True
        self.auth_tries = 0
        self.next_attempt = now + max(expires * 0.8, 30.0)

    def failed(self, now: float) -> None:
        self.active = False
        self.next_attempt = now + 60.0


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')[:200]


def _media_port(sdp: SessionDescription | None) -> int:
    if sdp is None or not sdp.media:
        return 9
    return sdp.media[0].port


def _caller(invite: SipRequest) -> tuple[str | None, str]:
    """The caller's number (E.164, when it is one) and a name to show."""
    sender = invite.from_
    user = sender.uri.user or ""
    number: str | None = None
    with contextlib.suppress(phonenumbers.NumberParseException):
        candidate = user if user.startswith("+") else "+" + user
        parsed = phonenumbers.parse(candidate, None)
        if phonenumbers.is_valid_number(parsed):
            number = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if sender.display_name:
        name = sender.display_name
    elif number:
        name = phonenumbers.format_number(
            phonenumbers.parse(number), phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
    else:
        name = "Phone"
    return number, name[:100]

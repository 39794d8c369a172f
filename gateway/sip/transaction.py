"""SIP transactions (RFC 3261 §17, with RFC 6026's Accepted state), sans-IO.

Each transaction is a small state machine driven from outside, in the aioquic style:

* the constructor takes the request and ``now`` (seconds, any monotonic origin);
* ``receive(message, now)`` feeds a message that matched the transaction;
* ``handle_timer(now)`` fires every timer that is due; ``next_timer()`` says when to call it;
* ``pop_outgoing()`` hands over the messages to put on the wire (first sends and
  retransmissions alike), ``next_event()`` the events for the transaction user (TU).

``TransactionLayer`` keeps the transactions of one user agent, matches incoming messages to
them (§17.1.3, §17.2.3), creates server transactions for new requests and drops the finished.

Reliable transports (TCP, TLS, WS) never retransmit and the "linger" timers D, I, J and K are
zero: the transaction ends as soon as it would start waiting.
"""

from __future__ import annotations

import enum
import heapq
import itertools
import logging
import secrets
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from .message import (
    MAGIC_COOKIE,
    CSeq,
    Headers,
    SipMessage,
    SipRequest,
    SipResponse,
    make_response,
)

__all__ = [
    "DEFAULT_TIMERS",
    "Event",
    "InviteClientTransaction",
    "InviteServerTransaction",
    "LayerEvent",
    "NonInviteClientTransaction",
    "NonInviteServerTransaction",
    "Outgoing",
    "RequestReceived",
    "ResponseReceived",
    "State",
    "Terminated",
    "TimedOut",
    "Timers",
    "Transaction",
    "TransactionError",
    "TransactionLayer",
    "TransportError",
    "new_branch",
]

logger = logging.getLogger(__name__)


def new_branch() -> str:
    """A fresh Via branch: RFC 3261's magic cookie and 64 random bits in hex."""
    return MAGIC_COOKIE + secrets.token_hex(8)


class TransactionError(RuntimeError):
    """The TU used a transaction wrongly (e.g. a second final response): our bug, not the peer's."""


@dataclass(frozen=True)
class Timers:
    """Timer values of RFC 3261 Table 4 (seconds); the derived timers are properties."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0

    @property
    def b(self) -> float:
        return 64 * self.t1

    # F, H and J (RFC 3261) and L and M (RFC 6026) are 64*T1 as well.
    f = h = j = l = m = b  # noqa: E741

    @property
    def d(self) -> float:
        return max(32.0, 64 * self.t1)  # "> 32 s" for unreliable transports

    @property
    def i(self) -> float:
        return self.t4

    k = i


DEFAULT_TIMERS = Timers()


class State(enum.Enum):
    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


# Events for the transaction user --------------------------------------------------------------


@dataclass(frozen=True)
class ResponseReceived:
    """A response for the TU (1xx and the final response; for INVITE also 2xx retransmissions)."""

    response: SipResponse


@dataclass(frozen=True)
class RequestReceived:
    """A new request for the TU (or an ACK that reached an INVITE in the Accepted state)."""

    request: SipRequest


@dataclass(frozen=True)
class TimedOut:
    """Timer B/F (no final response) or Timer H (no ACK for our final response) fired."""


@dataclass(frozen=True)
class TransportError:
    """The shell reported that a message of this transaction could not be sent."""


@dataclass(frozen=True)
class Terminated:
    """The transaction is over; it can be forgotten."""


Event = ResponseReceived | RequestReceived | TimedOut | TransportError | Terminated


# The state machines -------------------------------------------------------------------------


class Transaction:
    """Common machinery: named timers as absolute deadlines, an outbox and an event queue."""

    state: State

    def __init__(
        self,
        request: SipRequest,
        now: float,
        *,
        reliable: bool = False,
        timers: Timers = DEFAULT_TIMERS,
        peer: Hashable = None,
    ) -> None:
        self.request = request
        self.reliable = reliable
        self.timers = timers
        #: Opaque address or connection id: where our messages go, chosen by the shell.
        self.peer = peer
        self.branch = request.branch
        self._deadlines: dict[str, float] = {}
        self._outgoing: list[SipMessage] = []
        self._events: deque[Event] = deque()

    # -- API for the driver --

    @property
    def terminated(self) -> bool:
        return self.state is State.TERMINATED

    def next_timer(self) -> float | None:
        return min(self._deadlines.values(), default=None)

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at ``now``, earliest first."""
        while self._deadlines:
            name, deadline = min(self._deadlines.items(), key=lambda item: item[1])
            if deadline > now:
                break
            del self._deadlines[name]
            self._on_timer(name, now)

    def pop_outgoing(self) -> list[SipMessage]:
        outgoing, self._outgoing = self._outgoing, []
        return outgoing

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def transport_error(self, now: float) -> None:
        """The shell could not send one of our messages (RFC 3261 §17.1.4, §17.2.4)."""
        if not self.terminated:
            self._events.append(TransportError())
            self._terminate()

    # -- helpers for the subclasses --

    def _send(self, message: SipMessage) -> None:
        self._outgoing.append(message)

    def _start(self, name: str, now: float, duration: float) -> None:
        self._deadlines[name] = now + duration

    def _stop(self, *names: str) -> None:
        for name in names:
            self._deadlines.pop(name, None)

    def _linger(self, name: str, now: float, duration: float) -> None:
        """Wait in Completed/Confirmed for stray retransmissions; zero wait on reliable links."""
        if self.reliable or duration <= 0:
            self._terminate()
        else:
            self._start(name, now, duration)

    def _terminate(self) -> None:
        self.state = State.TERMINATED
        self._deadlines.clear()
        self._events.append(Terminated())

    def _on_timer(self, name: str, now: float) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.request.method} {self.branch} {self.state.value}>"


class InviteClientTransaction(Transaction):
    """RFC 3261 §17.1.1 (Figure 5) with RFC 6026's Accepted state.

    The ACK for a 300-699 response is built and sent here, on the INVITE's branch; the ACK for
    a 2xx is a new transaction-less request built by the dialog. No Timer B runs once a
    provisional response arrived: the TU should CANCEL a call that rings too long.
    """

    def __init__(
        self,
        request: SipRequest,
        now: float,
        *,
        reliable: bool = False,
        timers: Timers = DEFAULT_TIMERS,
        peer: Hashable = None,
    ) -> None:
        if request.method != "INVITE":
            raise TransactionError(f"{request.method} is not an INVITE")
        super().__init__(request, now, reliable=reliable, timers=timers, peer=peer)
        self.state = State.CALLING
        self.ack: SipRequest | None = None
        self._interval = timers.t1
        self._send(request)
        if not reliable:
            self._start("A", now, self._interval)
        self._start("B", now, timers.b)

    def receive(self, response: SipResponse, now: float) -> None:
        status = response.status
        if self.state in (State.CALLING, State.PROCEEDING):
            self._stop("A", "B")
            self._events.append(ResponseReceived(response))
            if status < 200:
                self.state = State.PROCEEDING
            elif status < 300:
                self.state = State.ACCEPTED
                self._start("M", now, self.timers.m)
            else:
                self.state = State.COMPLETED
                self.ack = self._make_ack(response)
                self._send(self.ack)
                self._linger("D", now, self.timers.d)
        elif self.state is State.ACCEPTED and 200 <= status < 300:
            self._events.append(ResponseReceived(response))  # each 2xx needs its own ACK
        elif self.state is State.COMPLETED and status >= 300 and self.ack is not None:
            self._send(self.ack)  # our ACK was lost: repeat it, don't bother the TU

    def _on_timer(self, name: str, now: float) -> None:
        if name == "A" and self.state is State.CALLING:
            self._send(self.request)
            self._interval *= 2  # no T2 cap for INVITE: 0.5, 1.5, 3.5, 7.5 … s
            self._start("A", now, self._interval)
        elif name == "B" and self.state is State.CALLING:
            self._events.append(TimedOut())
            self._terminate()
        elif name in ("D", "M"):
            self._terminate()

    def _make_ack(self, response: SipResponse) -> SipRequest:
        """ACK for a non-2xx final response (RFC 3261 §17.1.1.3)."""
        invite = self.request
        headers = Headers()
        headers.add("Via", str(invite.top_via))
        for line in invite.headers.lines("Route"):
            headers.add("Route", line)
        headers.add("Max-Forwards", invite.headers.get("Max-Forwards") or "70")
        headers.add("From", invite.headers.get("From") or "")
        headers.add("To", response.headers.get("To") or "")
        headers.add("Call-ID", invite.call_id)
        headers.add("CSeq", str(CSeq(invite.cseq.number, "ACK")))
        return SipRequest("ACK", invite.uri.copy(), headers)


class NonInviteClientTransaction(Transaction):
    """RFC 3261 §17.1.2 (Figure 6). Timer E doubles up to T2; Timer F gives up."""

    def __init__(
        self,
        request: SipRequest,
        now: float,
        *,
        reliable: bool = False,
        timers: Timers = DEFAULT_TIMERS,
        peer: Hashable = None,
    ) -> None:
        if request.method in ("INVITE", "ACK"):
            raise TransactionError(f"{request.method} needs no non-INVITE client transaction")
        super().__init__(request, now, reliable=reliable, timers=timers, peer=peer)
        self.state = State.TRYING
        self._interval = timers.t1
        self._send(request)
        if not reliable:
            self._start("E", now, self._interval)
        self._start("F", now, timers.f)

    def receive(self, response: SipResponse, now: float) -> None:
        if self.state not in (State.TRYING, State.PROCEEDING):
            return  # Completed: retransmitted final responses are absorbed
        self._events.append(ResponseReceived(response))
        if response.status < 200:
            self.state = State.PROCEEDING
        else:
            self.state = State.COMPLETED
            self._stop("E", "F")
            self._linger("K", now, self.timers.k)

    def _on_timer(self, name: str, now: float) -> None:
        if name == "E" and self.state in (State.TRYING, State.PROCEEDING):
            self._send(self.request)
            if self.state is State.TRYING:
                self._interval = min(2 * self._interval, self.timers.t2)
            else:
                self._interval = self.timers.t2
            self._start("E", now, self._interval)
        elif name == "F" and self.state in (State.TRYING, State.PROCEEDING):
            self._events.append(TimedOut())
            self._terminate()
        elif name == "K":
            self._terminate()


class InviteServerTransaction(Transaction):
    """RFC 3261 §17.2.1 (Figure 7) with RFC 6026's Accepted state.

    Sends 100 Trying at once unless ``send_trying`` is false (the TU then promises a response
    within 200 ms). A final 300-699 response is retransmitted (Timer G) until the ACK arrives
    or Timer H gives up; 2xx retransmission is the TU's job (RFC 6026), the transaction only
    absorbs INVITE retransmissions until Timer L.
    """

    def __init__(
        self,
        request: SipRequest,
        now: float,
        *,
        reliable: bool = False,
        timers: Timers = DEFAULT_TIMERS,
        peer: Hashable = None,
        send_trying: bool = True,
    ) -> None:
        if request.method != "INVITE":
            raise TransactionError(f"{request.method} is not an INVITE")
        super().__init__(request, now, reliable=reliable, timers=timers, peer=peer)
        self.state = State.PROCEEDING
        self.last_response: SipResponse | None = None
        self._interval = timers.t1
        self._events.append(RequestReceived(request))
        if send_trying:
            self.send_response(make_response(request, 100), now)

    def receive(self, request: SipRequest, now: float) -> None:
        if request.method == "INVITE":
            # A retransmission: repeat our latest provisional or final answer (none in Accepted).
            if self.state in (State.PROCEEDING, State.COMPLETED) and self.last_response:
                self._send(self.last_response)
        elif request.method == "ACK":
            if self.state is State.COMPLETED:
                self.state = State.CONFIRMED
                self._stop("G", "H")
                self._linger("I", now, self.timers.i)
            elif self.state is State.ACCEPTED:
                self._events.append(RequestReceived(request))

    def send_response(self, response: SipResponse, now: float) -> None:
        status = response.status
        if self.state is State.ACCEPTED and 200 <= status < 300:
            self._send(response)  # the TU retransmitting its 2xx until the ACK comes
            return
        if self.state is not State.PROCEEDING:
            raise TransactionError(f"cannot send {status} in state {self.state.value}")
        self.last_response = response
        self._send(response)
        if status < 200:
            return
        if status < 300:
            self.state = State.ACCEPTED
            self._start("L", now, self.timers.l)
        else:
            self.state = State.COMPLETED
            if not self.reliable:
                self._start("G", now, self._interval)
            self._start("H", now, self.timers.h)

    def _on_timer(self, name: str, now: float) -> None:
        if name == "G" and self.state is State.COMPLETED and self.last_response:
            self._send(self.last_response)
            self._interval = min(2 * self._interval, self.timers.t2)
            self._start("G", now, self._interval)
        elif name == "H" and self.state is State.COMPLETED:
            self._events.append(TimedOut())  # the ACK never came
            self._terminate()
        elif name in ("I", "L"):
            self._terminate()


class NonInviteServerTransaction(Transaction):
    """RFC 3261 §17.2.2 (Figure 8). Retransmitted requests get the last response again."""

    def __init__(
        self,
        request: SipRequest,
        now: float,
        *,
        reliable: bool = False,
        timers: Timers = DEFAULT_TIMERS,
        peer: Hashable = None,
    ) -> None:
        if request.method in ("INVITE", "ACK"):
            raise TransactionError(f"{request.method} needs no non-INVITE server transaction")
        super().__init__(request, now, reliable=reliable, timers=timers, peer=peer)
        self.state = State.TRYING
        self.last_response: SipResponse | None = None
        self._events.append(RequestReceived(request))

    def receive(self, request: SipRequest, now: float) -> None:
        if self.state in (State.PROCEEDING, State.COMPLETED) and self.last_response:
            self._send(self.last_response)  # in Trying a retransmission is simply absorbed

    def send_response(self, response: SipResponse, now: float) -> None:
        if self.state not in (State.TRYING, State.PROCEEDING):
            raise TransactionError(f"cannot send {response.status} in state {self.state.value}")
        self.last_response = response
        self._send(response)
        if response.status < 200:
            self.state = State.PROCEEDING
        else:
            self.state = State.COMPLETED
            self._linger("J", now, self.timers.j)

    def _on_timer(self, name: str, now: float) -> None:
        if name == "J":
            self._terminate()


ClientTransaction = InviteClientTransaction | NonInviteClientTransaction
ServerTransaction = InviteServerTransaction | NonInviteServerTransaction


# The layer ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """A message to put on the wire, and the opaque peer it goes to."""

    message: SipMessage
    peer: Hashable


@dataclass(frozen=True)
class LayerEvent:
    """An event for the TU. ``transaction`` is None for messages no transaction owns: an ACK
    for a 2xx (the dialog's business) and a stray response such as a late 2xx retransmission."""

    transaction: ClientTransaction | ServerTransaction | None
    event: Event
    peer: Hashable = None


ClientKey = tuple[str, str]
ServerKey = tuple[object, ...]


def _client_key(message: SipMessage) -> ClientKey | None:
    """§17.1.3: branch of the top Via and the CSeq method (CANCEL shares INVITE's branch)."""
    branch = message.branch
    return (branch, message.cseq.method) if branch else None


def _server_key(request: SipRequest, method: str | None = None) -> ServerKey:
    """§17.2.3: branch, sent-by and method (ACK belongs to its INVITE). Requests from RFC 2543
    peers (no magic cookie) are matched on Call-ID, From tag, CSeq number, Request-URI and the
    top Via instead; the To tag is left out, which suffices for a user agent."""
    via = request.top_via
    if method is None:
        method = "INVITE" if request.method == "ACK" else request.method
    sent_by = (via.host.lower(), via.port)
    if via.branch and via.branch.startswith(MAGIC_COOKIE):
        return ("3261", via.branch, sent_by, method)
    return (
        "2543",
        request.call_id,
        request.from_.tag,
        request.cseq.number,
        str(request.uri),
        sent_by,
        via.branch,
        method,
    )


class TransactionLayer:
    """All transactions of one user agent, with RFC 3261's matching rules.

    * ``receive`` routes a message to its transaction or creates a server transaction (never
      for ACK); retransmissions are absorbed there, with the last response sent again.
    * ``send_request`` starts a client transaction; ``send_response`` hands a response to the
      server transaction it answers; ``send_stateless`` is for the ACK of a 2xx.
    * ``find_invite(cancel)`` gives the INVITE server transaction a CANCEL refers to; the
      CANCEL itself gets its own non-INVITE server transaction (answer it 200, the INVITE 487).
    """

    def __init__(self, timers: Timers = DEFAULT_TIMERS, *, send_trying: bool = True) -> None:
        self.timers = timers
        self.send_trying = send_trying
        self._clients: dict[ClientKey, ClientTransaction] = {}
        self._servers: dict[ServerKey, ServerTransaction] = {}
        self._outgoing: list[Outgoing] = []
        self._events: deque[LayerEvent] = deque()
        # Bookkeeping that keeps every operation O(log n) in the number of live
        # transactions (a flood of requests must not cost quadratic time): the
        # transactions touched since the last collection, each one's key, and a
        # heap of timer deadlines (entries go stale when a deadline moves).
        self._touched: dict[Transaction, None] = {}
        self._keys: dict[Transaction, tuple[bool, Hashable]] = {}
        self._timers: list[tuple[float, int, Transaction]] = []
        self._timer_seq = itertools.count()

    def __len__(self) -> int:
        return len(self._clients) + len(self._servers)

    # -- incoming --

    def receive(
        self, message: SipMessage, now: float, *, peer: Hashable = None, reliable: bool = False
    ) -> None:
        if isinstance(message, SipResponse):
            self._receive_response(message, now, peer)
        else:
            self._receive_request(message, now, peer, reliable)
        self._collect()

    def _receive_response(self, response: SipResponse, now: float, peer: Hashable) -> None:
        if len(response.vias) != 1:
            # §8.1.3.3: a response with more Vias than ours was misrouted to this UA.
            logger.debug("dropping response with %d Via values", len(response.vias))
            return
        key = _client_key(response)
        client = self._clients.get(key) if key else None
        if client is None:
            self._events.append(LayerEvent(None, ResponseReceived(response), peer))
        else:
            client.receive(response, now)
            self._touch(client)

    def _receive_request(
        self, request: SipRequest, now: float, peer: Hashable, reliable: bool
    ) -> None:
        key = _server_key(request)
        server = self._servers.get(key)
        if server is not None:
            server.peer = peer if peer is not None else server.peer
            server.receive(request, now)
            self._touch(server)
            return
        if request.method == "ACK":
            # An ACK for a 2xx (own branch) or for a transaction already gone: to the TU.
            self._events.append(LayerEvent(None, RequestReceived(request), peer))
            return
        if request.method == "INVITE":
            server = InviteServerTransaction(
                request,
                now,
                reliable=reliable,
                timers=self.timers,
                peer=peer,
                send_trying=self.send_trying,
            )
        else:
            server = NonInviteServerTransaction(
                request, now, reliable=reliable, timers=self.timers, peer=peer
            )
        self._servers[key] = server
        self._keys[server] = (False, key)
        self._touch(server)

    # -- outgoing --

    def send_request(
        self, request: SipRequest, now: float, *, peer: Hashable = None, reliable: bool = False
    ) -> ClientTransaction:
        """Start a client transaction for ``request`` (its top Via must carry a fresh branch)."""
        key = _client_key(request)
        if key is None or not key[0].startswith(MAGIC_COOKIE):
            raise TransactionError("requests we send need a z9hG4bK branch")
        if key in self._clients:
            raise TransactionError(f"a transaction with branch {key[0]} exists already")
        client: ClientTransaction
        if request.method == "INVITE":
            client = InviteClientTransaction(
                request, now, reliable=reliable, timers=self.timers, peer=peer
            )
        else:
            client = NonInviteClientTransaction(
                request, now, reliable=reliable, timers=self.timers, peer=peer
            )
        self._clients[key] = client
        self._keys[client] = (True, key)
        self._touch(client)
        self._collect()
        return client

    def send_response(self, response: SipResponse, now: float) -> ServerTransaction:
        """Send a response through the server transaction of the request it answers."""
        cseq = response.cseq
        via = response.top_via
        server: ServerTransaction | None = None
        if via.branch and via.branch.startswith(MAGIC_COOKIE):
            # A response carries its request's top Via: the same RFC 3261 key, in O(1).
            key = ("3261", via.branch, (via.host.lower(), via.port), cseq.method)
            server = self._servers.get(key)
        else:  # RFC 2543 peers: their key needs the request, so look through them
            server = next(
                (
                    tx
                    for tx in self._servers.values()
                    if tx.branch == via.branch
                    and tx.request.top_via.sent_by == via.sent_by
                    and tx.request.call_id == response.call_id
                ),
                None,
            )
        if server is None or server.request.cseq != cseq:
            raise TransactionError(f"no server transaction for {response.status} {cseq}")
        server.send_response(response, now)
        self._touch(server)
        self._collect()
        return server

    def send_stateless(self, message: SipMessage, peer: Hashable = None) -> None:
        """Send outside any transaction: the ACK for a 2xx, or the TU's 2xx retransmissions
        after Timer L ended the INVITE server transaction."""
        self._outgoing.append(Outgoing(message, peer))

    def find_invite(self, cancel: SipRequest) -> InviteServerTransaction | None:
        """The INVITE server transaction a CANCEL refers to (§9.2: same match, method INVITE)."""
        server = self._servers.get(_server_key(cancel, "INVITE"))
        return server if isinstance(server, InviteServerTransaction) else None

    # -- driving --

    def handle_timer(self, now: float) -> None:
        due: dict[Transaction, None] = {}
        while self._timers and self._timers[0][0] <= now:
            deadline, _, transaction = heapq.heappop(self._timers)
            if transaction.next_timer() == deadline and transaction in self._keys:
                due[transaction] = None
        for transaction in due:
            transaction.handle_timer(now)
            self._touch(transaction)
        self._collect()

    def next_timer(self) -> float | None:
        while self._timers:
            deadline, _, transaction = self._timers[0]
            if transaction.next_timer() == deadline and transaction in self._keys:
                return deadline
            heapq.heappop(self._timers)  # stale: moved or gone
        return None

    def transport_error(
        self, transaction: ClientTransaction | ServerTransaction, now: float
    ) -> None:
        transaction.transport_error(now)
        self._touch(transaction)
        self._collect()

    def pop_outgoing(self) -> list[Outgoing]:
        self._collect()
        outgoing, self._outgoing = self._outgoing, []
        return outgoing

    def next_event(self) -> LayerEvent | None:
        self._collect()
        return self._events.popleft() if self._events else None

    def _touch(self, transaction: Transaction) -> None:
        self._touched[transaction] = None

    def _collect(self) -> None:
        """Move up the output and events of the transactions touched since last time,
        re-arm their timers, and forget the terminated ones."""
        while self._touched:
            touched, self._touched = self._touched, {}
            for transaction in touched:
                if self._drain(transaction):
                    is_client, key = self._keys.pop(transaction, (False, None))
                    table: dict[Any, Any] = self._clients if is_client else self._servers
                    if table.get(key) is transaction:
                        del table[key]
                elif (deadline := transaction.next_timer()) is not None:
                    heapq.heappush(self._timers, (deadline, next(self._timer_seq), transaction))

    def _drain(self, transaction: ClientTransaction | ServerTransaction) -> bool:
        """Take over a transaction's output and events; True when it has terminated."""
        for message in transaction.pop_outgoing():
            self._outgoing.append(Outgoing(message, transaction.peer))
        while (event := transaction.next_event()) is not None:
            self._events.append(LayerEvent(transaction, event, transaction.peer))
        return transaction.terminated

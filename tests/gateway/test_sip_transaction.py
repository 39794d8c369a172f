"""Transaction state machines and the transaction layer, on a fake clock."""

from __future__ import annotations

from typing import TypeVar

import pytest

from gateway.sip.message import (
    SipMessage,
    SipRequest,
    SipResponse,
    make_cancel,
    make_response,
    parse_message,
)
from gateway.sip.transaction import (
    Event,
    InviteClientTransaction,
    InviteServerTransaction,
    LayerEvent,
    NonInviteClientTransaction,
    NonInviteServerTransaction,
    Outgoing,
    RequestReceived,
    ResponseReceived,
    State,
    Terminated,
    TimedOut,
    Timers,
    Transaction,
    TransactionError,
    TransactionLayer,
    TransportError,
    new_branch,
)

PEER = ("192.0.2.7", 5060)
M = TypeVar("M", SipRequest, SipResponse)


def request(
    method: str = "INVITE",
    branch: str = "z9hG4bK74bf9",
    *,
    cseq: int = 1,
    cseq_method: str | None = None,
    to_tag: str | None = None,
    sent_by: str = "192.0.2.7:5060",
) -> SipRequest:
    to = "<sip:conf@bridge.example.org>" + (f";tag={to_tag}" if to_tag else "")
    text = (
        f"{method} sip:conf@bridge.example.org SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {sent_by};branch={branch};rport\r\n"
        "Max-Forwards: 70\r\n"
        "Route: <sip:proxy.example.org;lr>\r\n"
        'From: "Alice" <sip:alice@example.org>;tag=9fxced76sl\r\n'
        f"To: {to}\r\n"
        "Call-ID: 3848276298220188511@192.0.2.7\r\n"
        f"CSeq: {cseq} {cseq_method or method}\r\n"
        "Contact: <sip:alice@192.0.2.7:5060>\r\n"
        "Content-Length: 0\r\n\r\n"
    )
    message = parse_message(text.encode())
    assert isinstance(message, SipRequest)
    return message


def response(req: SipRequest, status: int, to_tag: str | None = "b5e6") -> SipResponse:
    return make_response(req, status, to_tag=to_tag if status > 100 else None)


def events(tx: Transaction) -> list[Event]:
    out = []
    while (event := tx.next_event()) is not None:
        out.append(event)
    return out


def run_timers(tx: Transaction, until: float) -> list[tuple[float, list[SipMessage]]]:
    """Advance the fake clock from timer to timer; what was sent at each instant."""
    sent = []
    while (deadline := tx.next_timer()) is not None and deadline <= until:
        tx.handle_timer(deadline)
        sent.append((deadline, tx.pop_outgoing()))
    return sent


def test_timer_values() -> None:
    timers = Timers()
    assert (timers.t1, timers.t2, timers.t4) == (0.5, 4.0, 5.0)
    assert timers.b == timers.f == timers.h == timers.j == timers.l == timers.m == 32.0
    assert timers.d == 32.0 and timers.i == timers.k == 5.0
    assert Timers(t1=0.1).b == pytest.approx(6.4) and Timers(t1=0.1).d == 32.0


def test_new_branch() -> None:
    branches = {new_branch() for _ in range(100)}
    assert len(branches) == 100
    assert all(b.startswith("z9hG4bK") and len(b) > 16 for b in branches)


# --------------------------------------------------------------------------------------------
# INVITE client


def test_invite_client_retransmits_then_timer_b() -> None:
    invite = request()
    tx = InviteClientTransaction(invite, now=0.0)
    assert tx.state is State.CALLING
    assert tx.pop_outgoing() == [invite]
    sent = run_timers(tx, until=100)
    retransmissions = [t for t, messages in sent if messages == [invite]]
    assert retransmissions == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]  # doubling, no T2 cap
    assert sent[-1] == (32.0, [])
    assert events(tx) == [TimedOut(), Terminated()]
    assert tx.terminated and tx.next_timer() is None


def test_invite_client_reliable_has_no_retransmissions() -> None:
    tx = InviteClientTransaction(request(), 0.0, reliable=True)
    tx.pop_outgoing()
    assert tx.next_timer() == 32.0
    assert run_timers(tx, until=100) == [(32.0, [])]
    assert events(tx) == [TimedOut(), Terminated()]


def test_invite_client_provisional_stops_timers() -> None:
    invite = request()
    tx = InviteClientTransaction(invite, 0.0)
    tx.pop_outgoing()
    tx.handle_timer(0.5)
    assert tx.pop_outgoing() == [invite]
    ringing = response(invite, 180)
    tx.receive(ringing, 0.7)
    assert tx.state is State.PROCEEDING
    assert tx.next_timer() is None  # no Timer B once the far end is alive: the TU CANCELs
    tx.receive(response(invite, 183), 2.0)
    assert events(tx) == [ResponseReceived(ringing), ResponseReceived(response(invite, 183))]
    assert tx.pop_outgoing() == []


@pytest.mark.parametrize("start", [State.CALLING, State.PROCEEDING])
def test_invite_client_acks_non_2xx(start: State) -> None:
    invite = request()
    tx = InviteClientTransaction(invite, 0.0)
    tx.pop_outgoing()
    if start is State.PROCEEDING:
        tx.receive(response(invite, 180), 0.1)
    busy = response(invite, 486)
    tx.receive(busy, 1.0)
    assert tx.state is State.COMPLETED
    assert events(tx)[-1] == ResponseReceived(busy)
    (ack,) = tx.pop_outgoing()
    assert isinstance(ack, SipRequest) and ack.method == "ACK"
    assert ack.uri == invite.uri
    assert ack.vias == [invite.top_via]  # same branch: part of the INVITE transaction
    assert ack.cseq.number == invite.cseq.number and ack.cseq.method == "ACK"
    assert ack.to.tag == "b5e6"
    assert ack.from_ == invite.from_ and ack.call_id == invite.call_id
    assert ack.headers.get_all("Route") == invite.headers.get_all("Route")
    assert parse_message(bytes(ack)) == ack
    # The 486 is retransmitted (our ACK got lost): ACK again, TU not bothered.
    tx.receive(busy, 2.0)
    assert tx.pop_outgoing() == [ack]
    assert events(tx) == []
    assert tx.next_timer() == 33.0  # Timer D: 32 s
    tx.handle_timer(33.0)
    assert events(tx) == [Terminated()]


def test_invite_client_non_2xx_on_reliable_transport_ends_at_once() -> None:
    invite = request()
    tx = InviteClientTransaction(invite, 0.0, reliable=True)
    tx.pop_outgoing()
    tx.receive(response(invite, 503), 0.3)
    assert [m.method for m in tx.pop_outgoing() if isinstance(m, SipRequest)] == ["ACK"]
    assert tx.terminated
    assert events(tx) == [ResponseReceived(response(invite, 503)), Terminated()]


def test_invite_client_2xx_goes_to_accepted() -> None:
    invite = request()
    tx = InviteClientTransaction(invite, 0.0)
    tx.pop_outgoing()
    ok = response(invite, 200)
    tx.receive(ok, 1.0)
    assert tx.state is State.ACCEPTED
    assert tx.pop_outgoing() == []  # the ACK for a 2xx is the dialog's job
    tx.receive(ok, 1.5)  # retransmitted 2xx: to the TU, which re-sends its ACK (RFC 6026)
    tx.receive(response(invite, 486), 1.6)  # nonsense after a 2xx: ignored
    assert events(tx) == [ResponseReceived(ok), ResponseReceived(ok)]
    assert tx.next_timer() == 33.0  # Timer M
    tx.handle_timer(33.0)
    assert events(tx) == [Terminated()]


def test_invite_client_requires_invite() -> None:
    with pytest.raises(TransactionError):
        InviteClientTransaction(request("OPTIONS"), 0.0)


# --------------------------------------------------------------------------------------------
# Non-INVITE client


def test_non_invite_client_timer_e_capped_at_t2() -> None:
    bye = request("BYE")
    tx = NonInviteClientTransaction(bye, 0.0)
    assert tx.pop_outgoing() == [bye]
    sent = run_timers(tx, until=100)
    retransmissions = [t for t, messages in sent if messages == [bye]]
    assert retransmissions == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert sent[-1] == (32.0, [])  # Timer F
    assert events(tx) == [TimedOut(), Terminated()]


def test_non_invite_client_proceeding_retransmits_every_t2() -> None:
    bye = request("BYE")
    tx = NonInviteClientTransaction(bye, 0.0)
    tx.pop_outgoing()
    tx.receive(response(bye, 100), 0.2)
    assert tx.state is State.PROCEEDING
    sent = run_timers(tx, until=12.0)
    assert [t for t, _ in sent] == [0.5, 4.5, 8.5]
    final = response(bye, 200)
    tx.receive(final, 9.0)
    assert tx.state is State.COMPLETED
    tx.receive(final, 9.5)  # absorbed
    assert events(tx) == [ResponseReceived(response(bye, 100)), ResponseReceived(final)]
    assert tx.next_timer() == 14.0  # Timer K = T4
    tx.handle_timer(14.0)
    assert events(tx) == [Terminated()]


def test_non_invite_client_reliable() -> None:
    options = request("OPTIONS")
    tx = NonInviteClientTransaction(options, 0.0, reliable=True)
    tx.pop_outgoing()
    assert tx.next_timer() == 32.0  # only Timer F
    tx.receive(response(options, 200), 0.1)
    assert tx.terminated  # Timer K is zero
    assert tx.pop_outgoing() == []


def test_client_transport_error() -> None:
    tx = NonInviteClientTransaction(request("OPTIONS"), 0.0)
    tx.transport_error(0.1)
    tx.transport_error(0.2)
    assert events(tx) == [TransportError(), Terminated()]
    assert tx.next_timer() is None


# --------------------------------------------------------------------------------------------
# INVITE server


def test_invite_server_sends_trying_and_absorbs_retransmissions() -> None:
    invite = request()
    tx = InviteServerTransaction(invite, 0.0)
    assert tx.state is State.PROCEEDING
    assert events(tx) == [RequestReceived(invite)]
    (trying,) = tx.pop_outgoing()
    assert isinstance(trying, SipResponse) and trying.status == 100 and trying.to.tag is None
    tx.receive(invite, 0.5)
    assert tx.pop_outgoing() == [trying]
    ringing = response(invite, 180)
    tx.send_response(ringing, 1.0)
    assert tx.pop_outgoing() == [ringing]
    tx.receive(invite, 1.5)
    assert tx.pop_outgoing() == [ringing]
    assert events(tx) == []
    assert tx.next_timer() is None


def test_invite_server_without_trying() -> None:
    tx = InviteServerTransaction(request(), 0.0, send_trying=False)
    assert tx.pop_outgoing() == []


def test_invite_server_retransmits_final_until_ack() -> None:
    invite = request()
    tx = InviteServerTransaction(invite, 0.0)
    tx.pop_outgoing()
    busy = response(invite, 486)
    tx.send_response(busy, 0.0)
    assert tx.state is State.COMPLETED
    assert tx.pop_outgoing() == [busy]
    sent = run_timers(tx, until=12.0)
    assert [(t, m) for t, m in sent] == [
        (0.5, [busy]),
        (1.5, [busy]),
        (3.5, [busy]),
        (7.5, [busy]),
        (11.5, [busy]),  # Timer G capped at T2
    ]
    tx.receive(invite, 12.0)  # retransmitted INVITE: the final response again
    assert tx.pop_outgoing() == [busy]
    tx.receive(request("ACK", cseq_method="ACK", to_tag="b5e6"), 12.5)
    assert tx.state is State.CONFIRMED
    assert tx.next_timer() == 17.5  # Timer I = T4
    tx.receive(request("ACK", cseq_method="ACK", to_tag="b5e6"), 13.0)  # absorbed
    tx.receive(invite, 13.0)  # absorbed too
    assert tx.pop_outgoing() == []
    tx.handle_timer(17.5)
    assert events(tx) == [RequestReceived(invite), Terminated()]


def test_invite_server_timer_h_without_ack() -> None:
    invite = request()
    tx = InviteServerTransaction(invite, 0.0)
    tx.pop_outgoing()
    tx.send_response(response(invite, 603), 0.0)
    sent = run_timers(tx, until=100)
    assert [t for t, m in sent if m] == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert sent[-1] == (32.0, [])
    assert events(tx)[-2:] == [TimedOut(), Terminated()]


def test_invite_server_reliable() -> None:
    invite = request()
    tx = InviteServerTransaction(invite, 0.0, reliable=True)
    tx.pop_outgoing()
    tx.send_response(response(invite, 486), 0.0)
    assert tx.next_timer() == 32.0  # only Timer H: no Timer G
    tx.receive(request("ACK", cseq_method="ACK"), 0.1)
    assert tx.terminated  # Timer I is zero


def test_invite_server_2xx_accepted_state() -> None:
    invite = request()
    tx = InviteServerTransaction(invite, 0.0)
    tx.pop_outgoing()
    ok = response(invite, 200)
    tx.send_response(ok, 1.0)
    assert tx.state is State.ACCEPTED
    assert tx.pop_outgoing() == [ok]
    tx.receive(invite, 1.5)  # absorbed: the TU retransmits its 2xx itself
    assert tx.pop_outgoing() == []
    tx.send_response(ok, 1.5)
    assert tx.pop_outgoing() == [ok]
    with pytest.raises(TransactionError):
        tx.send_response(response(invite, 486), 2.0)
    ack = request("ACK", branch="z9hG4bKother", cseq_method="ACK", to_tag="b5e6")
    tx.receive(ack, 2.0)
    assert events(tx) == [RequestReceived(invite), RequestReceived(ack)]
    assert tx.next_timer() == 33.0  # Timer L
    tx.handle_timer(33.0)
    assert events(tx) == [Terminated()]


# --------------------------------------------------------------------------------------------
# Non-INVITE server


def test_non_invite_server() -> None:
    bye = request("BYE", to_tag="b5e6")
    tx = NonInviteServerTransaction(bye, 0.0)
    assert tx.state is State.TRYING
    assert events(tx) == [RequestReceived(bye)]
    tx.receive(bye, 0.1)  # Trying: absorbed silently
    assert tx.pop_outgoing() == []
    trying = response(bye, 100)
    tx.send_response(trying, 0.2)
    assert tx.state is State.PROCEEDING
    tx.receive(bye, 0.3)
    assert tx.pop_outgoing() == [trying, trying]
    ok = response(bye, 200)
    tx.send_response(ok, 0.4)
    tx.receive(bye, 0.5)
    assert tx.pop_outgoing() == [ok, ok]
    with pytest.raises(TransactionError):
        tx.send_response(response(bye, 500), 0.6)
    assert tx.next_timer() == pytest.approx(32.4)  # Timer J = 64*T1
    tx.handle_timer(32.4)
    assert events(tx) == [Terminated()]


def test_non_invite_server_reliable_ends_with_the_final_response() -> None:
    options = request("OPTIONS")
    tx = NonInviteServerTransaction(options, 0.0, reliable=True)
    tx.send_response(response(options, 200), 0.0)
    assert tx.terminated
    assert len(tx.pop_outgoing()) == 1


def test_server_constructors_check_the_method() -> None:
    with pytest.raises(TransactionError):
        NonInviteServerTransaction(request(), 0.0)
    with pytest.raises(TransactionError):
        InviteServerTransaction(request("BYE"), 0.0)
    with pytest.raises(TransactionError):
        NonInviteClientTransaction(request("ACK"), 0.0)


# --------------------------------------------------------------------------------------------
# The layer: matching rules


def sent(outgoing: list[Outgoing], kind: type[M]) -> list[M]:
    """The messages handed to the shell, all of one kind."""
    messages = [o.message for o in outgoing]
    typed = [m for m in messages if isinstance(m, kind)]
    assert len(typed) == len(messages)
    return typed


def layer_events(layer: TransactionLayer) -> list[LayerEvent]:
    out = []
    while (event := layer.next_event()) is not None:
        out.append(event)
    return out


def test_layer_new_invite_and_retransmission() -> None:
    layer = TransactionLayer()
    invite = request()
    layer.receive(invite, 0.0, peer=PEER)
    (event,) = layer_events(layer)
    assert event.event == RequestReceived(invite) and event.peer == PEER
    tx = event.transaction
    assert isinstance(tx, InviteServerTransaction)
    (trying,) = layer.pop_outgoing()
    assert trying.peer == PEER and isinstance(trying.message, SipResponse)
    assert trying.message.status == 100
    layer.receive(invite, 0.4, peer=PEER)  # retransmission: absorbed, 100 sent again
    assert layer_events(layer) == []
    assert layer.pop_outgoing() == [trying]
    assert len(layer) == 1


def test_layer_ack_for_non_2xx_is_absorbed() -> None:
    layer = TransactionLayer()
    invite = request()
    layer.receive(invite, 0.0, peer=PEER)
    (event,) = layer_events(layer)
    layer.pop_outgoing()
    busy = make_response(invite, 486, to_tag="b5e6")
    assert layer.send_response(busy, 0.1) is event.transaction
    assert layer.pop_outgoing() == [Outgoing(busy, PEER)]
    layer.receive(request("ACK", cseq_method="ACK", to_tag="b5e6"), 0.2, peer=PEER)
    assert layer_events(layer) == []
    assert event.transaction is not None and event.transaction.state is State.CONFIRMED
    assert layer.next_timer() == pytest.approx(5.2)
    layer.handle_timer(5.2)
    assert [e.event for e in layer_events(layer)] == [Terminated()]
    assert len(layer) == 0


def test_layer_ack_for_2xx_goes_to_the_tu() -> None:
    layer = TransactionLayer()
    invite = request()
    layer.receive(invite, 0.0, peer=PEER)
    layer_events(layer)
    layer.send_response(make_response(invite, 200, to_tag="b5e6"), 0.1)
    ack = request("ACK", branch="z9hG4bKack2xx", cseq_method="ACK", to_tag="b5e6")
    layer.receive(ack, 0.2, peer=PEER)
    assert layer_events(layer) == [LayerEvent(None, RequestReceived(ack), PEER)]
    assert len(layer) == 1  # the INVITE server transaction waits in Accepted (Timer L)


def test_layer_cancel_finds_its_invite() -> None:
    layer = TransactionLayer()
    invite = request()
    layer.receive(invite, 0.0, peer=PEER)
    (invite_event,) = layer_events(layer)
    cancel = make_cancel(invite)
    layer.receive(cancel, 1.0, peer=PEER)
    (cancel_event,) = layer_events(layer)
    assert cancel_event.event == RequestReceived(cancel)
    assert isinstance(cancel_event.transaction, NonInviteServerTransaction)
    assert layer.find_invite(cancel) is invite_event.transaction
    assert layer.find_invite(make_cancel(request(branch="z9hG4bKunknown"))) is None
    layer.pop_outgoing()
    # Same branch, different CSeq methods: each response reaches its own transaction.
    layer.send_response(make_response(cancel, 200, to_tag="b5e6"), 1.1)
    layer.send_response(make_response(invite, 487, to_tag="b5e6"), 1.1)
    out = [(m.status, m.cseq.method) for m in sent(layer.pop_outgoing(), SipResponse)]
    assert sorted(out) == [(200, "CANCEL"), (487, "INVITE")]
    invite_tx = layer.find_invite(cancel)
    assert invite_tx is not None and invite_tx.state is State.COMPLETED


def test_layer_matches_sent_by_too() -> None:
    layer = TransactionLayer()
    layer.receive(request("OPTIONS"), 0.0, peer=PEER)
    # Same branch from another host is another transaction (§17.2.3).
    layer.receive(request("OPTIONS", sent_by="198.51.100.1:5060"), 0.1, peer=PEER)
    assert len(layer_events(layer)) == 2
    assert len(layer) == 2


def test_layer_rfc2543_matching() -> None:
    layer = TransactionLayer()
    old = request("INVITE", branch="1", cseq=5)
    layer.receive(old, 0.0, peer=PEER)
    layer.receive(old, 0.5, peer=PEER)
    assert len(layer_events(layer)) == 1
    layer.send_response(make_response(old, 404, to_tag="x"), 0.6)
    layer.receive(request("ACK", branch="1", cseq=5, cseq_method="ACK", to_tag="x"), 0.7)
    assert layer_events(layer) == []


def test_layer_client_side() -> None:
    layer = TransactionLayer()
    invite = request(branch=new_branch())
    tx = layer.send_request(invite, 0.0, peer=("203.0.113.10", 5060))
    assert layer.pop_outgoing() == [Outgoing(invite, ("203.0.113.10", 5060))]
    assert layer.next_timer() == 0.5
    layer.handle_timer(0.5)
    assert layer.pop_outgoing() == [Outgoing(invite, ("203.0.113.10", 5060))]
    ringing = make_response(invite, 180, to_tag="r1")
    layer.receive(ringing, 0.6)
    assert layer_events(layer) == [LayerEvent(tx, ResponseReceived(ringing), tx.peer)]
    # CANCEL shares the branch but has its own transaction; responses find the right one.
    cancel_tx = layer.send_request(make_cancel(invite), 1.0, peer=tx.peer)
    cancel_ok = make_response(cancel_tx.request, 200, to_tag="r1")
    terminated = make_response(invite, 487, to_tag="r1")
    layer.receive(cancel_ok, 1.1)
    layer.receive(terminated, 1.2)
    got = [(e.transaction, e.event) for e in layer_events(layer)]
    assert got[0] == (cancel_tx, ResponseReceived(cancel_ok))
    assert (tx, ResponseReceived(terminated)) in got
    assert [m.method for m in sent(layer.pop_outgoing(), SipRequest)] == ["CANCEL", "ACK"]
    # A response nobody waits for (e.g. a 2xx retransmitted after Timer M) goes to the TU.
    stray = make_response(request(branch="z9hG4bKgone"), 200, to_tag="z")
    layer.receive(stray, 2.0, peer=PEER)
    assert layer_events(layer) == [LayerEvent(None, ResponseReceived(stray), PEER)]


def test_layer_drops_responses_with_two_vias() -> None:
    layer = TransactionLayer()
    invite = request(branch=new_branch())
    layer.send_request(invite, 0.0)
    ok = make_response(invite, 200, to_tag="x")
    ok.headers.add("Via", "SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKextra")
    layer.receive(ok, 0.1)
    assert layer_events(layer) == []


def test_layer_send_request_checks() -> None:
    layer = TransactionLayer()
    with pytest.raises(TransactionError):
        layer.send_request(request(branch="oldstyle"), 0.0)
    invite = request(branch=new_branch())
    layer.send_request(invite, 0.0)
    with pytest.raises(TransactionError):
        layer.send_request(invite, 0.0)
    with pytest.raises(TransactionError):
        layer.send_response(make_response(request("OPTIONS"), 200), 0.0)


def test_layer_reliable_and_transport_error() -> None:
    layer = TransactionLayer()
    options = request("OPTIONS", branch=new_branch())
    tx = layer.send_request(options, 0.0, reliable=True)
    assert layer.next_timer() == 32.0
    layer.transport_error(tx, 0.1)
    assert [e.event for e in layer_events(layer)] == [TransportError(), Terminated()]
    assert len(layer) == 0 and layer.next_timer() is None


def test_layer_send_stateless() -> None:
    layer = TransactionLayer()
    ack = request("ACK", branch=new_branch(), cseq_method="ACK", to_tag="x")
    layer.send_stateless(ack, PEER)
    assert layer.pop_outgoing() == [Outgoing(ack, PEER)]
    assert len(layer) == 0


def test_layer_many_transactions_timers() -> None:
    layer = TransactionLayer(Timers(t1=0.1), send_trying=False)
    for i in range(50):
        layer.receive(request("OPTIONS", branch=f"z9hG4bK{i}"), float(i))
        layer.send_response(make_response(request("OPTIONS", branch=f"z9hG4bK{i}"), 200), float(i))
    assert len(layer) == 50
    assert layer.next_timer() == pytest.approx(6.4)  # Timer J of the first one
    layer.handle_timer(30.0)
    assert len(layer) == 26
    assert layer.next_timer() == pytest.approx(24 + 6.4)

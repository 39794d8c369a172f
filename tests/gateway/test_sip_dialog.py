"""Dialogs: creation on both sides, in-dialog requests, CSeq checks, routing."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.sip.dialog import (
    Dialog,
    DialogError,
    new_call_id,
    new_tag,
    uac_dialog_id,
    uas_dialog_id,
)
from gateway.sip.message import (
    CSeq,
    NameAddr,
    SipRequest,
    SipResponse,
    SipUri,
    Via,
    make_response,
    parse_message,
)

DATA = Path(__file__).parent / "data"
OUR_VIA = Via("UDP", "10.0.0.5", 5060, {"rport": None})


def parse_request(data: bytes) -> SipRequest:
    message = parse_message(data)
    assert isinstance(message, SipRequest)
    return message


def parse_response(data: bytes) -> SipResponse:
    message = parse_message(data)
    assert isinstance(message, SipResponse)
    return message


def vector(name: str) -> bytes:
    return (DATA / name).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def our_invite(uri: str = "sip:+4930123456@sbc.carrier.example.net;user=phone") -> SipRequest:
    """An INVITE the gateway sends out (dial-out to a participant)."""
    return parse_request(
        (
            f"INVITE {uri} SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKout1;rport\r\n"
            "Max-Forwards: 70\r\n"
            'From: "Telekonf" <sip:conf@bridge.example.org>;tag=ourtag1\r\n'
            f"To: <{uri}>\r\n"
            "Call-ID: c0ffee@10.0.0.5\r\n"
            "CSeq: 101 INVITE\r\n"
            "Contact: <sip:conf@10.0.0.5:5060>\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
    )


def answer_to(invite: SipRequest, status: int = 200, *, record_route: list[str]) -> SipResponse:
    """The far end's answer as it reaches us through two proxies."""
    response = make_response(invite, status, to_tag="theirtag9")
    for value in record_route:
        response.headers.add("Record-Route", value)
    response.headers.add("Contact", "<sip:+4930123456@192.0.2.50:5060;transport=udp>")
    return parse_response(bytes(response))


# --------------------------------------------------------------------------------------------
# UAC side


def test_uac_dialog_and_bye() -> None:
    invite = our_invite()
    ok = answer_to(
        invite, record_route=["<sip:p2.carrier.example.net;lr>", "<sip:p1.example.org;lr>"]
    )
    dialog = Dialog.uac(invite, ok)
    assert dialog.id == ("c0ffee@10.0.0.5", "ourtag1", "theirtag9")
    assert dialog.id == uac_dialog_id(ok)
    assert dialog.local_cseq == 101 and dialog.remote_cseq is None
    assert dialog.remote_target == SipUri.parse("sip:+4930123456@192.0.2.50:5060;transport=udp")
    # The route set is the Record-Route reversed: nearest proxy first.
    assert [str(r.uri) for r in dialog.route_set] == [
        "sip:p1.example.org;lr",
        "sip:p2.carrier.example.net;lr",
    ]
    assert not dialog.early and not dialog.secure

    bye = dialog.create_request("BYE", via=OUR_VIA)
    assert bye.method == "BYE"
    assert bye.uri == dialog.remote_target  # loose routing: Request-URI is the remote target
    assert bye.headers.get_all("Route") == [
        "<sip:p1.example.org;lr>",
        "<sip:p2.carrier.example.net;lr>",
    ]
    assert bye.cseq == CSeq(102, "BYE")
    assert bye.from_.tag == "ourtag1" and bye.from_.uri == invite.from_.uri
    assert bye.from_.display_name == "Telekonf"
    assert bye.to.tag == "theirtag9" and bye.to.uri == invite.to.uri
    assert bye.call_id == invite.call_id
    assert bye.max_forwards == 70
    assert bye.branch is not None and bye.branch.startswith("z9hG4bK")
    assert bye.branch != invite.branch
    assert bye.top_via.params["rport"] is None
    assert "Contact" not in bye.headers
    assert parse_message(bytes(bye)) == bye
    assert dialog.create_request("INFO", via=OUR_VIA).cseq.number == 103


def test_ack_for_2xx_repeats_the_invite_cseq() -> None:
    invite = our_invite()
    dialog = Dialog.uac(invite, answer_to(invite, record_route=[]))
    ack = dialog.create_ack(via=OUR_VIA, body=b"v=0\r\n", content_type="application/sdp")
    assert ack.cseq == CSeq(101, "ACK")
    assert ack.branch != invite.branch  # a 2xx ACK is a transaction of its own
    assert ack.body == b"v=0\r\n" and ack.headers.get("Content-Type") == "application/sdp"
    assert "Route" not in ack.headers
    assert dialog.local_cseq == 101  # ACK does not advance the CSeq
    # A re-INVITE takes the next number, carries our Contact, and its ACK repeats that number.
    reinvite = dialog.create_request("INVITE", via=OUR_VIA)
    assert reinvite.cseq == CSeq(102, "INVITE")
    assert reinvite.contact == NameAddr(SipUri.parse("sip:conf@10.0.0.5:5060"))
    assert dialog.create_ack(via=OUR_VIA).cseq == CSeq(102, "ACK")


def test_re_invite_2xx_refreshes_the_target() -> None:
    invite = our_invite()
    dialog = Dialog.uac(invite, answer_to(invite, record_route=[]))
    reinvite = dialog.create_request("INVITE", via=OUR_VIA)
    ok = make_response(reinvite, 200)
    ok.headers.add("Contact", "<sip:moved@192.0.2.51>")
    dialog.receive_response(reinvite, ok)
    assert dialog.remote_target == SipUri.parse("sip:moved@192.0.2.51")
    dialog.receive_response(reinvite, make_response(reinvite, 491))  # failures change nothing
    assert dialog.remote_target == SipUri.parse("sip:moved@192.0.2.51")


def test_strict_router_first_hop() -> None:
    invite = our_invite()
    ok = answer_to(
        invite,
        record_route=[
            "<sip:p2.example.net;lr>",
            "<sip:strict.example.org;maddr=10.1.1.1;method=INVITE>",
        ],
    )
    dialog = Dialog.uac(invite, ok)
    bye = dialog.create_request("BYE", via=OUR_VIA)
    # §12.2.1.1: the strict router becomes the Request-URI (minus forbidden parameters) and
    # the remote target goes last in the Route set.
    assert str(bye.uri) == "sip:strict.example.org;maddr=10.1.1.1"
    assert bye.headers.get_all("Route") == [
        "<sip:p2.example.net;lr>",
        "<sip:+4930123456@192.0.2.50:5060;transport=udp>",
    ]


def test_early_dialog_confirmed_by_2xx() -> None:
    invite = our_invite()
    ringing = answer_to(invite, 180, record_route=["<sip:p1.example.org;lr>"])
    dialog = Dialog.uac(invite, ringing)
    assert dialog.early
    ok = answer_to(invite, 200, record_route=["<sip:p9.example.org;lr>", "<sip:p1.example.org;lr>"])
    dialog.receive_response(invite, ok)
    assert not dialog.early
    assert [r.uri.host for r in dialog.route_set] == ["p1.example.org", "p9.example.org"]


def test_uac_errors() -> None:
    invite = our_invite()
    with pytest.raises(DialogError):
        Dialog.uac(invite, make_response(invite, 486, to_tag="x"))
    no_contact = make_response(invite, 200, to_tag="x")
    with pytest.raises(DialogError) as info:
        Dialog.uac(invite, no_contact)
    assert info.value.status == 400
    dialog = Dialog.uac(invite, answer_to(invite, record_route=[]))
    with pytest.raises(DialogError):
        dialog.create_request("CANCEL")


def test_uac_accepts_a_tagless_2543_answer() -> None:
    invite = our_invite()
    ok = make_response(invite, 200)
    ok.headers.add("Contact", "<sip:old@192.0.2.9>")
    dialog = Dialog.uac(invite, ok)
    assert dialog.remote_tag == ""
    bye = dialog.create_request("BYE", via=OUR_VIA)
    assert bye.to.tag is None


def test_secure_dialog() -> None:
    invite = our_invite("sips:alice@example.org")
    dialog = Dialog.uac(invite, answer_to(invite, record_route=[]))
    assert dialog.secure


# --------------------------------------------------------------------------------------------
# UAS side


def uas_dialog() -> tuple[SipRequest, Dialog]:
    invite = parse_request(vector("kamailio_proxied_invite.sip"))
    ok = make_response(
        invite, 200, to_tag=new_tag(), headers=[("Contact", "<sip:conf@10.0.0.5:5060>")]
    )
    return invite, Dialog.uas(invite, ok)


def test_uas_dialog_from_proxied_invite() -> None:
    invite, dialog = uas_dialog()
    assert dialog.call_id == "9f2d8e7c6b5a4d3e"
    assert dialog.remote_tag == "7d0c2a3e9b1f4c5a"
    assert dialog.remote_cseq == 24561 and dialog.local_cseq is None
    assert dialog.remote_uri == SipUri.parse("sip:alice@example.org")
    assert dialog.local_uri == SipUri.parse("sip:conf@bridge.example.org")
    assert dialog.local_target == SipUri.parse("sip:conf@10.0.0.5:5060")
    assert dialog.remote_target.host == "198.51.100.23"
    assert [str(r.uri) for r in dialog.route_set] == [
        "sip:203.0.113.10;lr;ftag=7d0c2a3e9b1f4c5a;did=4a1.b2c1"
    ]
    # We hang up: CSeq starts afresh in our direction; tags swap roles.
    bye = dialog.create_request("BYE", via=OUR_VIA)
    assert bye.cseq == CSeq(1, "BYE")
    assert bye.from_.tag == dialog.local_tag and bye.to.tag == "7d0c2a3e9b1f4c5a"
    assert bye.from_.uri == invite.to.uri and bye.to.uri == invite.from_.uri
    assert bye.to.display_name == "Alice Example"
    assert bye.uri == dialog.remote_target
    assert bye.headers.get_all("Route") == [
        "<sip:203.0.113.10;lr;ftag=7d0c2a3e9b1f4c5a;did=4a1.b2c1>"
    ]
    assert parse_message(bytes(bye)) == bye
    with pytest.raises(DialogError):
        dialog.create_ack()  # we sent no INVITE in this dialog


def test_both_sides_agree() -> None:
    """Alice's view (UAC) and ours (UAS), built from the same INVITE and 200, fit together."""
    invite, ours = uas_dialog()
    ok = make_response(
        invite, 200, to_tag=ours.local_tag, headers=[("Contact", "<sip:conf@10.0.0.5:5060>")]
    )
    alice = Dialog.uac(invite, ok)
    assert alice.id == (ours.call_id, ours.remote_tag, ours.local_tag)
    assert alice.route_set == ours.route_set  # one proxy: reversal changes nothing
    bye = alice.create_request("BYE", via=OUR_VIA)
    assert uas_dialog_id(bye) == ours.id
    assert bye.uri == ours.local_target
    ours.receive_request(bye)
    assert ours.remote_cseq == 24562


def test_incoming_cseq_checks() -> None:
    invite, ours = uas_dialog()
    ok = make_response(
        invite, 200, to_tag=ours.local_tag, headers=[("Contact", "<sip:conf@10.0.0.5>")]
    )
    alice = Dialog.uac(invite, ok)

    info = alice.create_request("INFO", via=OUR_VIA)
    ours.receive_request(info)
    assert ours.remote_cseq == 24562
    late = alice.create_request("INFO", via=OUR_VIA)
    late.headers.set("CSeq", "24560 INFO")
    with pytest.raises(DialogError) as error:
        ours.receive_request(late)
    assert error.value.status == 500
    assert ours.remote_cseq == 24562  # a rejected request changes nothing
    ours.receive_request(alice.create_ack(via=OUR_VIA))  # ACK repeats the INVITE's 24561
    # Alice moves (re-INVITE with a new Contact): the remote target follows.
    alice.local_target = SipUri.parse("sip:alice@198.51.100.99:5070")
    ours.receive_request(alice.create_request("INVITE", via=OUR_VIA))
    assert ours.remote_target == SipUri.parse("sip:alice@198.51.100.99:5070")
    assert ours.remote_cseq == 24564
    stranger = alice.create_request("BYE", via=OUR_VIA)
    stranger.headers.set("To", "<sip:conf@bridge.example.org>;tag=other")
    with pytest.raises(DialogError) as error:
        ours.receive_request(stranger)
    assert error.value.status == 481


def test_uas_errors() -> None:
    invite = parse_request(vector("kamailio_proxied_invite.sip"))
    with pytest.raises(DialogError):
        Dialog.uas(invite, make_response(invite, 200))  # we forgot our To tag
    with pytest.raises(DialogError):
        Dialog.uas(invite, make_response(invite, 100, to_tag="x"))
    invite.headers.remove("Contact")
    with pytest.raises(DialogError) as info:
        Dialog.uas(invite, make_response(invite, 200, to_tag="x"))
    assert info.value.status == 400


def test_uas_early_dialog_from_183() -> None:
    invite = parse_request(vector("sipp_uac_invite.sip"))
    progress = make_response(invite, 183, to_tag="early1")
    dialog = Dialog.uas(invite, progress)
    assert dialog.early and dialog.local_tag == "early1"
    assert dialog.remote_target == SipUri.parse("sip:sipp@192.168.1.10:5061")


def test_request_without_via_and_extra_headers() -> None:
    _, dialog = uas_dialog()
    info = dialog.create_request(
        "INFO",
        body=b"Signal=5\r\nDuration=160\r\n",
        content_type="application/dtmf-relay",
        headers=[("X-Conference", "4711")],
    )
    assert "Via" not in info.headers  # the caller adds its Via before sending
    assert info.headers.get("X-Conference") == "4711"
    assert info.headers.get("Content-Type") == "application/dtmf-relay"
    explicit = dialog.create_request(
        "OPTIONS", via=Via("TCP", "gw", None, {"branch": "z9hG4bKmine"})
    )
    assert explicit.branch == "z9hG4bKmine"


def test_identifiers() -> None:
    tags = {new_tag() for _ in range(50)}
    assert len(tags) == 50 and all(len(t) == 16 for t in tags)
    assert new_call_id("10.0.0.5").endswith("@10.0.0.5")
    assert "@" not in new_call_id()
    assert new_call_id() != new_call_id()

"""SDP parsing and RFC 3264 offer/answer against offers real SIP endpoints send."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.sip.sdp import (
    Attribute,
    MediaDescription,
    Negotiated,
    RtpMap,
    SdpError,
    SessionDescription,
    accept_answer,
    is_same_version,
    make_offer,
    negotiate,
    parse_sdp,
    revise,
)

LOCAL = "198.51.100.5"
PORT = 40000


def crlf(text: str) -> str:
    """Vectors are written with LF for readability; SDP on the wire uses CRLF."""
    return text.replace("\n", "\r\n")


# SIPp's built-in uac scenario: one static codec, no a= lines at all.
SIPP = """v=0
o=user1 53655765 2353687637 IN IP4 127.0.1.1
s=-
c=IN IP4 127.0.1.1
t=0 0
m=audio 6000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
"""

# baresip 3.x with its default codec modules.
BARESIP = """v=0
o=- 1474327431 2018549011 IN IP4 192.168.1.23
s=-
c=IN IP4 192.168.1.23
t=0 0
m=audio 14242 RTP/AVP 96 9 0 8 101
b=AS:107
a=rtpmap:96 opus/48000/2
a=fmtp:96 stereo=1;sprop-stereo=1
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
a=sendrecv
a=label:1
a=rtcp-rsize
a=ssrc:3145187212 cname:f5b5c9ae-4bd4-4fbd-a8c5-49e0a4a3bc1e
"""

# Linphone desktop: several telephone-event clocks, static G729 with only an fmtp, video.
LINPHONE = """v=0
o=alice 3030 1519 IN IP4 192.168.0.20
s=Talk
c=IN IP4 192.168.0.20
t=0 0
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
a=record:off
m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:97 speex/16000
a=fmtp:97 vbr=on
a=rtpmap:98 speex/8000
a=fmtp:98 vbr=on
a=fmtp:18 annexb=yes
a=rtpmap:101 telephone-event/48000
a=rtpmap:99 telephone-event/16000
a=rtpmap:100 telephone-event/8000
a=rtcp-fb:* trr-int 1000
a=rtcp-fb:* ccm tmmbr
m=video 9078 RTP/AVP 96 97
a=rtpmap:96 VP8/90000
a=rtpmap:97 H264/90000
a=fmtp:97 profile-level-id=42801F
a=rtcp-fb:* trr-int 1000
a=rtcp-fb:* ccm tmmbr
a=rtcp-fb:96 nack pli
a=rtcp-fb:97 nack pli
"""

# A carrier SBC: PCMA first, ptime 20, explicit RTCP port, DTMF including flash.
CARRIER = """v=0
o=SBC 1775 1775 IN IP4 203.0.113.10
s=SIP Call
c=IN IP4 203.0.113.10
t=0 0
m=audio 31548 RTP/AVP 8 0 18 101
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:18 G729/8000
a=fmtp:18 annexb=no
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=maxptime:40
a=rtcp:31549
a=sendrecv
"""

# Chrome's first offer: ICE, DTLS-SRTP, BUNDLE, no plain RTP anywhere.
CHROME = """v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0
a=extmap-allow-mixed
a=msid-semantic: WMS 2a4f6f0e-5b36-4a2b-9c46-1f0c8b5e6d7a
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:ZZ8b
a=ice-pwd:2Yx1nV5cR8uLq3bT6wE9sA0d
a=ice-options:trickle
a=fingerprint:sha-256 FINGERPRINT
a=setup:actpass
a=mid:0
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=sendrecv
a=msid:2a4f6f0e-5b36-4a2b-9c46-1f0c8b5e6d7a 77a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=fmtp:63 111/111
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:13 CN/8000
a=rtpmap:110 telephone-event/48000
a=rtpmap:126 telephone-event/8000
a=ssrc:1001527411 cname:YcPq7tR8vVZ0hH2o
a=ssrc:1001527411 msid:2a4f6f0e-5b36-4a2b-9c46-1f0c8b5e6d7a 77a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8
"""
CHROME = CHROME.replace(
    "FINGERPRINT",
    "7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08",
)

# The same browser behind a WebRTC-to-SIP gateway that terminates DTLS: plain AVPF.
WEBRTC_GATEWAY = """v=0
o=- 4611731400430051336 3 IN IP4 192.0.2.44
s=-
t=0 0
m=audio 52000 RTP/AVPF 111 9 0 8 13 110 126
c=IN IP4 192.0.2.44
a=rtpmap:111 opus/48000/2
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:13 CN/8000
a=rtpmap:110 telephone-event/48000
a=rtpmap:126 telephone-event/8000
a=sendrecv
"""

VECTORS = {
    "sipp": SIPP,
    "baresip": BARESIP,
    "linphone": LINPHONE,
    "carrier": CARRIER,
    "chrome": CHROME,
    "webrtc-gateway": WEBRTC_GATEWAY,
}


def answer_to(offer_text: str, *supported: str, **kwargs: Any) -> tuple[str, Negotiated]:
    codecs = list(supported) or ["PCMU", "PCMA", "telephone-event"]
    answer = negotiate(
        parse_sdp(crlf(offer_text)),
        LOCAL,
        PORT,
        codecs,
        session_id=1001,
        session_version=1,
        **kwargs,
    )
    return str(answer.sdp), answer.negotiated


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("name", VECTORS)
def test_round_trip_is_exact(name: str) -> None:
    text = crlf(VECTORS[name])
    parsed = parse_sdp(text)
    assert str(parsed) == text
    assert parse_sdp(str(parsed)) == parsed


def test_parse_fields() -> None:
    sdp = parse_sdp(crlf(CARRIER))
    assert sdp.version == 0
    assert (sdp.origin.username, sdp.origin.session_id, sdp.origin.session_version) == (
        "SBC",
        1775,
        1775,
    )
    assert sdp.origin.address == "203.0.113.10"
    assert sdp.session_name == "SIP Call"
    assert sdp.connection is not None and sdp.connection.host == "203.0.113.10"
    assert [(t.start, t.stop) for t in sdp.times] == [(0, 0)]
    [audio] = sdp.media
    assert (audio.media, audio.port, audio.proto) == ("audio", 31548, "RTP/AVP")
    assert audio.formats == ["8", "0", "18", "101"]
    assert audio.payload_types == [8, 0, 18, 101]
    assert audio.rtpmap(101) == RtpMap(101, "telephone-event", 8000)
    assert audio.fmtp(101) == "0-16"
    assert audio.fmtp(18) == "annexb=no"
    assert audio.first("rtcp") == "31549"
    assert audio.direction == "sendrecv"
    assert sdp.direction_for(audio) == "sendrecv"


def test_static_payload_types_need_no_rtpmap() -> None:
    sdp = parse_sdp(crlf(LINPHONE))
    audio = sdp.media[0]
    assert audio.rtpmap(0) == RtpMap(0, "PCMU", 8000)
    assert audio.rtpmap(18) == RtpMap(18, "G729", 8000)  # only an fmtp line for 18
    assert audio.rtpmap(9) == RtpMap(9, "G722", 8000)  # clock 8000 by RFC 3551
    assert audio.rtpmap(96) == RtpMap(96, "opus", 48000, 2)
    assert audio.rtpmap(120) is None
    assert sdp.media[1].rtpmap(96) == RtpMap(96, "VP8", 90000)  # numbering is per m= line


def test_unknown_attributes_are_kept_in_order() -> None:
    sdp = parse_sdp(crlf(LINPHONE))
    assert sdp.attributes[0] == Attribute(
        "rtcp-xr", "rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics"
    )
    assert sdp.attributes[1] == Attribute("record", "off")
    chrome = parse_sdp(crlf(CHROME))
    assert chrome.attributes[1] == Attribute("extmap-allow-mixed")
    assert chrome.attributes[2].value == " WMS 2a4f6f0e-5b36-4a2b-9c46-1f0c8b5e6d7a"
    assert chrome.media[0].values("ssrc")[0] == "1001527411 cname:YcPq7tR8vVZ0hH2o"


def test_lf_only_and_trailing_blank_lines_are_tolerated() -> None:
    lf = parse_sdp(SIPP + "\n\n")
    assert lf == parse_sdp(crlf(SIPP))
    assert str(lf) == crlf(SIPP)


def test_trailing_whitespace_is_tolerated() -> None:
    sdp = parse_sdp(crlf(SIPP).replace("RTP/AVP 0\r\n", "RTP/AVP 0 \r\n"))
    assert sdp.media[0].formats == ["0"]


def test_connection_at_media_level_only() -> None:
    text = SIPP.replace("c=IN IP4 127.0.1.1\n", "").replace(
        "m=audio 6000 RTP/AVP 0\n", "m=audio 6000 RTP/AVP 0\nc=IN IP4 10.1.2.3\n"
    )
    sdp = parse_sdp(text)
    assert sdp.connection is None
    connection = sdp.connection_for(sdp.media[0])
    assert connection is not None and connection.address == "10.1.2.3"


def test_rejected_stream_may_lack_connection() -> None:
    text = SIPP.replace("c=IN IP4 127.0.1.1\n", "").replace(
        "m=audio 6000 RTP/AVP 0\n",
        "m=audio 6000 RTP/AVP 0\nc=IN IP4 10.1.2.3\nm=video 0 RTP/AVP 31\n",
    )
    assert parse_sdp(text).media[1].port == 0


def test_ipv6_and_port_count() -> None:
    text = (
        "v=0\no=- 1 1 IN IP6 2001:db8::1\ns= \nc=IN IP6 2001:db8::1\nt=0 0\n"
        "m=audio 49170/2 RTP/AVP 0\n"
    )
    sdp = parse_sdp(text)
    assert sdp.session_name == " "  # "s= " is the RFC's own suggestion for no name
    assert sdp.media[0].port == 49170 and sdp.media[0].port_count == 2
    assert str(sdp).splitlines()[5] == "m=audio 49170/2 RTP/AVP 0"


MINIMAL = "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\nm=audio 5004 RTP/AVP 0\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty SDP body"),
        ("\r\n\r\n", "empty SDP body"),
        ("o=- 1 1 IN IP4 10.0.0.1\nv=0\n", "line 1: an SDP body must start with v="),
        ("v=1\n", "line 1: unsupported SDP version '1'"),
        (MINIMAL.replace("o=- 1 1 IN IP4 10.0.0.1\n", ""), "no o= line"),
        (MINIMAL.replace("s=-\n", ""), "no s= line"),
        (MINIMAL.replace("t=0 0\n", ""), "no t= line"),
        (MINIMAL.replace("m=audio 5004 RTP/AVP 0\n", ""), "no m= line"),
        (MINIMAL.replace("c=IN IP4 10.0.0.1\n", ""), "line 5: m=audio has no connection"),
        (MINIMAL.replace("o=- 1 1 IN", "o=- 1 IN"), "line 2: o= needs"),
        (MINIMAL.replace("o=- 1 1", "o=- x1 1"), "line 2: o= session id must be a decimal"),
        (MINIMAL + "o=- 1 1 IN IP4 10.0.0.1\n", "line 7: o= is not allowed after the first m="),
        (MINIMAL.replace("s=-\n", "s=-\ns=again\n"), "line 4: duplicate s= line"),
        (MINIMAL.replace("c=IN IP4 10.0.0.1", "c=IN IP4"), "line 4: c= needs"),
        (MINIMAL.replace("t=0 0", "t=0"), "line 5: t= needs a start and a stop"),
        (MINIMAL.replace("5004", "abc"), "line 6: m= port must be a decimal number, got 'abc'"),
        (MINIMAL.replace("5004", "\u0665\u0660\u0660\u0664"), "m= port must be a decimal"),
        (MINIMAL.replace("5004", "70000"), "line 6: m= port 70000 is out of range"),
        (MINIMAL.replace("RTP/AVP 0", "RTP/AVP 128"), "RTP payload type 128 is out of range"),
        (MINIMAL.replace("RTP/AVP 0", "RTP/AVP"), "line 6: m= needs"),
        (MINIMAL + "a=rtpmap:0 PCMU\n", "line 7: a=rtpmap needs"),
        (MINIMAL + "a=rtpmap:200 X/8000\n", "a=rtpmap payload type 200 is out of range"),
        (MINIMAL + "just text\n", "line 7: expected '<letter>=<value>'"),
        (MINIMAL + "ab=1\n", "line 7: expected '<letter>=<value>'"),
        (MINIMAL + "A=1\n", "line 7: expected '<letter>=<value>'"),
        (MINIMAL + "x=1\n", "line 7: unknown line type x="),
        (MINIMAL + "a=bad name\n", "line 7: bad attribute name"),
        (MINIMAL + "b=AS\n", "line 7: b= needs"),
        (MINIMAL.replace("s=-", "s=a\rb"), "line 3: contains a stray CR"),
        ("v=0\nr=7d 1h 0 25h\n", "line 2: r= line before any t= line"),
    ],
)
def test_malformed(text: str, message: str) -> None:
    with pytest.raises(SdpError, match=None) as caught:
        parse_sdp(text)
    assert message in str(caught.value)
    assert caught.value.status == 400


# --------------------------------------------------------------------------- answers


def test_sipp_answer() -> None:
    text, negotiated = answer_to(SIPP)
    assert text == crlf(
        "v=0\n"
        "o=telekonf 1001 1 IN IP4 198.51.100.5\n"
        "s=-\n"
        "c=IN IP4 198.51.100.5\n"
        "t=0 0\n"
        "m=audio 40000 RTP/AVP 0\n"
        "a=rtpmap:0 PCMU/8000\n"
        "a=ptime:20\n"
        "a=sendrecv\n"
    )
    assert negotiated.remote_address == "127.0.1.1"
    assert negotiated.remote_port == 6000
    assert negotiated.telephone_event is None


def test_baresip_answer_with_default_codecs() -> None:
    answer = negotiate(parse_sdp(crlf(BARESIP)), LOCAL, PORT, session_id=1001, session_version=1)
    assert str(answer) == crlf(
        "v=0\n"
        "o=telekonf 1001 1 IN IP4 198.51.100.5\n"
        "s=-\n"
        "c=IN IP4 198.51.100.5\n"
        "t=0 0\n"
        "m=audio 40000 RTP/AVP 0 101\n"
        "a=rtpmap:0 PCMU/8000\n"
        "a=rtpmap:101 telephone-event/8000\n"
        "a=fmtp:101 0-15\n"
        "a=ptime:20\n"
        "a=sendrecv\n"
    )
    n = answer.negotiated
    assert (n.remote_address, n.remote_port) == ("192.168.1.23", 14242)
    assert (n.remote_rtcp_address, n.remote_rtcp_port) == ("192.168.1.23", 14243)
    assert (n.codec, n.payload_type, n.clock_rate, n.sample_rate, n.channels) == (
        "PCMU",
        0,
        8000,
        8000,
        1,
    )
    assert n.fmtp is None
    assert (n.telephone_event, n.telephone_event_clock_rate) == (101, 8000)
    assert (n.receive_payload_type, n.receive_telephone_event) == (0, 101)
    assert n.ptime == 20
    assert n.direction == "sendrecv" and n.sends and n.receives
    assert n.on_hold is False
    assert n.media_index == 0


def test_baresip_g722_keeps_rtp_clock_8000() -> None:
    answer = negotiate(
        parse_sdp(crlf(BARESIP)),
        LOCAL,
        PORT,
        ["G722", "PCMU", "telephone-event"],
        session_id=7,
        session_version=7,
    )
    audio = answer.sdp.media[0]
    assert audio.formats == ["9", "101"]
    assert audio.values("rtpmap") == ["9 G722/8000", "101 telephone-event/8000"]
    n = answer.negotiated
    assert (n.codec, n.payload_type, n.clock_rate, n.sample_rate) == ("G722", 9, 8000, 16000)


def test_baresip_opus_keeps_dynamic_payload_type_and_remote_fmtp() -> None:
    answer = negotiate(
        parse_sdp(crlf(BARESIP)),
        LOCAL,
        PORT,
        ["opus", "PCMU", "telephone-event"],
        session_id=7,
        session_version=7,
    )
    audio = answer.sdp.media[0]
    assert audio.formats == ["96", "101"]
    assert audio.values("rtpmap") == ["96 opus/48000/2", "101 telephone-event/8000"]
    n = answer.negotiated
    assert (n.codec, n.payload_type, n.clock_rate, n.channels) == ("opus", 96, 48000, 2)
    assert n.fmtp == "stereo=1;sprop-stereo=1"  # what baresip wants to receive
    # Only /8000 was offered: used although opus runs at 48 kHz.
    assert (n.telephone_event, n.telephone_event_clock_rate) == (101, 8000)


def test_offerer_preference_wins_over_ours() -> None:
    _, n = answer_to(CARRIER, "PCMU", "PCMA", "telephone-event")
    assert n.codec == "PCMA"
    _, n = answer_to(BARESIP, "PCMA", "PCMU")
    assert n.codec == "PCMU"


def test_linphone_answer_rejects_video_and_matches_dtmf_clock() -> None:
    text, n = answer_to(LINPHONE)
    assert text == crlf(
        "v=0\n"
        "o=telekonf 1001 1 IN IP4 198.51.100.5\n"
        "s=-\n"
        "c=IN IP4 198.51.100.5\n"
        "t=0 0\n"
        "m=audio 40000 RTP/AVP 0 100\n"
        "a=rtpmap:0 PCMU/8000\n"
        "a=rtpmap:100 telephone-event/8000\n"
        "a=fmtp:100 0-15\n"  # no fmtp offered: RFC 4733 default
        "a=ptime:20\n"
        "a=sendrecv\n"
        "m=video 0 RTP/AVP 96 97\n"
    )
    assert (n.telephone_event, n.telephone_event_clock_rate) == (100, 8000)


def test_linphone_opus_pairs_with_telephone_event_48000() -> None:
    _, n = answer_to(LINPHONE, "opus", "telephone-event")
    assert (n.codec, n.payload_type) == ("opus", 96)
    assert (n.telephone_event, n.telephone_event_clock_rate) == (101, 48000)


def test_carrier_answer() -> None:
    text, n = answer_to(CARRIER)
    assert text == crlf(
        "v=0\n"
        "o=telekonf 1001 1 IN IP4 198.51.100.5\n"
        "s=-\n"
        "c=IN IP4 198.51.100.5\n"
        "t=0 0\n"
        "m=audio 40000 RTP/AVP 8 101\n"
        "a=rtpmap:8 PCMA/8000\n"
        "a=rtpmap:101 telephone-event/8000\n"
        "a=fmtp:101 0-16\n"
        "a=ptime:20\n"
        "a=sendrecv\n"
    )
    assert (n.codec, n.payload_type) == ("PCMA", 8)
    assert (n.remote_address, n.remote_port) == ("203.0.113.10", 31548)
    assert (n.remote_rtcp_address, n.remote_rtcp_port) == ("203.0.113.10", 31549)


def test_rtcp_attribute_with_address_and_our_rtcp_port() -> None:
    offer = CARRIER.replace("a=rtcp:31549", "a=rtcp:40001 IN IP4 198.51.100.77")
    text, n = answer_to(offer, local_rtcp_port=40011)
    assert (n.remote_rtcp_address, n.remote_rtcp_port) == ("198.51.100.77", 40001)
    assert "a=rtcp:40011\r\n" in text


@pytest.mark.parametrize(
    ("ptime_lines", "expected"),
    [
        ("a=ptime:30\n", 30),
        ("", 20),
        ("a=ptime:abc\n", 20),
        ("a=ptime:5000\n", 20),
        ("a=ptime:40\na=maxptime:30\n", 30),
    ],
)
def test_ptime(ptime_lines: str, expected: int) -> None:
    offer = CARRIER.replace("a=ptime:20\na=maxptime:40\n", ptime_lines)
    text, n = answer_to(offer)
    assert n.ptime == expected
    assert f"a=ptime:{expected}\r\n" in text


def test_session_level_ptime() -> None:
    offer = SIPP.replace("t=0 0\n", "t=0 0\na=ptime:30\n")
    _, n = answer_to(offer)
    assert n.ptime == 30


@pytest.mark.parametrize(
    ("fmtp", "answered"),
    [("0-15", "0-15"), ("0-16", "0-16"), ("0-15,32-41", "0-15"), ("0-11,16", "0-11,16")],
)
def test_telephone_event_events(fmtp: str, answered: str) -> None:
    text, _ = answer_to(CARRIER.replace("a=fmtp:101 0-16", f"a=fmtp:101 {fmtp}"))
    assert f"a=fmtp:101 {answered}\r\n" in text


def test_telephone_event_without_common_events_is_left_out() -> None:
    text, n = answer_to(CARRIER.replace("a=fmtp:101 0-16", "a=fmtp:101 32-41"))
    assert n.telephone_event is None
    assert "m=audio 40000 RTP/AVP 8\r\n" in text


def test_telephone_event_left_out_when_we_do_not_want_it() -> None:
    text, n = answer_to(CARRIER, "PCMA")
    assert n.telephone_event is None
    assert "telephone-event" not in text


def test_dynamic_payload_type_without_rtpmap_is_ignored() -> None:
    offer = SIPP.replace("RTP/AVP 0", "RTP/AVP 97 8").replace("a=rtpmap:0 PCMU/8000\n", "")
    text, n = answer_to(offer)
    assert (n.codec, n.payload_type) == ("PCMA", 8)
    assert "m=audio 40000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n" in text


def test_ipv6_answer() -> None:
    answer = negotiate(parse_sdp(crlf(SIPP)), "2001:db8::5", PORT, session_id=1, session_version=1)
    assert "c=IN IP6 2001:db8::5\r\n" in str(answer)
    assert "o=telekonf 1 1 IN IP6 2001:db8::5\r\n" in str(answer)


def test_webrtc_gateway_avpf_is_answered_in_kind() -> None:
    text, n = answer_to(WEBRTC_GATEWAY)
    assert "m=audio 40000 RTP/AVPF 0 126\r\n" in text
    assert (n.codec, n.telephone_event) == ("PCMU", 126)
    _, n = answer_to(WEBRTC_GATEWAY, "opus", "PCMU", "telephone-event")
    assert (n.codec, n.payload_type, n.telephone_event) == ("opus", 111, 110)
    assert n.fmtp == "minptime=10;useinbandfec=1"


def test_chrome_dtls_offer_is_488() -> None:
    with pytest.raises(SdpError) as caught:
        answer_to(CHROME, "opus", "PCMU", "PCMA", "telephone-event")
    assert caught.value.status == 488
    assert "UDP/TLS/RTP/SAVPF is not plain RTP" in str(caught.value)


def test_no_common_codec_is_488() -> None:
    offer = CARRIER.replace("RTP/AVP 8 0 18 101", "RTP/AVP 18 3 101").replace(
        "a=rtpmap:8 PCMA/8000\na=rtpmap:0 PCMU/8000\n", ""
    )
    with pytest.raises(SdpError) as caught:
        answer_to(offer)
    assert caught.value.status == 488
    assert "no common codec (offered 18 G729/8000, 3 GSM/8000, 101 telephone-event/8000)" in str(
        caught.value
    )


def test_video_only_offer_is_488() -> None:
    offer = MINIMAL.replace("m=audio 5004 RTP/AVP 0", "m=video 5004 RTP/AVP 31")
    with pytest.raises(SdpError) as caught:
        answer_to(offer)
    assert caught.value.status == 488
    assert "no active audio stream" in str(caught.value)


def test_streams_keep_offer_order_and_only_first_audio_is_taken() -> None:
    offer = (
        "v=0\no=- 5 5 IN IP4 10.0.0.9\ns=-\nc=IN IP4 10.0.0.9\nt=0 0\n"
        "m=video 5010 RTP/AVP 96\na=rtpmap:96 H264/90000\n"
        "m=audio 0 RTP/AVP 0\n"  # disabled by the offerer
        "m=audio 5020 RTP/AVP 18\n"  # nothing we can do
        "m=audio 5030 RTP/AVP 8\n"  # the one
        "m=audio 5040 RTP/AVP 0\n"  # acceptable, but one audio stream is enough
        "m=application 5050 UDP/BFCP *\n"
    )
    answer = negotiate(parse_sdp(offer), LOCAL, PORT, session_id=1, session_version=1)
    lines = [line for line in str(answer).split("\r\n") if line.startswith("m=")]
    assert lines == [
        "m=video 0 RTP/AVP 96",
        "m=audio 0 RTP/AVP 0",
        "m=audio 0 RTP/AVP 18",
        "m=audio 40000 RTP/AVP 8",
        "m=audio 0 RTP/AVP 0",
        "m=application 0 UDP/BFCP *",
    ]
    n = answer.negotiated
    assert (n.media_index, n.remote_port, n.codec) == (3, 5030, "PCMA")
    assert parse_sdp(str(answer)) == answer.sdp


def test_srtp_stream_skipped_for_plain_rtp_alternative() -> None:
    # Best-effort SRTP as some PBXs offer it: an RTP/SAVP stream, then the same in RTP/AVP.
    offer = (
        "v=0\no=- 8 8 IN IP4 10.0.0.9\ns=-\nc=IN IP4 10.0.0.9\nt=0 0\n"
        "m=audio 5000 RTP/SAVP 0\n"
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\n"
        "m=audio 5002 RTP/AVP 0\n"
    )
    answer = negotiate(parse_sdp(offer), LOCAL, PORT, session_id=1, session_version=1)
    assert [(m.port, m.proto) for m in answer.sdp.media] == [(0, "RTP/SAVP"), (PORT, "RTP/AVP")]
    assert (answer.negotiated.media_index, answer.negotiated.remote_port) == (1, 5002)


def test_sdp_error_is_a_value_error() -> None:
    assert issubclass(SdpError, ValueError)
    assert SdpError("x").status == 400


def test_answer_keeps_offer_timing() -> None:
    offer = SIPP.replace("t=0 0", "t=3034423619 3042462419\nr=7d 1h 0 25h")
    text, _ = answer_to(offer)
    assert "t=3034423619 3042462419\r\nr=7d 1h 0 25h\r\n" in text


# --------------------------------------------------------------------------- hold


def hold_offer(direction_line: str, address: str = "192.168.1.23", version: int = 2) -> str:
    return (
        BARESIP.replace("a=sendrecv\n", direction_line)
        .replace("o=- 1474327431 2018549011", f"o=- 1474327431 {2018549011 + version}")
        .replace("c=IN IP4 192.168.1.23", f"c=IN IP4 {address}")
    )


@pytest.mark.parametrize(
    ("direction_line", "address", "answered", "on_hold"),
    [
        ("a=sendrecv\n", "192.168.1.23", "sendrecv", False),
        ("", "192.168.1.23", "sendrecv", False),  # no attribute means sendrecv
        ("a=sendonly\n", "192.168.1.23", "recvonly", True),  # RFC 3264 hold
        ("a=inactive\n", "192.168.1.23", "inactive", True),
        ("a=recvonly\n", "192.168.1.23", "sendonly", True),
        ("", "0.0.0.0", "recvonly", True),  # RFC 2543 hold
        ("a=sendonly\n", "0.0.0.0", "recvonly", True),  # both at once, as some phones do
        ("a=recvonly\n", "0.0.0.0", "inactive", True),
    ],
)
def test_hold_directions(direction_line: str, address: str, answered: str, on_hold: bool) -> None:
    text, n = answer_to(hold_offer(direction_line, address))
    assert f"a={answered}\r\n" in text
    assert (
        text.count("a=sendrecv")
        + text.count("a=sendonly")
        + text.count("a=recvonly")
        + text.count("a=inactive")
        == 1
    )
    assert n.direction == answered
    assert n.on_hold is on_hold
    assert n.remote_address == address
    assert "c=IN IP4 198.51.100.5\r\n" in text  # our address, even for old-style hold


def test_hold_direction_at_session_level_and_media_override() -> None:
    session_level = BARESIP.replace("a=sendrecv\n", "").replace("t=0 0\n", "t=0 0\na=sendonly\n")
    _, n = answer_to(session_level)
    assert n.direction == "recvonly"
    overridden = BARESIP.replace("t=0 0\n", "t=0 0\na=sendonly\n")  # media says sendrecv
    _, n = answer_to(overridden)
    assert n.direction == "sendrecv"


def test_we_can_hold_too() -> None:
    text, n = answer_to(BARESIP, direction="sendonly")  # e.g. playing a prompt only
    assert "a=sendonly\r\n" in text
    assert (n.direction, n.on_hold) == ("sendonly", False)
    text, n = answer_to(hold_offer("a=sendonly\n"), direction="sendonly")
    assert (n.direction, n.on_hold) == ("inactive", True)


def test_hold_and_resume_versions() -> None:
    first = negotiate(parse_sdp(crlf(BARESIP)), LOCAL, PORT, session_id=77, session_version=1)
    sent = first.sdp

    def reanswer(offer_text: str) -> SessionDescription:
        nonlocal sent
        answer = negotiate(
            parse_sdp(crlf(offer_text)),
            LOCAL,
            PORT,
            session_id=sent.origin.session_id,
            session_version=sent.origin.session_version,
        )
        sent = revise(sent, answer.sdp)
        return sent

    held = reanswer(hold_offer("a=sendonly\n", version=1))
    assert (held.origin.session_id, held.origin.session_version) == (77, 2)
    assert held.media[0].direction == "recvonly"
    held_again = reanswer(hold_offer("a=sendonly\n", version=1))  # session refresh
    assert held_again.origin.session_version == 2
    resumed = reanswer(hold_offer("a=sendrecv\n", version=2))
    assert resumed.origin.session_version == 3
    assert resumed.media[0].direction == "sendrecv"


def test_revise_rules() -> None:
    a = make_offer(LOCAL, PORT, session_id=5, session_version=9)
    assert revise(None, a) is a
    other_id = make_offer(LOCAL, PORT, session_id=123, session_version=0)
    same = revise(a, other_id)
    assert (same.origin.session_id, same.origin.session_version) == (5, 9)
    changed = revise(a, make_offer(LOCAL, PORT + 2, session_id=123, session_version=0))
    assert (changed.origin.session_id, changed.origin.session_version) == (5, 10)
    assert changed.media[0].port == PORT + 2


def test_is_same_version() -> None:
    offer = parse_sdp(crlf(BARESIP))
    assert is_same_version(offer, parse_sdp(crlf(BARESIP)))
    assert not is_same_version(offer, parse_sdp(crlf(hold_offer("a=sendonly\n"))))


# --------------------------------------------------------------------------- dial-out


def test_make_offer_default() -> None:
    offer = make_offer(LOCAL, PORT, session_id=3, session_version=3)
    assert str(offer) == crlf(
        "v=0\n"
        "o=telekonf 3 3 IN IP4 198.51.100.5\n"
        "s=-\n"
        "c=IN IP4 198.51.100.5\n"
        "t=0 0\n"
        "m=audio 40000 RTP/AVP 0 8 101\n"
        "a=rtpmap:0 PCMU/8000\n"
        "a=rtpmap:8 PCMA/8000\n"
        "a=rtpmap:101 telephone-event/8000\n"
        "a=fmtp:101 0-16\n"
        "a=ptime:20\n"
        "a=sendrecv\n"
    )
    assert parse_sdp(str(offer)) == offer


def test_make_offer_with_opus_offers_both_dtmf_clocks() -> None:
    offer = make_offer(
        LOCAL, PORT, ["opus", "G722", "PCMA", "telephone-event"], session_id=3, session_version=3
    )
    audio = offer.media[0]
    assert audio.formats == ["96", "9", "8", "101", "102"]
    assert audio.values("rtpmap") == [
        "96 opus/48000/2",
        "9 G722/8000",
        "8 PCMA/8000",
        "101 telephone-event/8000",
        "102 telephone-event/48000",
    ]
    assert audio.values("fmtp") == ["101 0-16", "102 0-16"]


def test_make_offer_rejects_unknown_codec() -> None:
    with pytest.raises(ValueError, match="unsupported codec 'G729'"):
        make_offer(LOCAL, PORT, ["G729"], session_id=1, session_version=1)
    with pytest.raises(ValueError, match="at least one audio codec"):
        make_offer(LOCAL, PORT, ["telephone-event"], session_id=1, session_version=1)


def test_our_offer_answered_by_ourselves() -> None:
    offer = make_offer("192.0.2.1", 30000, session_id=1, session_version=1)
    answer = negotiate(
        offer, "192.0.2.2", 30002, ["PCMA", "telephone-event"], session_id=2, session_version=1
    )
    n = accept_answer(offer, answer.sdp)
    assert (n.codec, n.payload_type, n.receive_payload_type) == ("PCMA", 8, 8)
    assert (n.telephone_event, n.receive_telephone_event) == (101, 101)
    assert (n.remote_address, n.remote_port, n.direction) == ("192.0.2.2", 30002, "sendrecv")


CARRIER_ANSWER = """v=0
o=SBC 2291 2291 IN IP4 203.0.113.10
s=SIP Call
c=IN IP4 203.0.113.10
t=0 0
m=audio 31600 RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:30
a=rtcp:31611
a=sendrecv
"""


def test_accept_carrier_answer() -> None:
    offer = make_offer(LOCAL, PORT, session_id=3, session_version=3)
    n = accept_answer(offer, parse_sdp(crlf(CARRIER_ANSWER)))
    assert (n.codec, n.payload_type, n.clock_rate) == ("PCMA", 8, 8000)
    assert (n.remote_address, n.remote_port) == ("203.0.113.10", 31600)
    assert n.remote_rtcp_port == 31611
    assert (n.telephone_event, n.telephone_event_clock_rate) == (101, 8000)
    assert n.ptime == 30  # the answerer's wish for what we send
    assert (n.direction, n.on_hold) == ("sendrecv", False)


def test_accept_answer_with_renumbered_payload_types() -> None:
    offer = make_offer(
        LOCAL, PORT, ["opus", "PCMU", "telephone-event"], session_id=1, session_version=1
    )
    answer = (
        "v=0\no=- 9 9 IN IP4 192.0.2.7\ns=-\nc=IN IP4 192.0.2.7\nt=0 0\n"
        "m=audio 7000 RTP/AVP 111 13 110\n"
        "a=rtpmap:111 opus/48000/2\na=rtpmap:13 CN/8000\na=rtpmap:110 telephone-event/48000\n"
        "a=fmtp:111 useinbandfec=1\n"
    )
    n = accept_answer(offer, parse_sdp(answer))
    assert (n.codec, n.payload_type, n.receive_payload_type) == ("opus", 111, 96)
    assert (n.telephone_event, n.receive_telephone_event) == (110, 102)
    assert n.telephone_event_clock_rate == 48000
    assert n.fmtp == "useinbandfec=1"


@pytest.mark.parametrize(
    ("direction", "ours", "on_hold"),
    [
        ("recvonly", "sendonly", True),
        ("sendonly", "recvonly", True),
        ("inactive", "inactive", True),
    ],
)
def test_accept_answer_directions(direction: str, ours: str, on_hold: bool) -> None:
    offer = make_offer(LOCAL, PORT, session_id=3, session_version=3)
    n = accept_answer(offer, parse_sdp(CARRIER_ANSWER.replace("a=sendrecv", f"a={direction}")))
    assert (n.direction, n.on_hold) == (ours, on_hold)


def test_accept_answer_codec_not_offered() -> None:
    offer = make_offer(LOCAL, PORT, ["PCMU"], session_id=3, session_version=3)
    with pytest.raises(SdpError) as caught:
        accept_answer(offer, parse_sdp(CARRIER_ANSWER))
    assert caught.value.status == 488
    assert "no codec from our offer (answered 8 PCMA/8000, 101 telephone-event/8000)" in str(
        caught.value
    )


def test_accept_answer_rejected_stream() -> None:
    offer = make_offer(LOCAL, PORT, session_id=3, session_version=3)
    rejected = CARRIER_ANSWER.replace("m=audio 31600", "m=audio 0")
    with pytest.raises(SdpError) as caught:
        accept_answer(offer, parse_sdp(rejected))
    assert caught.value.status == 488


def test_accept_answer_must_mirror_offer() -> None:
    offer = make_offer(LOCAL, PORT, session_id=3, session_version=3)
    extra = CARRIER_ANSWER + "m=video 0 RTP/AVP 31\n"
    with pytest.raises(SdpError, match="the answer has 2 m= lines, the offer had 1"):
        accept_answer(offer, parse_sdp(extra))
    video = CARRIER_ANSWER.replace("m=audio", "m=video")
    with pytest.raises(SdpError, match="answer m= line 1 is video"):
        accept_answer(offer, parse_sdp(video))


# --------------------------------------------------------------------------- fuzzing

_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_total(text: str) -> None:
    """Parsing and answering may fail only with SdpError; what parses must round-trip."""
    try:
        sdp = parse_sdp(text)
    except SdpError:
        return
    again = parse_sdp(str(sdp))
    assert again == sdp
    try:
        answer = negotiate(
            sdp,
            LOCAL,
            PORT,
            ["opus", "G722", "PCMU", "PCMA", "telephone-event"],
            session_id=1,
            session_version=1,
        )
    except SdpError as error:
        assert error.status == 488
        return
    assert parse_sdp(str(answer.sdp)) == answer.sdp
    assert len(answer.sdp.media) == len(sdp.media)


@_SETTINGS
@given(st.text())
def test_fuzz_arbitrary_text(text: str) -> None:
    _check_total(text)


# Pieces that make lines look like SDP often enough to get past the first checks.
_PIECES = [
    *"0123456789 /:-.=aimopstIN\r\t",
    "IN IP4 ",
    "IN IP6 ",
    "10.0.0.1",
    "0.0.0.0",
    "audio ",
    "video ",
    "RTP/AVP ",
    "RTP/AVPF ",
    "rtpmap:",
    "fmtp:",
    "ptime:",
    "rtcp:",
    "PCMU/8000",
    "G722/8000",
    "opus/48000/2",
    "telephone-event/8000",
    "telephone-event/48000",
    "sendonly",
    "recvonly",
    "inactive",
    "96",
    "101",
    "0-16",
]
_LINE_TEXT = st.lists(st.sampled_from(_PIECES), max_size=10).map("".join)


_HEADER = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
_M_LINE = st.builds(
    "m={} {} {} {}".format,
    st.sampled_from(["audio", "video", "application"]),
    st.integers(0, 70000).map(str) | st.sampled_from(["5004/2", "x", "5004/0"]),
    st.sampled_from(["RTP/AVP", "RTP/AVPF", "RTP/SAVP", "UDP/BFCP", "udptl"]),
    st.lists(st.integers(0, 130).map(str), min_size=1, max_size=6).map(" ".join)
    | st.sampled_from(["t38", "*", ""]),
)
_PT = st.sampled_from(["0", "8", "9", "13", "18", "96", "101", "102", "111", "127"])
_A_LINE = st.one_of(
    st.builds(
        "a=rtpmap:{} {}".format,
        _PT,
        st.sampled_from(
            [
                "PCMU/8000",
                "PCMA/8000",
                "G722/8000",
                "opus/48000/2",
                "opus/48000",
                "CN/8000",
                "telephone-event/8000",
                "telephone-event/48000",
                "telephone-event/16000",
            ]
        ),
    ),
    st.builds(
        "a=fmtp:{} {}".format,
        _PT,
        st.sampled_from(["0-15", "0-16", "0-11,16", "32-41", "15-3", "x", "", "useinbandfec=1"]),
    ),
    st.builds(
        "a={}:{}".format,
        st.sampled_from(["ptime", "maxptime"]),
        st.sampled_from(["20", "30", "5", "200", "nan", "1e400", "abc", ""]),
    ),
    st.sampled_from(["a=rtcp:5005", "a=rtcp:5005 IN IP4 192.0.2.1", "a=rtcp:99999", "a=rtcp:x"]),
    st.sampled_from(["a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive", "a=rtcp-mux"]),
    st.builds("a={}".format, _LINE_TEXT),
)
_ANY_LINE = st.builds(
    "{}={}".format, st.sampled_from(list("vosiuepcbtrzkamx")), _LINE_TEXT
) | st.sampled_from(["c=IN IP4 0.0.0.0", "c=IN IP4 192.0.2.9", "c=IN IP6 ::", "b=AS:64"])


@_SETTINGS
@given(
    st.builds("m=audio {} RTP/AVP {}".format, st.integers(0, 9).map(str), _PT),
    st.lists(st.one_of(_M_LINE, _A_LINE, _A_LINE, _A_LINE, _A_LINE, _ANY_LINE), max_size=20),
)
def test_fuzz_line_structure(first: str, lines: list[str]) -> None:
    _check_total(_HEADER + "".join(line + "\r\n" for line in [first, *lines]))


@_SETTINGS
@given(
    st.sampled_from(list(VECTORS.values())),
    st.data(),
)
def test_fuzz_mutated_vectors(vector: str, data: st.DataObject) -> None:
    lines = vector.splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["drop", "dup", "cut", "replace", "swap"]))
        if action == "drop" and len(lines) > 1:
            del lines[index]
        elif action == "dup":
            lines.insert(index, lines[index])
        elif action == "cut":
            lines[index] = lines[index][: data.draw(st.integers(0, len(lines[index])))]
        elif action == "replace":
            prefix = lines[index][:2]
            lines[index] = prefix + data.draw(_LINE_TEXT)
        elif action == "swap":
            other = data.draw(st.integers(0, len(lines) - 1))
            lines[index], lines[other] = lines[other], lines[index]
    _check_total("\r\n".join(lines) + "\r\n")


def test_hand_built_description_without_connection_is_an_sdp_error() -> None:
    offer = parse_sdp(crlf(SIPP))
    offer.connection = None
    with pytest.raises(SdpError):
        negotiate(offer, LOCAL, PORT, session_id=1, session_version=1)


def test_media_description_helpers() -> None:
    media = MediaDescription("audio", 5004, "RTP/AVP", ["0"], attributes=[Attribute("inactive")])
    assert media.direction == "inactive"
    assert media.has("inactive") and not media.has("sendrecv")
    assert media.first("ptime") is None

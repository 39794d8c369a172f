"""Malformed SIP, random fuzz and an INVITE flood against the running gateway."""

from __future__ import annotations

import asyncio
import random
import socket
import uuid

from server.app import ENGINE, GATEWAY

from ..conftest import InProcess
from .conftest import GEOGRAPHIC, sip_port

SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
)


def request(method: str, call_id: str, port: int, body: str = "", user: str = GEOGRAPHIC) -> bytes:
    lines = [
        f"{method} sip:{user}@127.0.0.1 SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{uuid.uuid4().hex};rport",
        "From: <sip:+38640111222@127.0.0.1>;tag=abc",
        f"To: <sip:{user}@127.0.0.1>",
        f"Call-ID: {call_id}",
        f"CSeq: 1 {method}",
        f"Contact: <sip:caller@127.0.0.1:{port}>",
        "Max-Forwards: 70",
    ]
    if body:
        lines.append("Content-Type: application/sdp")
    lines += [f"Content-Length: {len(body.encode())}", "", body]
    return "\r\n".join(lines).encode()


class Udp:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.target)

    async def answer(self, within: float = 2.0) -> bytes:
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.sock_recv(self.sock, 65535), within)

    async def status(self, within: float = 2.0, skip_provisional: bool = True) -> int:
        while True:
            status = int((await self.answer(within)).split(b" ", 2)[1])
            if not (skip_provisional and status < 200):
                return status

    def drain(self) -> None:
        try:
            while True:
                self.sock.recv(65535)
        except BlockingIOError:
            pass


MALFORMED = [
    b"INVITE sip:x@127.0.0.1 SIP/3.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKa\r\n"
    b"From: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: v3\r\nCSeq: 1 INVITE\r\n\r\n",
    b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKb\r\n"
    b"From: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: cl\r\nCSeq: 1 OPTIONS\r\n"
    b"Content-Length: abc\r\n\r\n",
    b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKc\r\n"
    b"From: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: cs\r\nCSeq: 1 INVITE\r\n\r\n",
    b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKd\r\n"
    b"From: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: short\r\nCSeq: 1 OPTIONS\r\n"
    b"Content-Length: 50\r\n\r\nonly a little",
    b"\x00\x01\x02\xff" * 50,
    b"INVITE\r\n\r\n",
    b"SIP/2.0 200 OK\r\n\r\n",
    b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKe\r\n"
    b"From: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: nocolon\r\nCSeq: 1 OPTIONS\r\n"
    b"This line has no colon\r\n\r\n",
    b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nX-Huge: " + b"a" * 65000 + b"\r\n\r\n",
]


async def alive(udp: Udp) -> None:
    """The gateway still answers a well-formed OPTIONS (ours, among late answers to others).

    Retransmitted like a real UAC does over UDP (Timer E): after a flood the
    kernel may have dropped datagrams from the gateway's full socket buffer.
    """
    call_id = uuid.uuid4().hex
    options = request("OPTIONS", call_id, udp.port)
    async with asyncio.timeout(8):
        interval = 0.5
        while True:
            udp.send(options)
            try:
                async with asyncio.timeout(interval):
                    while True:
                        answer = await udp.answer(interval)
                        if f"Call-ID: {call_id}".encode() in answer:
                            assert answer.startswith(b"SIP/2.0 200 "), answer[:100]
                            return
            except TimeoutError:
                interval = min(interval * 2, 4.0)


async def test_malformed_messages_get_400_and_break_nothing(service: InProcess) -> None:
    udp = Udp(("127.0.0.1", sip_port(service)))
    # Our own Via points at our socket so that 400s come back to us.
    statuses = []
    for raw in MALFORMED:
        udp.drain()
        udp.send(raw.replace(b"127.0.0.1:1;", f"127.0.0.1:{udp.port};".encode()))
        try:
            statuses.append(await udp.status(within=0.5))
        except TimeoutError:
            statuses.append(None)
    assert statuses[0] == 505  # SIP/3.0
    assert statuses[1] == 400 and statuses[2] == 400 and statuses[3] == 400
    assert statuses[4] is None and statuses[6] is None  # garbage, a response: no answer
    assert statuses[7] == 400
    assert service.app[GATEWAY].stats["malformed"] >= 7
    await alive(udp)
    # Wrong numbers, methods and SDP get their proper 4xx/5xx.
    udp.send(request("INVITE", "nosuch", udp.port, SDP, user="+442079469999"))
    assert await udp.status() == 404
    udp.send(request("INVITE", "nosdp", udp.port))
    assert await udp.status() == 488
    udp.send(request("INVITE", "badsdp", udp.port, "v=0\r\nm=video 1 RTP/AVP 31\r\n"))
    assert await udp.status() in (400, 488)
    udp.send(request("SUBSCRIBE", "sub", udp.port))
    assert await udp.status() == 405
    udp.send(request("FOO", "foo", udp.port))
    assert await udp.status() == 501
    bye = request("BYE", "nodialog", udp.port).replace(b"To: <sip:+442079460001@127.0.0.1>",
                                                          b"To: <sip:x@127.0.0.1>;tag=zz")
    udp.send(bye)
    assert await udp.status() == 481


async def test_random_fuzz_never_breaks_the_gateway(service: InProcess) -> None:
    udp = Udp(("127.0.0.1", sip_port(service)))
    rng = random.Random(4733)
    seeds = [request("INVITE", "fuzz", udp.port, SDP), request("OPTIONS", "fuzz2", udp.port)]
    for i in range(1500):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 8)):
            op = rng.random()
            at = rng.randrange(len(data))
            if op < 0.4:
                data[at] = rng.randrange(256)
            elif op < 0.7:
                del data[at : at + rng.randint(1, 20)]
            else:
                data[at:at] = rng.choice([b"\r\n", b":", b";", b"<", b">", b"\x00", b" ", b","])
        udp.send(bytes(data).replace(b"Call-ID: fuzz", f"Call-ID: fuzz{i}".encode()))
        if i % 100 == 0:
            await asyncio.sleep(0)  # let it process as it goes
    # A fresh socket: the fuzzing one's buffer is full of answers to the fuzz.
    await alive(Udp(("127.0.0.1", sip_port(service))))
    assert service.app[ENGINE].clock.stats.ticks > 0


async def test_an_invite_flood_is_answered_503(service: InProcess) -> None:
    gateway = service.app[GATEWAY]
    gateway.max_unjoined = 20
    udp = Udp(("127.0.0.1", sip_port(service)))
    for i in range(60):
        udp.send(request("INVITE", f"flood{i}", udp.port, SDP))
    finals: list[int] = []
    async with asyncio.timeout(20):
        while len(finals) < 60:
            status = int((await udp.answer(5)).split(b" ", 2)[1])
            if status >= 200:
                finals.append(status)
    assert finals.count(200) == 20
    assert finals.count(503) == 40
    await alive(udp)
    engine = service.app[ENGINE].stats()
    assert engine["clock"]["skipped"] == 0

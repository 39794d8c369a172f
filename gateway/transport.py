"""SIP over UDP and TCP: the only place with signalling sockets.

Datagrams and framed stream messages go to the user agent; what it sends comes
back through ``send``. A TCP peer is addressed by its connection's remote
address, so responses and in-dialog requests reuse the caller's connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from .sip.message import SipParseError, StreamFramer, is_keepalive
from .ua import Peer, SipGateway

logger = logging.getLogger(__name__)

#: a datagram this large is not SIP we want (and UDP SIP should stay under the MTU)
MAX_DATAGRAM = 65535


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, gateway: SipGateway) -> None:
        self.gateway = gateway
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if is_keepalive(data) or len(data) > MAX_DATAGRAM:
            return
        try:
            self.gateway.receive(data, ("udp", addr[0], addr[1]))
        except Exception:
            logger.exception("SIP datagram from %s:%s broke the gateway", *addr[:2])

    def error_received(self, exc: Exception) -> None:
        logger.debug("SIP UDP error: %s", exc)


class _TcpConnection(asyncio.Protocol):
    def __init__(self, shell: SipTransports) -> None:
        self.shell = shell
        self.framer = StreamFramer()
        self.transport: asyncio.Transport | None = None
        self.peer: Peer = ("tcp", "", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        host, port = transport.get_extra_info("peername")[:2]
        self.peer = ("tcp", host, port)
        self.shell.connections[(host, port)] = self

    def data_received(self, data: bytes) -> None:
        try:
            messages = self.framer.feed(data)
        except SipParseError as exc:
            logger.info("closing SIP/TCP connection from %s: %s", self.peer, exc)
            if self.transport is not None:
                self.transport.close()
            return
        for _ in range(self.framer.pings):
            if self.transport is not None:
                self.transport.write(b"\r\n")  # RFC 5626 pong
        self.framer.pings = 0
        for message in messages:
            try:
                self.shell.gateway.receive_message(message, self.peer, reliable=True)
            except Exception:
                logger.exception("SIP message from %s broke the gateway", self.peer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.shell.connections.pop(self.peer[1:], None)


class SipTransports:
    """Listens on UDP and TCP at one address for the gateway."""

    def __init__(self, gateway: SipGateway, host: str, port: int) -> None:
        self.gateway = gateway
        self.host = host
        self.port = port
        self.connections: dict[tuple[str, int], _TcpConnection] = {}
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        any_port = self.port == 0
        for _ in range(20 if any_port else 1):
            udp, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self.gateway), local_addr=(self.host, 0 if any_port else
                                                                self.port)
            )
            # With port 0 the system chose one: TCP listens on the same number, which
            # another program may hold already; then choose again.
            port = udp.get_extra_info("sockname")[1]
            try:
                self._tcp = await loop.create_server(
                    lambda: _TcpConnection(self), self.host, port, reuse_address=True
                )
            except OSError:
                udp.close()
                if not any_port:
                    raise
                continue
            self._udp, self.port = udp, port
            break
        else:
            raise OSError(f"no port free for both UDP and TCP on {self.host}")
        self.gateway.add_transport("udp", self._send_udp)
        self.gateway.add_transport("tcp", self._send_tcp)
        self.gateway.contact_port = self.port

    def _send_udp(self, data: bytes, peer: Peer) -> None:
        if self._udp is not None:
            self._udp.sendto(data, (peer[1], peer[2]))

    def _send_tcp(self, data: bytes, peer: Peer) -> None:
        connection = self.connections.get((peer[1], peer[2]))
        if connection is None or connection.transport is None:
            # We do not open connections towards callers: they reach us.
            raise OSError(f"no TCP connection to {peer[1]}:{peer[2]}")
        connection.transport.write(data)

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            for connection in list(self.connections.values()):
                if connection.transport is not None:
                    connection.transport.close()
            with contextlib.suppress(Exception):
                await self._tcp.wait_closed()

"""WebRTC legs on aiortc: ICE, DTLS and SRTP from aiortc, media timing from us.

aiortc's receive path (a fixed 16-packet jitter buffer and a decoder thread per
track) stalls about 280 ms on a single lost packet and keeps that delay. We
take the RTP packets right after SRTP instead and feed our own playout buffer,
which the mixer drains on its own clock. On the way out, the mixer hands
pre-encoded Opus packets to aiortc's sender, so a stream encoded once can be
sent to many listeners.

The hooks into aiortc's internals (receiver packet handler, decoder thread,
host-candidate gathering) are kept in this one module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

import aioice.ice
import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from .codecs import Concealer, EncodedFrame, Encoder, OpusDecoder, OpusEncoder
from .mixer import FRAME_SAMPLES, Int16Array
from .playout import PlayoutBuffer, Pull

logger = logging.getLogger(__name__)

_original_host_addresses = aioice.ice.get_host_addresses


def offer_ice_addresses(addresses: Sequence[str]) -> None:
    """Offer exactly these local addresses as ICE host candidates (all when empty).

    aioice leaves loopback out and offers every other interface; a deployment
    names its public address, tests name 127.0.0.1.
    """
    chosen = tuple(addresses)

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = host_addresses if chosen else _original_host_addresses


class SdpError(ValueError):
    """The offer cannot be answered (malformed, or no audio we can receive)."""


class _OutboundTrack(MediaStreamTrack):
    """Hands the mixer's encoded packets to aiortc's RTP sender, newest first."""

    kind = "audio"

    def __init__(self, depth: int = 3) -> None:
        super().__init__()
        self._queue: asyncio.Queue[av.Packet | None] = asyncio.Queue(maxsize=depth)

    def offer(self, packet: av.Packet) -> None:
        if self._queue.full():
            # The sender fell behind: drop the oldest rather than build delay.
            self._queue.get_nowait()
        self._queue.put_nowait(packet)

    async def recv(self) -> av.Packet:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            raise MediaStreamError
        return packet

    def stop(self) -> None:
        super().stop()
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)


class WebRtcPort:
    """The media side of one browser (or any WHIP client): frames in, packets out."""

    codec = "opus"

    def __init__(
        self,
        ice_servers: Sequence[RTCIceServer] = (),
        on_state: Callable[[str], None] | None = None,
    ) -> None:
        self._pc = RTCPeerConnection(RTCConfiguration(iceServers=list(ice_servers)))
        self._outbound = _OutboundTrack()
        self._buffer = PlayoutBuffer()
        self._decoder = OpusDecoder()
        self._concealer = Concealer()
        self._opus_types: frozenset[int] = frozenset()
        self._ssrc: int | None = None
        self._on_state = on_state
        self.connected = False
        self._pc.on("connectionstatechange", self._state_changed)

    @property
    def playout(self) -> PlayoutBuffer:
        return self._buffer

    async def answer(self, offer_sdp: str) -> str:
        """Accept a complete (non-trickle) SDP offer; returns the complete answer."""
        try:
            await self._pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        except Exception as exc:  # aiortc raises many kinds on bad SDP
            raise SdpError(f"the SDP offer cannot be used: {exc}") from exc
        audio = [
            t for t in self._pc.getTransceivers()
            if t.kind == "audio" and t.direction in ("sendrecv", "recvonly", "sendonly")
        ]
        if not audio:
            raise SdpError("the SDP offer has no audio stream")
        transceiver = audio[0]
        opus = [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.name == "opus"]
        transceiver.setCodecPreferences(opus)
        transceiver.sender.replaceTrack(self._outbound)
        transceiver.direction = "sendrecv"
        for other in audio[1:]:
            other.direction = "inactive"
        self._tap(transceiver.receiver)
        try:
            await self._pc.setLocalDescription(await self._pc.createAnswer())
        except Exception as exc:
            raise SdpError(f"no answer is possible for this offer: {exc}") from exc
        self._opus_types = frozenset(
            c.payloadType for c in transceiver._codecs if c.name.lower() == "opus"
        )
        if not self._opus_types:
            raise SdpError("the offer has no Opus codec")
        return self._pc.localDescription.sdp

    def _tap(self, receiver: object) -> None:
        """Route received RTP into our playout buffer instead of aiortc's."""

        async def handle_rtp(packet: object, arrival_time_ms: int = 0) -> None:
            self.push_rtp(
                packet.payload_type,  # type: ignore[attr-defined]
                packet.ssrc,  # type: ignore[attr-defined]
                packet.sequence_number,  # type: ignore[attr-defined]
                packet.payload,  # type: ignore[attr-defined]
            )

        original_receive = receiver.receive  # type: ignore[attr-defined]

        async def receive(parameters: object) -> None:
            await original_receive(parameters)
            # aiortc starts a decoder thread per track; we decode on the mixer clock.
            receiver._RTCRtpReceiver__stop_decoder()  # type: ignore[attr-defined]

        receiver._handle_rtp_packet = handle_rtp  # type: ignore[attr-defined]
        receiver.receive = receive  # type: ignore[attr-defined]

    def push_rtp(self, payload_type: int, ssrc: int, seq: int, payload: bytes) -> None:
        if payload_type not in self._opus_types or not payload:
            return
        if ssrc != self._ssrc:
            if self._ssrc is not None:
                self._buffer.reset()
            self._ssrc = ssrc
        self._buffer.push(seq, payload)

    def read_frame(self) -> Int16Array | None:
        """This tick's 20 ms of what the participant says, or None for silence."""
        kind, payload = self._buffer.pop()
        if kind is Pull.FRAME:
            assert payload is not None
            try:
                pcm = self._decoder.decode(payload)
            except (av.error.FFmpegError, ValueError):
                pcm = self._concealer.conceal()
            else:
                if pcm.shape[0] != FRAME_SAMPLES:
                    fitted = pcm[:FRAME_SAMPLES].copy()
                    fitted.resize(FRAME_SAMPLES, refcheck=False)
                    pcm = fitted
                self._concealer.good(pcm)
            return pcm
        if kind is Pull.LOST:
            return self._concealer.conceal()
        return None

    def new_encoder(self) -> Encoder:
        return OpusEncoder()

    def write(self, frame: EncodedFrame) -> None:
        if self.connected:
            self._outbound.offer(frame.av_packet())

    def _state_changed(self) -> None:
        state = self._pc.connectionState
        self.connected = state == "connected"
        if self._on_state is not None:
            self._on_state(state)

    async def close(self) -> None:
        self._outbound.stop()
        await self._pc.close()

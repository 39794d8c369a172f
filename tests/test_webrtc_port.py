"""What reaches the mixer from a WebRTC leg under loss, compared with aiortc's own buffer."""

from __future__ import annotations

import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket

from server.media.codecs import OpusEncoder
from server.media.mixer import FRAME_SAMPLES
from server.media.webrtc import SdpError, WebRtcPort

from .support.audio import sine, tone_level


def opus_stream(freq: float, frames: int) -> list[bytes]:
    encoder = OpusEncoder()
    pcm = sine(freq, frames * FRAME_SAMPLES / 48000, 0.4)
    return [encoder.encode(pcm[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES]) for i in range(frames)]


async def answered_port() -> tuple[WebRtcPort, int]:
    client = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    client.addTransceiver("audio", direction="sendrecv")
    await client.setLocalDescription(await client.createOffer())
    port = WebRtcPort()
    answer = await port.answer(client.localDescription.sdp)
    await client.close()
    opus_pt = next(
        int(line.split(":")[1].split()[0])
        for line in answer.splitlines()
        if line.startswith("a=rtpmap:") and "opus/48000" in line
    )
    return port, opus_pt


async def test_one_lost_packet_costs_one_concealed_frame_and_no_delay() -> None:
    port, pt = await answered_port()
    payloads = opus_stream(440, 60)
    lost = 30
    outputs: list[np.ndarray | None] = []
    # One packet arrives per tick (a steady sender); packet 30 never arrives.
    for seq, payload in enumerate(payloads):
        if seq != lost:
            port.push_rtp(pt, 1234, (65500 + seq) & 0xFFFF, payload)  # wraps at 65535
        outputs.append(port.read_frame())
    await port.close()
    started = next(i for i, o in enumerate(outputs) if o is not None)
    assert started == port.playout.target_depth - 1  # prefetch only
    # From then on every tick yields audio: nothing stalls, nothing is skipped.
    assert all(o is not None and o.shape == (FRAME_SAMPLES,) for o in outputs[started:])
    stats = port.playout.stats
    assert stats.concealed == 1 and stats.underruns == 0 and stats.dropped == 0
    # Delay stays at the prefetch depth after the loss: the last packet is still buffered.
    assert len(port.playout) == port.playout.target_depth - 1
    audio = np.concatenate([o for o in outputs[started + 5 :] if o is not None])
    assert tone_level(audio, 440) > -15


def test_aiortc_jitter_buffer_stalls_on_one_loss() -> None:
    """The behaviour we do not inherit (documented by measurement, aiortc 1.x)."""
    buffer = JitterBuffer(capacity=16, prefetch=4)
    emitted_at: list[int] = []
    for tick in range(60):
        if tick == 30:
            continue
        packet = RtpPacket(payload_type=111, sequence_number=tick, timestamp=tick * 960)
        packet.ssrc = 1
        packet._data = b"x"  # type: ignore[attr-defined]
        _, frame = buffer.add(packet)
        if frame is not None:
            emitted_at.append(tick)
    gaps = np.diff(emitted_at)
    # aiortc holds every frame after the hole until its 16-packet window overflows.
    assert gaps.max() * 20 >= 200


async def test_offers_without_usable_audio_are_refused() -> None:
    client = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    client.createDataChannel("chat")
    await client.setLocalDescription(await client.createOffer())
    port = WebRtcPort()
    try:
        await port.answer(client.localDescription.sdp)
    except SdpError as exc:
        assert "audio" in str(exc)
    else:
        raise AssertionError("an offer without audio was answered")
    finally:
        await port.close()
        await client.close()


async def test_garbage_payloads_and_foreign_payload_types_are_harmless() -> None:
    port, pt = await answered_port()
    good = opus_stream(440, 20)
    for seq in range(20):
        port.push_rtp(pt + 1, 9, seq, b"\x00" * 50)  # not Opus: ignored
        port.push_rtp(pt, 9, seq, good[seq] if seq % 2 else b"\xff" * 3)  # half garbage
        frame = port.read_frame()
        assert frame is None or frame.shape == (FRAME_SAMPLES,)
    await port.close()

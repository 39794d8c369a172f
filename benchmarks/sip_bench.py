"""(d) SIP: SIPp dial-in calls against one server process, ramped until it cannot keep up.

``python -m server.cli serve`` runs as a subprocess (ICE on 127.0.0.1, its SIP
gateway on a free port). For each step of the ramp, fresh conferences are
created over ``POST /api/v1/conferences`` and one SIPp process places every
call of the step at ``rate`` calls per second (``-r``): per conference first the
organiser (the moderator PIN: a conference mixes only once its organiser is
in), then N participants (the PIN). Every call is a PCMU call that types its PIN
in RFC 4733 and then streams G.711 RTP from one pcap (one SSRC): speech-like
audio for ``talkers`` callers of each conference, a quiet room for the others.
Two layouts: all N calls in ONE conference, and N calls spread over MANY
conferences. Per step:

- call set-up: SIPp's ``-r``; from the server's side how long until every call
  was in its conference (``set-up/s``), the most calls waiting at the PIN prompt
  at once, SIPp's INVITE->200 time, and the successful and failed calls from
  SIPp's statistics CSV (``-trace_stat -stf``) at the end of the step;
- the hold window, while every call is in: the server's CPU (utime + stime from
  /proc/<pid>/stat) per phone leg per 20 ms, the media clock's overruns from
  ``GET /api/v1/stats``, the share of the CPU spent inside the media tick (the
  rest is RTP receiving, SIP and the event loop), and SIPp's own CPU.

SIPp's RTP counters are not used (unreliable in this build); whether the calls'
audio arrives is checked by the server's talk detection (every talker must be
seen talking). N grows until overruns exceed 1% or a call fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import itertools
import os
import pstats
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from gateway.g711 import PCMU
from gateway.resample import Downsampler

from .common import (
    ARTIFACTS,
    TICK_US,
    Baseline,
    background_noise,
    machine_busy_jiffies,
    process_cpu_seconds,
    speech_like,
)
from .server_process import ServerProcess, free_port

#: the issue's reference for phone legs: Janus AudioBridge (C), CPU per leg per 20 ms tick
JANUS_US_PER_LEG = 30.0
SCENARIO = Path(__file__).resolve().parent / "scenarios" / "uac_dialin_load.xml"
#: the development dial-in number (geographic)
ACCESS_NUMBER = "+442079460001"
PERIOD = 0.020
PHONE_RATE = 8000
PACKET_CODES = 160  # 20 ms of G.711
TELEPHONE_EVENT_PT = 101
#: an RFC 4733 key press: this many 20 ms packets of tone, the end packet (3 times), a gap
DIGIT_PACKETS = 3
DIGIT_GAP = 0.06
#: silence before the first digit (organisers start earlier so they are in first)
PARTICIPANT_LEAD = 0.2
ORGANIZER_LEAD = 0.0
#: allowance for the joins beyond the ramp and the PIN itself (plus a share of the ramp)
JOIN_MARGIN = 1.5
SIPP_MEDIA_PORT = 40000
#: cores used by other jobs above which a step's overruns may not be the server's doing
OTHER_LOAD = 0.3


@dataclass
class Options:
    sizes: tuple[int, ...] = (50, 100, 200, 400, 500)
    #: conferences of the "many" layout (N is split evenly over them)
    conferences: int = 10
    layouts: tuple[str, ...] = ("one", "many")
    rate: float = 30.0  # SIPp -r, calls per second
    hold: float = 8.0
    settle: float = 1.5
    talkers: int = 3  # per conference
    server: str = "cli"  # "cli" or "instrumented" (benchmarks.serve)
    profile_at: int | None = None  # cProfile the server while this N is held
    #: sink the server's RTP to SIPp's unbound ports (else it bounces as ICMP, see RtpSinks)
    sinks: bool = True
    fail_overruns: float = 0.01
    budget: float = 300.0  # seconds for the whole part
    log_dir: Path = ARTIFACTS / "bench-logs" / "sip"


@dataclass
class Step:
    layout: str  # "one" or "many"
    conferences: int
    calls: int  # participants dialling in (N)
    legs: int  # phone legs called: N + one organiser per conference
    held: int  # legs in their conference during the hold (CPU per leg is per held leg)
    offered_rate: float  # SIPp -r
    setup_seconds: float  # SIPp start until every call was in its conference
    setup_rate: float  # calls let in per second, first to last (the server's joined_at)
    joined: int
    peak_unjoined: int  # calls at the PIN prompt at once (the gateway admits 100)
    invite_ms: float | None  # SIPp ResponseTime1(C): INVITE -> 200, mean
    #: from placing a call until it is in, beyond typing the PIN, later than the fastest
    #: call (whose delay includes SIPp loading its pcaps): median, 95th percentile, max
    join_delay_ms: tuple[float, float, float] | None
    #: server CPU per call set-up (INVITE .. in the conference, greeting included), beyond
    #: idling and carrying the legs it had meanwhile (at the hold's CPU per leg)
    server_ms_per_setup: float
    hold_seconds: float
    ticks: float
    server_cpu_seconds: float
    server_system_share: float
    server_core_percent: float
    server_us_per_tick: float
    server_us_per_leg: float
    ratio_to_opus_encode: float
    ratio_to_janus: float
    tick_us_per_leg: float  # inside the media tick (wall time of MediaClock's tick)
    outside_tick_us_per_leg: float  # the rest: RTP receive, SIP, HTTP, the event loop
    overrun_ratio: float
    skipped: int
    sipp_core_percent: float
    other_cores: float
    machine_busy_percent: float
    talking: int
    expected_talking: int
    legs_in_hold: int  # legs the server carried during the hold (lobby included)
    #: UDP datagrams to ports nobody listens on, per second, machine-wide (ICMP bounces)
    unreachable_per_second: float
    successful_calls: int = 0
    failed_calls: int = 0
    sipp_retransmissions: int = 0
    rejected_503: int = 0
    sipp_failures: dict[str, int] = field(default_factory=dict)
    sipp_exit: int | None = None
    profile: dict[str, float] | None = None
    #: repeated because other jobs took the CPU during this attempt
    retried: bool = False
    verdict: str = ""
    notes: list[str] = field(default_factory=list)


# -- RTP in a pcap ---------------------------------------------------------------------


class RtpStream:
    """One RTP stream (one SSRC) as SIPp's play_pcap_audio wants it: PCMU and RFC 4733."""

    def __init__(self, ssrc: int, telephone_event_pt: int = TELEPHONE_EVENT_PT) -> None:
        self.ssrc = ssrc
        self.te = telephone_event_pt
        self.seq = 1000
        self.ts = 0
        self.t_us = 0
        self.packets: list[tuple[int, bytes]] = []

    def _rtp(self, pt: int, marker: bool, payload: bytes) -> bytes:
        second = (0x80 if marker else 0) | pt
        header = struct.pack("!BBHII", 0x80, second, self.seq & 0xFFFF, self.ts, self.ssrc)
        return header + payload

    def audio(self, codes: bytes) -> RtpStream:
        for i in range(0, len(codes) - PACKET_CODES + 1, PACKET_CODES):
            marker = not self.packets
            self.packets.append((self.t_us, self._rtp(0, marker, codes[i : i + PACKET_CODES])))
            self.seq += 1
            self.ts = (self.ts + PACKET_CODES) & 0xFFFFFFFF
            self.t_us += 20_000
        return self

    def silence(self, seconds: float) -> RtpStream:
        return self.audio(PCMU.silence(int(seconds * PHONE_RATE)))

    def digits(self, keys: str) -> RtpStream:
        for key in keys:
            event = "0123456789*#ABCD".index(key)
            for n in range(1, DIGIT_PACKETS + 1):  # the tone, its duration growing
                payload = struct.pack("!BBH", event, 10, n * PACKET_CODES)
                self.packets.append((self.t_us, self._rtp(self.te, n == 1, payload)))
                self.seq += 1
                self.t_us += 20_000
            end = (DIGIT_PACKETS + 1) * PACKET_CODES
            for _ in range(3):  # the end packet, three times as phones do
                payload = struct.pack("!BBH", event, 0x80 | 10, end)
                self.packets.append((self.t_us, self._rtp(self.te, False, payload)))
                self.t_us += 1000
            self.seq += 1
            self.ts = (self.ts + end) & 0xFFFFFFFF
            self.t_us += 17_000
            self.silence(DIGIT_GAP)
        return self

    @property
    def seconds(self) -> float:
        return self.t_us / 1e6

    def write(self, path: Path) -> Path:
        loopback = b"\x7f\0\0\x01"
        parts = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
        for t_us, rtp in self.packets:
            udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
            ip = struct.pack(
                "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, loopback, loopback
            )
            frame = b"\0" * 12 + b"\x08\x00" + ip + udp
            parts.append(
                struct.pack("<IIII", t_us // 1_000_000, t_us % 1_000_000, len(frame), len(frame))
                + frame
            )
        path.write_bytes(b"".join(parts))
        return path


def pin_seconds(pin: str, lead: float) -> float:
    """From the pcap's start until the '#' after ``pin`` starts (a key counts at once)."""
    per_key = (DIGIT_PACKETS + 1) * PERIOD + round(DIGIT_GAP / PERIOD) * PERIOD
    return lead + len(pin) * per_key


@cache
def _source(kind: str, seed: int) -> bytes:
    """10 s of G.711 codes: speech-like audio (a talker) or a quiet room (a listener)."""
    rng = np.random.default_rng(seed)
    wide = speech_like(10.0, rng) if kind == "talk" else background_noise(10.0, rng)
    narrow = Downsampler(PHONE_RATE, legs=1).process(wide)
    return bytes(PCMU.encode(narrow).tobytes())


def _codes(kind: str, seed: int, seconds: float, shift: float = 0.0) -> bytes:
    """``seconds`` of a source, looped, starting ``shift`` seconds into it."""
    source = _source(kind, seed)
    start = int(shift * PHONE_RATE) % len(source)
    source = source[start:] + source[:start]
    wanted = max(0, int(seconds * PHONE_RATE) // PACKET_CODES * PACKET_CODES)
    return (source * (wanted // len(source) + 1))[:wanted]


# -- one step's SIPp files --------------------------------------------------------------


@dataclass(frozen=True)
class Timeline:
    """One step's schedule, in seconds from SIPp's start.

    Calls are placed at ``rate`` (organisers first); participants hang up
    together after the hold, spread over ``teardown``, and the organisers last
    (their leaving ends the conference).
    """

    legs: int
    rate: float
    ramp: float  # when the last call is placed
    hang_up: float  # when participants start hanging up
    teardown: float
    end: float  # when the organisers hang up

    @classmethod
    def plan(cls, legs: int, options: Options) -> Timeline:
        ramp = legs / options.rate
        typing = 0.2 + max(
            pin_seconds("0" * 8, PARTICIPANT_LEAD), pin_seconds("0" * 10, ORGANIZER_LEAD)
        )
        margin = JOIN_MARGIN + 0.1 * ramp
        hang_up = ramp + typing + margin + options.settle + options.hold + 0.5
        teardown = max(1.0, legs / (4 * options.rate))
        return cls(legs, options.rate, ramp, hang_up, teardown, hang_up + teardown + 1.0)

    def pause(self, call: int, participant: int | None, participants: int) -> float:
        """How long call number ``call`` (from 0) lasts after its ACK."""
        placed = call / self.rate
        if participant is None:
            return self.end - placed
        return self.hang_up + self.teardown * participant / max(1, participants) - placed


def write_step_files(
    folder: Path,
    conferences: Sequence[dict[str, Any]],
    calls: int,
    talkers: int,
    timeline: Timeline,
) -> tuple[int, int]:
    """Pcaps, the injection file and the scenario of one step; (legs, talkers in all)."""
    folder.mkdir(parents=True, exist_ok=True)
    pcaps: list[str] = []
    index_of: dict[tuple[int, str], int] = {}
    for k, conf in enumerate(conferences):
        kinds = [("organizer", conf["moderator_pin"], ORGANIZER_LEAD, "quiet", timeline.end)]
        kinds += [
            (f"talker{t}", conf["pin"], PARTICIPANT_LEAD, "talk", timeline.hang_up)
            for t in range(talkers)
        ]
        kinds.append(("listener", conf["pin"], PARTICIPANT_LEAD, "quiet", timeline.hang_up))
        for voice, (role, pin, lead, sound, until) in enumerate(kinds):
            stream = RtpStream(0x5EED0000 + len(pcaps)).silence(lead).digits(pin + "#")
            # A few distinct voices, each conference starting them elsewhere
            stream.audio(_codes(sound, voice, until + 0.5 - stream.seconds, shift=1.3 * k))
            name = f"c{k}-{role}.pcap"
            stream.write(folder / name)
            index_of[(k, role)] = len(pcaps)
            pcaps.append(name)
    rows = [
        (index_of[(k, "organizer")], timeline.pause(k, None, calls))
        for k in range(len(conferences))
    ]
    talking = 0
    for j in range(calls):
        k = j % len(conferences)
        nth = j // len(conferences)
        role = f"talker{nth}" if nth < talkers else "listener"
        talking += nth < talkers
        rows.append((index_of[(k, role)], timeline.pause(len(rows), j, calls)))
    lines = "".join(f"{branch};{round(pause * 1000)};\n" for branch, pause in rows)
    (folder / "calls.csv").write_text("SEQUENTIAL\n" + lines)
    (folder / "scenario.xml").write_text(scenario_xml(pcaps))
    return len(rows), talking


def scenario_xml(pcaps: Sequence[str]) -> str:
    """The scenario template with one branch per pcap (field0), each pausing field1 ms."""
    tests = "\n".join(
        f'    <test assign_to="b{i}" variable="k" compare="equal" value="{i}"/>'
        for i in range(len(pcaps))
    )
    jumps = "\n".join(f'  <nop next="p{i}" test="b{i}"/>' for i in range(len(pcaps)))
    branches = "\n".join(
        f'  <label id="p{i}"/>\n'
        f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
        f'  <pause variable="hold" next="bye"/>'
        for i, pcap in enumerate(pcaps)
    )
    block = (
        "<nop><action>\n"
        '    <assignstr assign_to="which" value="[field0]"/>\n'
        '    <todouble assign_to="k" variable="which"/>\n'
        '    <assignstr assign_to="ms" value="[field1]"/>\n'
        '    <todouble assign_to="hold" variable="ms"/>\n'
        f"{tests}\n"
        "  </action></nop>\n"
        f"{jumps}\n"
        f"{branches}"
    )
    return SCENARIO.read_text().replace("<!-- BRANCHES -->", block)


# -- SIPp's statistics --------------------------------------------------------------------


def read_sipp_stats(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


def _sipp_duration_ms(text: str) -> float | None:
    """SIPp's ``HH:MM:SS:uuuuuu``, in ms."""
    try:
        h, m, s, us = (int(v) for v in text.split(":"))
    except ValueError:
        return None
    return ((h * 60 + m) * 60 + s) * 1000 + us / 1000


def sipp_start(rows: Sequence[dict[str, str]]) -> float | None:
    """SIPp's start, seconds since the epoch (``StartTime`` is "date<TAB>time<TAB>epoch")."""
    try:
        return float(rows[0]["StartTime"].split("\t")[-1])
    except (IndexError, KeyError, ValueError):
        return None


def rejected_503(folder: Path) -> int:
    """Calls the server turned away with 503 (SIPp logs them as unexpected messages)."""
    count = 0
    for log in folder.glob("*_errors.log"):
        with log.open(errors="replace") as f:
            count += sum("received 'SIP/2.0 503" in line for line in f)
    return count


def join_delays(
    joined_at: dict[str, float], start: float, rate: float, organizers: int
) -> list[float]:
    """Seconds from each call's placing until it was in, beyond typing its PIN.

    SIPp places call number k (from 1) at ``start + (k - 1) / rate``. What is left
    is INVITE/200/ACK, the pcap's start and the server's PIN check and admission.
    """
    delays = []
    for name, at in joined_at.items():
        if not name.startswith("call") or not name[4:].isdigit():
            continue
        index = int(name[4:]) - 1
        typing = (
            pin_seconds("0" * 10, ORGANIZER_LEAD)
            if index < organizers
            else pin_seconds("0" * 8, PARTICIPANT_LEAD)
        )
        delays.append(at - start - index / rate - typing)
    return delays


def _int(row: dict[str, str], name: str) -> int:
    try:
        return int(row.get(name) or 0)
    except ValueError:
        return 0


FAILURE_COLUMNS = (
    "FailedCallRejected",
    "FailedUnexpectedMessage",
    "FailedMaxUDPRetrans",
    "FailedTimeoutOnRecv",
    "FailedCannotSendMessage",
    "FailedCmdNotSent",
    "FailedOutboundCongestion",
)


# -- the callers' side of the server's RTP -------------------------------------------------------


class RtpSinks:
    """UDP sockets where SIPp's calls would receive RTP, never read.

    SIPp binds only its first media port (-mp, and -mp + 2); calls use -mp + 4 * n
    ([auto_media_port]) and the server sends each call's RTP there. Without a
    socket, every packet on loopback comes back as an ICMP port unreachable, built
    and delivered within the server's own ``sendto``: CPU a real network would not
    charge it. A bound socket with a tiny, full receive buffer drops them cheaply.
    """

    def __init__(self, legs: int, first: int = SIPP_MEDIA_PORT) -> None:
        self.sockets: list[socket.socket] = []
        self.missing = 0
        for n in range(1, legs):
            sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
            try:
                sink.bind(("127.0.0.1", first + 4 * n))
            except OSError:
                sink.close()
                self.missing += 1
                continue
            self.sockets.append(sink)

    def close(self) -> None:
        for sink in self.sockets:
            sink.close()
        self.sockets.clear()


def udp_counters() -> dict[str, int]:
    """The kernel's UDP counters (/proc/net/snmp): NoPorts, RcvbufErrors, ..."""
    lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines()]
    rows = [line for line in lines if line and line[0] == "Udp:"]
    if len(rows) < 2:
        return {}
    return {name: int(value) for name, value in zip(rows[0][1:], rows[1][1:], strict=False)}


# -- the server ------------------------------------------------------------------------------


def _free_sip_port() -> int:
    """A port free for both UDP and TCP (the gateway listens on both)."""
    for _ in range(50):
        port = free_port(socket.SOCK_DGRAM)
        with socket.socket() as tcp:
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port for SIP")


class SipServer(ServerProcess):
    """``telekonf serve`` with its SIP gateway on a free port (ICE on loopback)."""

    def __init__(self, kind: str, log_dir: Path) -> None:
        self.sip_port = _free_sip_port()
        super().__init__(
            kind, log_dir, prefix="telekonf-sip-bench-",
            args=("--sip-port", str(self.sip_port)),
            env={"TELEKONF_ICE_ADDRESSES": "127.0.0.1", "OPENBLAS_NUM_THREADS": "1"},
        )


async def _get_json(http: aiohttp.ClientSession, url: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with http.get(url, headers=headers) as response:
            if response.status != 200:
                return None
            return await response.json()
    except (aiohttp.ClientError, ValueError):
        return None


async def _stats(http: aiohttp.ClientSession, server: SipServer) -> dict[str, Any]:
    body = await _get_json(http, f"{server.url}/api/v1/stats")
    if not isinstance(body, dict) or not isinstance(body.get("clock"), dict):
        raise RuntimeError("GET /api/v1/stats did not answer")
    return body


@dataclass
class Presence:
    joined: int = 0
    talking: int = 0
    #: when each caller got in (seconds since the epoch), by name ("call<SIPp call number>")
    joined_at: dict[str, float] = field(default_factory=dict)

    def join_rate(self) -> float | None:
        """Calls let in per second, from the first to the last one in."""
        if len(self.joined_at) < 2:
            return None
        span = max(self.joined_at.values()) - min(self.joined_at.values())
        return (len(self.joined_at) - 1) / span if span > 0 else None


async def _presence(
    http: aiohttp.ClientSession, server: SipServer, conferences: Sequence[dict[str, Any]]
) -> Presence:
    """Phone callers in their conferences now, and how many of them talk."""
    views = await asyncio.gather(
        *(
            _get_json(http, f"{server.url}/api/v1/conferences/{c['id']}", c["organizer_token"])
            for c in conferences
        )
    )
    seen = Presence()
    for view in views:
        for p in (view or {}).get("participants", []):
            if p.get("joined_at") and not p.get("left_at"):
                seen.joined += 1
                seen.talking += bool(p.get("talking"))
                stamp = p["joined_at"].replace("Z", "+00:00")
                seen.joined_at[str(p.get("name"))] = datetime.fromisoformat(stamp).timestamp()
    return seen


async def _create_conferences(
    http: aiohttp.ClientSession, server: SipServer, count: int, title: str
) -> list[dict[str, Any]]:
    made = []
    for i in range(count):
        body = {
            "title": f"{title} {i}",
            "organizer": {"name": "Bench", "email": "bench@example.org"},
        }
        async with http.post(f"{server.url}/api/v1/conferences", json=body) as response:
            if response.status != 201:
                raise RuntimeError(f"cannot create a conference: {await response.text()}")
            made.append(await response.json())
    return made


# -- the ramp ---------------------------------------------------------------------------------


def check_tools() -> str:
    """The SIPp binary; raises when the part cannot run here."""
    sipp = shutil.which("sipp")
    if sipp is None:
        raise RuntimeError("sipp is not installed (apt-get install sip-tester)")
    if os.geteuid() != 0:
        raise RuntimeError("SIPp's pcap play needs root (raw sockets)")
    return sipp


async def run(
    baseline: Baseline, options: Options, say: Callable[[str], None] = print
) -> dict[str, Any]:
    """Both layouts' ramps on one server; returns every step, a summary per layout, notes."""
    sipp = check_tools()
    began = time.monotonic()
    options.log_dir.mkdir(parents=True, exist_ok=True)
    server = SipServer(options.server, options.log_dir)
    steps: list[Step] = []
    notes: list[str] = []
    profiles: dict[str, str] = {}
    try:
        async with aiohttp.ClientSession() as http:
            await server.ready(http)
            await server.measure_idle()
            for layout in options.layouts:
                say(f"  {layout}: " + _layout_text(layout, options))
            deadline = began + options.budget
            stopped: set[str] = set()
            # The layouts take turns at each N, so that the budget cuts both at the same N.
            for n in options.sizes:
                for layout in options.layouts:
                    if layout in stopped:
                        continue
                    count = _conference_count(layout, n, options)
                    step: Step | None = None
                    retried = False
                    while True:
                        estimate = Timeline.plan(n + count, options).end + 3
                        if steps and time.monotonic() + estimate > deadline:
                            notes.append(
                                f"{layout}: stopped before N={n}: time budget "
                                f"({options.budget:.0f} s for the part)"
                            )
                            step = None
                            break
                        step, profile = await _step(
                            http, server, sipp, layout, n, count, options, baseline
                        )
                        if profile:
                            profiles[f"{layout}-{n}"] = profile
                        steps.append(step)
                        say(format_step(step))
                        # Overruns while other jobs took the CPU may not be the server's
                        # doing: once more before the ramp stops.
                        if step.verdict != "overruns" or step.other_cores <= OTHER_LOAD:
                            break
                        if retried:
                            break
                        retried = True
                        step.retried = True
                    if step is None or step.verdict != "real time":
                        stopped.add(layout)
                if stopped >= set(options.layouts):
                    break
    finally:
        server.stop()
    summaries = {
        layout: summarize([s for s in steps if s.layout == layout], baseline)
        for layout in options.layouts
    }
    return {
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()},
        "server_idle_core": server.idle_core,
        "reference": {
            "janus_audiobridge_us_per_leg": JANUS_US_PER_LEG,
            "janus_legs_per_core": TICK_US / JANUS_US_PER_LEG,
        },
        "steps": [asdict(s) for s in steps],
        "summary": summaries,
        "notes": notes,
        "profiles": profiles,
        "seconds": time.monotonic() - began,
    }


def _layout_text(layout: str, options: Options) -> str:
    where = (
        "every call in ONE conference"
        if layout == "one"
        else f"calls spread over {options.conferences} conferences"
    )
    return (
        f"{where}, plus one organiser per conference (moderator PIN); "
        f"{options.talkers} talkers per conference, SIPp -r {options.rate:g}, "
        f"each N held {options.hold:g} s"
    )


def _conference_count(layout: str, n: int, options: Options) -> int:
    return 1 if layout == "one" else max(1, min(options.conferences, n))


async def _step(
    http: aiohttp.ClientSession,
    server: SipServer,
    sipp: str,
    layout: str,
    n: int,
    count: int,
    options: Options,
    baseline: Baseline,
) -> tuple[Step, str]:
    conferences = await _create_conferences(http, server, count, f"SIP {layout} {n}")
    folder = options.log_dir / f"{layout}-{n}"
    shutil.rmtree(folder, ignore_errors=True)
    plan = Timeline.plan(n + count, options)
    legs, expected_talking = await asyncio.to_thread(
        write_step_files, folder, conferences, n, options.talkers, plan
    )
    profiling = options.profile_at == n and options.server == "instrumented"
    notes: list[str] = []

    sinks = RtpSinks(legs) if options.sinks else None
    log = (folder / "sipp.log").open("wb")
    argv = [
        sipp,
        f"127.0.0.1:{server.sip_port}",
        "-sf",
        "scenario.xml",
        "-inf",
        "calls.csv",
        "-s",
        ACCESS_NUMBER,
        "-i",
        "127.0.0.1",
        "-p",
        str(free_port(socket.SOCK_DGRAM)),
        "-mi",
        "127.0.0.1",
        "-mp",
        str(SIPP_MEDIA_PORT),
        "-r",
        f"{options.rate:g}",
        "-rp",
        "1000",
        "-l",
        str(legs),
        "-m",
        str(legs),
        "-recv_timeout",
        "20000",
        "-timeout",
        f"{int(plan.end + 30)}s",
        "-trace_stat",
        "-stf",
        "stat.csv",
        "-fd",
        "1",
        "-trace_err",
        "-nostdin",
    ]
    (folder / "command.txt").write_text(" ".join(argv) + "\n")
    cpu_start = sum(server.cpu())
    t_start = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=folder, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        # -- set-up: until every call is in its conference ------------------------------
        join_deadline = t_start + plan.hang_up - options.hold - options.settle - 0.5
        peak_unjoined = 0
        legs_seen: list[tuple[float, int]] = [(t_start, 0)]  # (when, legs in the server)
        presence = Presence()
        all_in: float | None = None
        # The conference views cost the server some CPU (more with more participants):
        # twice a second, as long as not every call has been answered.
        while time.monotonic() < join_deadline and process.returncode is None:
            stats = await _stats(http, server)
            presence = await _presence(http, server, conferences)
            peak_unjoined = max(peak_unjoined, int(stats["legs"]) - presence.joined)
            legs_seen.append((time.monotonic(), int(stats["legs"])))
            if presence.joined >= legs:
                all_in = time.monotonic()
                break
            await asyncio.sleep(0.5)
        cpu_joined = sum(server.cpu())
        t_joined = time.monotonic()
        setup_seconds = (all_in or t_joined) - t_start
        profile_text = ""
        profile_split: dict[str, float] | None = None
        if all_in is None:
            notes.append(f"only {presence.joined} of {legs} calls got in")

        # -- the hold window ---------------------------------------------------------------
        await asyncio.sleep(options.settle)
        hold = min(options.hold, t_start + plan.hang_up - time.monotonic() - 0.3)
        if hold < options.hold:
            notes.append(f"hold cut to {max(hold, 0):.1f} s (slow set-up)")
        hold = max(hold, 1.0)
        if profiling:
            await _profile_start(http, server)
        stats0 = await _stats(http, server)
        user0, system0 = server.cpu()
        sipp0 = sum(process_cpu_seconds(process.pid)) if process.returncode is None else 0.0
        own0 = sum(process_cpu_seconds(os.getpid()))
        busy0, total0 = machine_busy_jiffies()
        udp0 = udp_counters()
        wall0 = time.monotonic()
        await asyncio.sleep(hold)
        wall = time.monotonic() - wall0
        udp1 = udp_counters()
        busy1, total1 = machine_busy_jiffies()
        user1, system1 = server.cpu()
        sipp1 = sum(process_cpu_seconds(process.pid)) if process.returncode is None else sipp0
        own1 = sum(process_cpu_seconds(os.getpid()))
        stats1 = await _stats(http, server)
        if profiling:
            name = f"sip-server-profile-{layout}-{n}"
            text, profile_split = await _profile_stop(
                http, server, name, HOLD_GROUPS, wall / PERIOD * legs, 1e6, "µs per leg per tick"
            )
            profile_text += text
        after = await _presence(http, server, conferences)
        if after.joined < presence.joined:
            notes.append(f"{presence.joined - after.joined} calls left during the hold")

        # -- tear-down: SIPp hangs up every call and exits ----------------------------------
        wait = t_start + plan.end + 20 - time.monotonic()
        try:
            await asyncio.wait_for(process.wait(), max(5.0, wait))
        except TimeoutError:
            notes.append("SIPp did not finish: killed")
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        log.close()
        if sinks is not None:
            sinks.close()

    rows = read_sipp_stats(folder / "stat.csv")
    last = rows[-1] if rows else {}
    started = sipp_start(rows)
    delays = (
        join_delays(presence.joined_at, started, options.rate, count) if started is not None else []
    )
    c0, c1 = stats0["clock"], stats1["clock"]
    ticks = max(1.0, float(c1["ticks"] - c0["ticks"]))
    cpu = (user1 - user0) + (system1 - system0)
    us_per_tick = cpu / (wall / PERIOD) * 1e6
    held = max(1, min(legs, after.joined))  # calls turned away cost no media
    per_leg = us_per_tick / held
    tick_us = (c1["busy_seconds"] - c0["busy_seconds"]) / ticks * 1e6
    machine_cores = (busy1 - busy0) / max(1, total1 - total0) * (os.cpu_count() or 1)
    others = machine_cores - (cpu + (sipp1 - sipp0) + (own1 - own0)) / wall
    hold_core = cpu / wall
    # The set-up's own CPU: what the server used meanwhile beyond idling and carrying the
    # legs it had (the hold's CPU per leg, times the legs seen while polling).
    per_leg_core = max(0.0, hold_core - server.idle_core) / held
    legs_seen.append((t_joined, legs_seen[-1][1]))
    leg_seconds = sum(
        (t1 - t0) * (n0 + n1) / 2 for (t0, n0), (t1, n1) in itertools.pairwise(legs_seen)
    )
    carrying = server.idle_core * (t_joined - t_start) + per_leg_core * leg_seconds
    setup_cpu = max(0.0, cpu_joined - cpu_start - carrying)
    if profiling:  # the profiler inflates the hold's CPU per leg: no estimate
        setup_cpu = float("nan")
        notes.append("profiled: cProfile inflates the server's CPU")
    failures = {name: _int(last, f"{name}(C)") for name in FAILURE_COLUMNS}
    step = Step(
        layout=layout,
        conferences=count,
        calls=n,
        legs=legs,
        held=held,
        offered_rate=options.rate,
        setup_seconds=setup_seconds,
        setup_rate=presence.join_rate() or 0.0,
        joined=presence.joined,
        peak_unjoined=peak_unjoined,
        invite_ms=_sipp_duration_ms(last.get("ResponseTime1(C)", "")),
        join_delay_ms=_percentiles(delays),
        server_ms_per_setup=setup_cpu / max(1, presence.joined) * 1000,
        hold_seconds=wall,
        ticks=ticks,
        server_cpu_seconds=cpu,
        server_system_share=(system1 - system0) / cpu if cpu else 0.0,
        server_core_percent=100 * hold_core,
        server_us_per_tick=us_per_tick,
        server_us_per_leg=per_leg,
        ratio_to_opus_encode=per_leg / baseline.us,
        ratio_to_janus=per_leg / JANUS_US_PER_LEG,
        tick_us_per_leg=tick_us / held,
        outside_tick_us_per_leg=max(0.0, us_per_tick - tick_us) / held,
        overrun_ratio=(c1["overruns"] - c0["overruns"]) / ticks,
        skipped=int(c1["skipped"] - c0["skipped"]),
        sipp_core_percent=100 * (sipp1 - sipp0) / wall,
        other_cores=max(0.0, others),
        machine_busy_percent=100 * (busy1 - busy0) / max(1, total1 - total0),
        talking=after.talking,
        expected_talking=expected_talking,
        legs_in_hold=int(stats1.get("legs", -1)),
        unreachable_per_second=(udp1.get("NoPorts", 0) - udp0.get("NoPorts", 0)) / wall,
        successful_calls=_int(last, "SuccessfulCall(C)"),
        failed_calls=_int(last, "FailedCall(C)"),
        sipp_retransmissions=_int(last, "Retransmissions(C)"),
        rejected_503=rejected_503(folder),
        sipp_failures={k: v for k, v in failures.items() if v},
        sipp_exit=process.returncode,
        profile=profile_split,
        notes=notes,
    )
    step.verdict = _verdict(step, options)
    return step, profile_text


def _percentiles(values: Sequence[float]) -> tuple[float, float, float] | None:
    """Median, 95th percentile and maximum, in ms, of how much later than the fastest."""
    if not values:
        return None
    later = (np.asarray(values) - min(values)) * 1000
    p50, p95 = np.percentile(later, [50, 95])
    return float(p50), float(p95), float(later.max())


def _verdict(step: Step, options: Options) -> str:
    if step.rejected_503:
        step.notes.append(
            f"{step.rejected_503} calls rejected with 503 (the gateway takes 500 calls, "
            "100 of them at the PIN prompt)"
        )
    if step.failed_calls:
        step.notes.append(
            f"{step.failed_calls} calls failed ("
            + ", ".join(f"{k} {v}" for k, v in step.sipp_failures.items())
            + ")"
        )
    if step.successful_calls + step.failed_calls < step.legs:
        step.notes.append(f"SIPp finished {step.successful_calls + step.failed_calls} calls")
    if step.talking < step.expected_talking:
        step.notes.append(f"{step.talking} of {step.expected_talking} talkers heard")
    if step.legs_in_hold > step.held:
        step.notes.append(f"{step.legs_in_hold - step.held} more legs than calls held")
    if step.skipped:
        step.notes.append(f"{step.skipped} ticks skipped")
    if step.unreachable_per_second > 10 * step.legs:
        step.notes.append(f"{step.unreachable_per_second:.0f} UDP datagrams/s to closed ports")
    if step.other_cores > OTHER_LOAD:
        step.notes.append(f"other jobs used {step.other_cores:.1f} cores")
    if step.machine_busy_percent > 95:
        step.notes.append("machine saturated")
    if step.server_core_percent > 90:
        step.notes.append("server saturated")
    if step.failed_calls or step.joined < step.legs or step.successful_calls < step.legs:
        return "fails"
    if step.overrun_ratio > options.fail_overruns:
        return "overruns"
    return "real time"


def summarize(steps: Sequence[Step], baseline: Baseline) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    steps = [s for s in steps if not s.retried]  # a repeated attempt counts once: the last
    sustained: Step | None = None  # every step up to this N in real time
    for s in steps:
        if s.verdict != "real time":
            break
        sustained = s
    summary["real_time_calls"] = sustained.calls if sustained else 0
    summary["real_time_legs"] = sustained.legs if sustained else 0
    summary["first_failing_calls"] = next(
        (s.calls for s in steps if s.verdict != "real time"), None
    )
    if sustained is not None:
        summary["us_per_leg_at_max"] = sustained.server_us_per_leg
        summary["ratio_to_opus_encode_at_max"] = sustained.ratio_to_opus_encode
        summary["ratio_to_janus_at_max"] = sustained.ratio_to_janus
        summary["legs_per_core_at_max"] = TICK_US / sustained.server_us_per_leg
    if steps:
        summary["failed_calls"] = sum(s.failed_calls for s in steps)
        summary["successful_calls"] = sum(s.successful_calls for s in steps)
    steps = [s for s in steps if s.profile is None] or steps  # cProfile inflates CPU
    fit = [s for s in steps if s.joined >= s.legs and s.server_core_percent < 90]
    if len(fit) >= 2:
        x = np.array([s.held for s in fit], dtype=np.float64)
        y = np.array([s.server_us_per_tick for s in fit], dtype=np.float64)
        slope, intercept = (float(v) for v in np.polyfit(x, y, 1))
        summary["marginal_us_per_leg"] = slope
        summary["fixed_us_per_tick"] = intercept
        summary["marginal_ratio_to_opus_encode"] = slope / baseline.us
        summary["marginal_ratio_to_janus"] = slope / JANUS_US_PER_LEG
        summary["legs_per_core_marginal"] = (TICK_US - intercept) / slope if slope > 0 else None
    if steps:
        good = [s for s in steps if s.joined >= s.legs] or list(steps)
        summary["median_us_per_leg"] = float(np.median([s.server_us_per_leg for s in good]))
        summary["median_tick_us_per_leg"] = float(np.median([s.tick_us_per_leg for s in good]))
        summary["median_outside_tick_us_per_leg"] = float(
            np.median([s.outside_tick_us_per_leg for s in good])
        )
        summary["median_setup_rate"] = float(np.median([s.setup_rate for s in steps]))
        setups = [s.server_ms_per_setup for s in good if not np.isnan(s.server_ms_per_setup)]
        summary["median_server_ms_per_setup"] = float(np.median(setups)) if setups else None
        summary["median_sipp_core_percent"] = float(np.median([s.sipp_core_percent for s in good]))
    return summary


# -- the server's profile --------------------------------------------------------------------

#: where the server's loop thread spends its CPU, by functions whose cumulative time counts
#: (label, file name, function); "~" are built-ins, counted by their own time
HOLD_GROUPS: tuple[tuple[str, str, str], ...] = (
    ("media tick", "engine.py", "tick"),
    ("socket reads (RTP, SIP) + PhonePort.receive", "selector_events.py", "_read_ready"),
    ("  of which PhonePort.receive", "media.py", "receive"),
    ("SIP in (parse, transactions, dialogs)", "transport.py", "datagram_received"),
    ("SIP timers", "ua.py", "handle_timers"),
    ("epoll", "~", "<method 'poll' of 'select.epoll' objects>"),
)


async def _profile_start(http: aiohttp.ClientSession, server: SipServer) -> None:
    async with http.post(f"{server.url}/_bench/profile/start") as response:
        if response.status != 200:
            raise RuntimeError("profiling needs --server instrumented")


async def _profile_stop(
    http: aiohttp.ClientSession,
    server: SipServer,
    name: str,
    groups: Sequence[tuple[str, str, str]],
    per: float,
    scale: float,
    unit: str,
) -> tuple[str, dict[str, float]]:
    path = ARTIFACTS / f"{name}.prof"
    async with http.post(f"{server.url}/_bench/profile/stop", params={"path": str(path)}):
        pass
    text, split = await asyncio.to_thread(profile_summary, path, groups, per, scale, unit)
    (ARTIFACTS / f"{name}.txt").write_text(text)
    return f"{name}.txt\n{text}", split


def profile_summary(
    path: Path,
    groups: Sequence[tuple[str, str, str]],
    per: float,
    scale: float,
    unit: str,
    lines: int = 30,
) -> tuple[str, dict[str, float]]:
    """The usual pstats listings, and CPU ``scale / per`` by group (e.g. µs per leg per tick)."""
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    # (primitive calls, calls, own time, cumulative time, callers)
    total = sum(entry[2] for entry in raw.values())
    split: dict[str, float] = {"total (loop thread)": total / per * scale}
    for label, filename, function in groups:
        seconds = 0.0
        for (file, _, name), entry in raw.items():
            if name == function and Path(file).name == filename:
                seconds += entry[2] if filename == "~" else entry[3]
        split[label.strip()] = seconds / per * scale
    out.write(f"CPU of the server's loop thread, {unit} (cProfile's overhead included):\n")
    for (label, _, _), value in zip(groups, list(split.values())[1:], strict=True):
        out.write(f"  {label:<48} {value:9.2f}\n")
    out.write(f"  {'total':<48} {split['total (loop thread)']:9.2f}\n\n")
    stats.sort_stats("tottime").print_stats(lines)
    stats.sort_stats("cumulative").print_stats(lines)
    return out.getvalue(), split


# -- output -----------------------------------------------------------------------------------

HEADERS = [
    "N",
    "confs",
    "legs",
    "-r",
    "set-up/s",
    "at PIN",
    "INVITE→200",
    "in after PIN",
    "ms/set-up",
    "ok/failed",
    "server",
    "kernel",
    "µs/leg/tick",
    "÷ 1 encode",
    "÷ Janus",
    "in tick",
    "outside",
    "overruns",
    "talking",
    "SIPp",
    "others",
    "verdict",
]


def step_row(s: Step) -> list[object]:
    return [
        s.calls,
        s.conferences,
        s.legs if s.held == s.legs else f"{s.held} of {s.legs}",
        f"{s.offered_rate:g}",
        f"{s.setup_rate:.1f}",
        s.peak_unjoined,
        "-" if s.invite_ms is None else f"{s.invite_ms:.0f} ms",
        "-" if s.join_delay_ms is None else "{:.0f}/{:.0f}/{:.0f} ms".format(*s.join_delay_ms),
        "-" if np.isnan(s.server_ms_per_setup) else f"{s.server_ms_per_setup:.1f}",
        f"{s.successful_calls}/{s.failed_calls}",
        f"{s.server_core_percent / 100:.2f} core",
        f"{100 * s.server_system_share:.0f}%",
        s.server_us_per_leg,
        f"{s.ratio_to_opus_encode:.2f}x",
        f"{s.ratio_to_janus:.2f}x",
        s.tick_us_per_leg,
        s.outside_tick_us_per_leg,
        f"{100 * s.overrun_ratio:.2f}%",
        f"{s.talking}/{s.expected_talking}",
        f"{s.sipp_core_percent / 100:.2f} core",
        f"{s.other_cores:.2f} core",
        s.verdict + ("" if not s.notes else " (" + "; ".join(s.notes) + ")"),
    ]


def format_step(s: Step) -> str:
    text = f"    {s.layout}: " + ", ".join(
        f"{h}={v:.1f}" if isinstance(v, float) else f"{h}={v}"
        for h, v in zip(HEADERS, step_row(s), strict=True)
    )
    if s.profile:
        text += "\n      profile (µs/leg/tick): " + ", ".join(
            f"{k} {v:.1f}" for k, v in s.profile.items()
        )
    return text

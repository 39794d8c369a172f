"""``python -m benchmarks``: run the benchmarks, print tables, write artifacts/benchmarks.json."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from . import engine_bench, mixer_bench, sip_bench, webrtc_bench
from .common import (
    ARTIFACTS,
    REFERENCE_US_PER_PARTICIPANT,
    TICK_US,
    Baseline,
    machine_info,
    measure_baseline,
    table,
)


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v.strip())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Telekonf benchmarks; every figure also as a ratio to one Opus encode.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run of under a minute (small N, short holds)"
    )
    parser.add_argument(
        "--parts",
        default="a,b,c,d",
        help="which parts: a (mixer core), b (engine), c (WebRTC), d (SIP) [a,b,c,d]",
    )
    parser.add_argument(
        "--repetitions",
        type=int,
        default=None,
        help="repetitions of each in-process measurement [7; quick 5]",
    )
    parser.add_argument("--talkers", type=int, default=3, help="talkers per conference [3]")
    parser.add_argument(
        "--mixer-sizes",
        type=_ints,
        default=(10, 100, 1000),
        help="participants for (a) [10,100,1000]",
    )
    parser.add_argument(
        "--sizes",
        type=_ints,
        default=None,
        help="participants for (c), ramped in this order "
        "[10,20,40,60,80,100,120,140,160; quick 4,8]",
    )
    parser.add_argument(
        "--hold", type=float, default=None, help="seconds each N is held in (c) [10; quick 3]"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=None,
        help="seconds after joining before measuring [2.5; quick 2]",
    )
    parser.add_argument(
        "--loadgens", type=int, default=None, help="load-generator processes for (c) [2; quick 1]"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help="seconds allowed for (c) before the ramp stops [270; quick 30]",
    )
    parser.add_argument(
        "--fail-overruns", type=float, default=0.05, help="overrun ratio at which (c) stops [0.05]"
    )
    parser.add_argument(
        "--server",
        choices=("cli", "instrumented"),
        default="cli",
        help="cli: python -m server.cli serve; instrumented: the same app "
        "plus /_bench/stats and profiling routes (benchmarks.serve)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the engine tick in (b) (artifacts/profile-engine.prof)",
    )
    parser.add_argument(
        "--profile-at",
        type=int,
        default=None,
        help="cProfile the server process while N is held (needs --server instrumented)",
    )
    parser.add_argument(
        "--sip-sizes",
        type=_ints,
        default=None,
        help="dial-in calls for (d), ramped in this order [50,100,200,400,500; quick 10]",
    )
    parser.add_argument(
        "--sip-conferences",
        type=int,
        default=None,
        help="conferences of (d)'s 'many' layout [10; quick 2]",
    )
    parser.add_argument(
        "--sip-layouts",
        default="one,many",
        help="(d)'s layouts: one (every call in one conference), many [one,many]",
    )
    parser.add_argument(
        "--sip-rate", type=float, default=None, help="SIPp call rate (-r) in (d) [30; quick 20]"
    )
    parser.add_argument(
        "--sip-hold", type=float, default=None, help="seconds each N is held in (d) [8; quick 3]"
    )
    parser.add_argument(
        "--sip-budget",
        type=float,
        default=None,
        help="seconds allowed for (d) before its ramps stop [300; quick 35]",
    )
    parser.add_argument(
        "--sip-no-sinks",
        action="store_true",
        help="in (d), let the server's RTP to SIPp's unbound ports bounce as ICMP "
        "(a loopback artefact charged to the server's sendto) instead of sinking it",
    )
    parser.add_argument(
        "--sip-profile-at",
        type=int,
        default=None,
        help="cProfile the server while N calls are held in (d) (needs --server instrumented)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ARTIFACTS / "benchmarks.json",
        help="where to write the results [artifacts/benchmarks.json]",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    if args.repetitions is None:
        args.repetitions = 5 if quick else 7
    if args.sizes is None:
        args.sizes = (4, 8) if quick else (10, 20, 40, 60, 80, 100, 120, 140, 160)
    if args.hold is None:
        args.hold = 3.0 if quick else 10.0
    if args.settle is None:
        args.settle = 2.0 if quick else 2.5
    if args.loadgens is None:
        args.loadgens = 1 if quick else 2
    if args.budget is None:
        args.budget = 30.0 if quick else 270.0
    if args.sip_sizes is None:
        args.sip_sizes = (10,) if quick else (50, 100, 200, 400, 500)
    if args.sip_conferences is None:
        args.sip_conferences = 2 if quick else 10
    if args.sip_rate is None:
        args.sip_rate = 20.0 if quick else 30.0
    if args.sip_hold is None:
        args.sip_hold = 3.0 if quick else 8.0
    if args.sip_budget is None:
        args.sip_budget = 35.0 if quick else 300.0
    if args.profile_at is not None and args.server != "instrumented":
        parser.error("--profile-at needs --server instrumented")
    if args.sip_profile_at is not None and args.server != "instrumented":
        parser.error("--sip-profile-at needs --server instrumented")
    args.sip_layouts = tuple(p.strip() for p in args.sip_layouts.split(",") if p.strip())
    if not args.sip_layouts or not set(args.sip_layouts) <= {"one", "many"}:
        parser.error("--sip-layouts takes one and many")
    args.parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if not args.parts <= {"a", "b", "c", "d"}:
        parser.error("--parts takes a, b, c and d")
    return args


def say(text: str = "") -> None:
    print(text, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    quick = args.quick
    reps = args.repetitions
    results: dict[str, Any] = {
        "machine": machine_info(),
        "quick": quick,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([Path(sys.executable).name, "-m", "benchmarks", *sys.argv[1:]]),
    }

    say(
        f"Telekonf benchmarks ({'quick' if quick else 'full'}) on {results['machine']['cpu']}, "
        f"{results['machine']['cores']} cores"
    )
    say("All CPU times are medians of repeated runs; ratios are to the baseline below.\n")

    baseline = measure_baseline(reps, 200 if quick else 500)
    results["baseline"] = {
        "what": "OpusEncoder.encode of one 20 ms mono 48 kHz frame (32 kb/s, voip, "
        "speech-like input), CPU time in this process",
        "opus_encode_us": baseline.encode.as_dict(),
        "opus_decode_us": baseline.decode.as_dict(),
    }
    say(
        f"Baseline: one Opus encode (20 ms, mono, 48 kHz) = {baseline.us:.1f} µs "
        f"(±{100 * baseline.encode.spread():.0f}%, {reps} runs); "
        f"one decode = {baseline.decode.median:.1f} µs "
        f"({baseline.decode.median / baseline.us:.2f}x)\n"
    )

    if "a" in args.parts:
        _mixer(args, baseline, results)
    if "b" in args.parts:
        _engine(args, baseline, results)
    status = 0
    if "c" in args.parts:
        try:
            _webrtc(args, baseline, results)
        except Exception as exc:  # keep (a) and (b), say what went wrong with (c)
            results["webrtc"] = {"error": f"{type(exc).__name__}: {exc}"}
            say(f"(c) failed: {type(exc).__name__}: {exc} (logs: {ARTIFACTS / 'bench-logs'})")
            status = 1
    if "d" in args.parts:
        try:
            _sip(args, baseline, results)
        except Exception as exc:  # keep the other parts, say what went wrong with (d)
            results["sip"] = {"error": f"{type(exc).__name__}: {exc}"}
            say(f"(d) failed: {type(exc).__name__}: {exc} (logs: {ARTIFACTS / 'bench-logs/sip'})")
            status = 1

    results["seconds"] = time.monotonic() - began
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, allow_nan=True) + "\n")
    say(f"\nWrote {args.out} ({results['seconds']:.0f} s in all).")
    return status


def _mixer(args: argparse.Namespace, baseline: Baseline, results: dict[str, Any]) -> None:
    say(
        f"(a) Mixer core per tick: frame_levels + talk detection + choose_contributors + mix "
        f"(max_speakers={mixer_bench.MAX_SPEAKERS})"
    )
    cases = mixer_bench.run(
        baseline,
        args.mixer_sizes,
        args.talkers,
        args.repetitions,
        seconds_per_run=0.03 if args.quick else 0.15,
    )
    say(table(mixer_bench.HEADERS, mixer_bench.rows(cases, baseline)))
    say()
    results["mixer"] = [c.as_dict(baseline) for c in cases]


def _engine(args: argparse.Namespace, baseline: Baseline, results: dict[str, Any]) -> None:
    say(
        "(b) Engine tick with fake ports (no network): read_frame + levels + talk + mix + "
        "encode per stream + write"
    )
    say(
        "    input: pcm = pre-decoded frame; decode = OpusDecoder each tick; "
        "playout = PlayoutBuffer + decode (as WebRtcPort)"
    )
    profile_to = ARTIFACTS / "profile-engine.prof" if args.profile else None
    layouts = ((1, 10), (1, 100)) if args.quick else ((1, 10), (1, 100), (10, 10))
    cases, profile = engine_bench.run(
        baseline,
        layouts,
        args.talkers,
        args.repetitions,
        seconds_per_run=0.05 if args.quick else 0.25,
        profile_to=profile_to,
    )
    say(table(engine_bench.HEADERS, engine_bench.rows(cases, baseline)))
    tones = engine_bench.run_tones((10, 100), args.talkers, args.repetitions)
    say(
        "\n    A join: the entry tone (non-exclusive prompt) laid over what every other leg "
        "hears (pcm input)"
    )
    say(table(engine_bench.TONE_HEADERS, engine_bench.tone_rows(tones, baseline)))
    results["engine_entry_tone"] = [t.as_dict(baseline) for t in tones]
    if profile:
        say(f"\ncProfile of the engine tick (100 legs, playout input), {profile_to}:")
        say(profile)
    say()
    results["engine"] = [c.as_dict(baseline) for c in cases]


def _webrtc(args: argparse.Namespace, baseline: Baseline, results: dict[str, Any]) -> None:
    options = webrtc_bench.Options(
        sizes=args.sizes,
        hold=args.hold,
        settle=args.settle,
        loadgens=args.loadgens,
        talkers=args.talkers,
        server=args.server,
        profile_at=args.profile_at,
        fail_overruns=args.fail_overruns,
        budget=args.budget,
    )
    say(
        f"(c) Real WebRTC participants on one server process ({args.server}); "
        f"{options.loadgens} load-generator process(es), {options.talkers} talkers, "
        f"each N held {options.hold:.0f} s"
    )
    outcome = asyncio.run(webrtc_bench.run(baseline, options, say=say))
    steps = [
        webrtc_bench.Step(**{k: v for k, v in s.items() if k != "overrun_ratio"})
        for s in outcome["steps"]
    ]
    say()
    say(table(webrtc_bench.HEADERS, [webrtc_bench.step_row(s) for s in steps]))
    say(
        f"overruns from: {outcome['stats_source']}; 'client est.' = ticks that reached every "
        "client > 20 ms late"
    )
    for note in outcome["notes"]:
        say(f"note: {note}")
    summary = outcome["summary"]
    say()
    if args.quick:
        say("(quick run: small N and short holds; the figures below are indicative only)")
    say(
        f"Server CPU per participant per tick (reference, aiortc defaults: "
        f"{REFERENCE_US_PER_PARTICIPANT:.0f} µs = {TICK_US / REFERENCE_US_PER_PARTICIPANT:.1f} "
        "per core):"
    )
    if "marginal_us_per_participant" in summary:
        say(
            f"  marginal (fit over N): {summary['marginal_us_per_participant']:.0f} µs "
            f"= {summary['marginal_ratio_to_opus_encode']:.2f}x one encode, "
            f"fixed {summary['fixed_us_per_tick']:.0f} µs/tick; "
            f"{summary['speedup_vs_reference']:.1f}x less than the reference; "
            f"~{summary['participants_per_core_marginal']:.0f} participants per core"
        )
    if "loadgen_us_per_participant" in summary:
        say(
            f"  load generators (not the server): {summary['loadgen_us_per_participant']:.0f} µs "
            "per participant per tick"
        )
        joins = summary["server_ms_per_join"]
        say(
            "  server CPU per join (HTTP join, WHIP, ICE, DTLS, entry tone), by N: "
            + ", ".join(f"{n}: {ms:.0f} ms" for n, ms in joins.items())
        )
    if "us_per_participant_at_max" in summary:
        say(
            f"  real time (overruns < 1% at this N and every smaller one, server < 95% of a "
            f"core) up to N={summary['sustained_real_time_participants']}: "
            f"{summary['us_per_participant_at_max']:.0f} µs per participant "
            f"= {summary['ratio_to_opus_encode_at_max']:.2f}x one encode "
            f"(largest N with < 1% at all: {summary['max_real_time_participants']})"
        )
    else:
        say("  no N stayed under 1% overruns")
    if outcome["profile"]:
        say(
            f"\nServer profile at N={args.profile_at}: artifacts/server-profile-"
            f"{args.profile_at}.txt"
        )
    results["webrtc"] = outcome


def _sip(args: argparse.Namespace, baseline: Baseline, results: dict[str, Any]) -> None:
    options = sip_bench.Options(
        sizes=args.sip_sizes,
        conferences=args.sip_conferences,
        layouts=args.sip_layouts,
        rate=args.sip_rate,
        hold=args.sip_hold,
        settle=1.0 if args.quick else 1.5,
        talkers=args.talkers,
        server=args.server,
        profile_at=args.sip_profile_at,
        sinks=not args.sip_no_sinks,
        budget=args.sip_budget,
    )
    say(
        f"(d) SIP: SIPp dial-in calls (PCMU, PIN in RFC 4733, then G.711 RTP) on one server "
        f"process ({args.server}); N ramped until overruns > "
        f"{100 * options.fail_overruns:.0f}% or a call fails"
    )
    outcome = asyncio.run(sip_bench.run(baseline, options, say=say))
    steps = [sip_bench.Step(**s) for s in outcome["steps"]]
    steps.sort(key=lambda s: options.layouts.index(s.layout))  # stable: by N within each
    say()
    say(table(sip_bench.HEADERS, [sip_bench.step_row(s) for s in steps]))
    say(
        "set-up/s: calls let into their conference per second (first to last); at PIN: most "
        "calls at the PIN prompt at once (the gateway admits 100);\nin after PIN: from placing "
        "a call until it is in, beyond typing the PIN, later than the fastest call "
        "(median/95%/max);\nms/set-up: server CPU per call set-up (approx.; includes the "
        "greeting, played to each caller alone);\n"
        "µs/leg/tick: server CPU per phone leg (participants + organisers) per 20 ms; in tick / "
        "outside: inside the media tick (wall) / the rest (RTP receive, SIP, event loop)"
    )
    for note in outcome["notes"]:
        say(f"note: {note}")
    say()
    if args.quick:
        say("(quick run: small N and short holds; the figures below are indicative only)")
    reference = sip_bench.JANUS_US_PER_LEG
    say(
        f"Server CPU per phone leg per tick (reference: Janus AudioBridge, C, about "
        f"{reference:.0f} µs = {TICK_US / reference:.0f} legs per core):"
    )
    for layout, summary in outcome["summary"].items():
        if not summary:
            continue
        line = f"  {layout}: "
        if summary.get("real_time_calls"):
            line += (
                f"real time (overruns <= 1%, no failed call) up to N={summary['real_time_calls']} "
                f"calls ({summary['real_time_legs']} legs): "
                f"{summary['us_per_leg_at_max']:.0f} µs per leg "
                f"= {summary['ratio_to_opus_encode_at_max']:.2f}x one encode "
                f"= {summary['ratio_to_janus_at_max']:.1f}x Janus; "
                f"~{summary['legs_per_core_at_max']:.0f} legs per core"
            )
        else:
            line += "no N in real time"
        if summary.get("first_failing_calls"):
            line += f"; fails at N={summary['first_failing_calls']}"
        say(line)
        if "marginal_us_per_leg" in summary:
            say(
                f"    marginal (fit over N): {summary['marginal_us_per_leg']:.0f} µs per leg "
                f"= {summary['marginal_ratio_to_opus_encode']:.2f}x one encode "
                f"= {summary['marginal_ratio_to_janus']:.1f}x Janus, fixed "
                f"{summary['fixed_us_per_tick']:.0f} µs/tick"
            )
        if "median_us_per_leg" in summary:
            setup = summary["median_server_ms_per_setup"]
            say(
                f"    medians over N: {summary['median_us_per_leg']:.0f} µs per leg "
                f"({summary['median_tick_us_per_leg']:.0f} in the tick, "
                f"{summary['median_outside_tick_us_per_leg']:.0f} outside); set-up "
                f"{summary['median_setup_rate']:.1f} calls/s"
                + ("" if setup is None else f", {setup:.1f} ms server CPU per set-up")
                + f"; SIPp {summary['median_sipp_core_percent'] / 100:.2f} core; calls "
                f"{summary['successful_calls']} ok, {summary['failed_calls']} failed"
            )
    for name in outcome["profiles"]:
        say(f"\nServer profile ({name}): artifacts/sip-server-profile-{name}.txt")
    results["sip"] = outcome


if __name__ == "__main__":
    sys.exit(main())

"""Telekonf benchmarks: ``python -m benchmarks`` (or ``make bench``).

Three parts, every figure also given as a ratio to one Opus encode measured in
the same run (the baseline):

(a) ``mixer``  - the numeric core per tick (levels, talk detection, choice, mix);
(b) ``engine`` - the media engine's whole tick per leg, with fake ports;
(c) ``webrtc`` - real WebRTC participants against ``telekonf serve`` in a subprocess.
"""

"""A short fan-out regression check that CI can afford: ratios to the baseline, generous bounds.

    .venv/bin/python benchmarks/regression.py            # 15-30 s; exit status 1 on a regression

It runs ``fanout.py`` at one small socket count with short phases and checks our server against
the baseline measured in the same run. The bounds are deliberately loose (a shared CI machine
is noisy): they catch a hot path that got several times slower, sockets that stop receiving,
memory per socket that balloons, or Redis connections that grow with the sockets, not a few
percent; and a bound counts as broken only if it breaks in every attempt (two by default). It
is opt-in, not part of the test suite: the full measurement is ``fanout.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fanout


def check(report: dict, bounds: argparse.Namespace) -> list[str]:
    """The bounds *report* breaks, each as a sentence with the figures (empty: all kept)."""
    runs = {r["server"]: r for r in report["results"]}
    ours, base = runs["ours"], runs["baseline"]
    failures = []
    for phase in ("rate", "burst"):
        if ours[phase]["lost"]:
            failures.append(f"{phase} run lost {ours[phase]['lost']} of {ours[phase]['expected']} deliveries")
    ratio = ours["burst"]["deliveries_per_s"] / base["burst"]["deliveries_per_s"]
    if ratio < bounds.min_burst_ratio:
        failures.append(f"burst deliveries/s is {ratio:.2f}x the baseline's (bound: >= {bounds.min_burst_ratio})")
    memory = ours["idle_rss_per_socket_kib"] / max(base["idle_rss_per_socket_kib"], 1.0)
    if memory > bounds.max_memory_ratio:
        failures.append(f"idle memory per socket is {memory:.1f}x the baseline's (bound: <= {bounds.max_memory_ratio})")
    ours_p99, base_p99 = ours["rate"]["latency_ms"]["p99"], base["rate"]["latency_ms"]["p99"]
    if ours_p99 > bounds.max_p99_ratio * base_p99 + bounds.max_p99_delta_ms:
        failures.append(f"rate-run p99 latency is {ours_p99:.1f} ms against the baseline's {base_p99:.1f} ms "
                        f"(bound: {bounds.max_p99_ratio}x + {bounds.max_p99_delta_ms} ms)")
    peak = ours["redis_clients"]["peak"]
    if peak is None or peak > bounds.max_redis_connections:
        failures.append(f"the server held {peak} Redis connections (bound: {bounds.max_redis_connections})")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--min-burst-ratio", type=float, default=0.4, help="ours / baseline, burst deliveries/s")
    parser.add_argument("--max-memory-ratio", type=float, default=5.0, help="ours / baseline, idle RSS per socket")
    parser.add_argument("--max-p99-ratio", type=float, default=3.0, help="rate-run p99: ours <= this x baseline ...")
    parser.add_argument("--max-p99-delta-ms", type=float, default=50.0, help="... + this many ms")
    parser.add_argument("--attempts", type=int, default=2,
                        help="runs before a bound counts as broken: it must break in every one (noise)")
    parser.add_argument("--max-redis-connections", type=int, default=64, help="held by our server (not per socket)")
    bounds = parser.parse_args()
    for attempt in range(1, bounds.attempts + 1):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "regression.json"
            fanout.main(["--sockets", str(bounds.sockets), "--rate", "50", "--rate-seconds", "3",
                         "--burst-deliveries", "100000", "--json", str(out)])
            report = json.loads(out.read_text())
        failures = check(report, bounds)
        for failure in failures:
            print(f"{'REGRESSION' if attempt == bounds.attempts else 'out of bounds, measuring again'}: {failure}")
        if not failures:
            break
    print("fan-out regression check: " + ("FAILED" if failures else "passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

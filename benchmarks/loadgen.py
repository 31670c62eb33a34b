"""The load generator of ``fanout.py``: S WebSocket clients and the publisher in one epoll loop.

It is driven by ``fanout.py`` over stdin/stdout, one JSON object per line each way, and needs
nothing but the standard library. One process, one thread, one ``select.epoll``: no greenlet,
task or thread per socket, so a single core can hold 10,000 sockets and still count hundreds of
thousands of deliveries a second.

Why the frames are never parsed one by one: every message the benchmark publishes has a
100-byte payload, so every frame a server sends is exactly ``FRAME`` (102) bytes, and nothing
else reaches the sockets (the servers send no heartbeats, and their pings are pushed beyond the
run). A socket's k-th delivery therefore ends at byte ``k * FRAME``, and counting bytes is
counting deliveries. The payload still carries the message index and its send time; during the
rate run the index of every frame received whole in one read is checked against the count, and
any disagreement is reported (``misplaced``), so the byte counting cannot silently go wrong.

The publisher is a raw RESP connection to Redis inside the same loop, so a message's send time
and its deliveries are read from the same clock (``time.monotonic``) in the same process.
"""

from __future__ import annotations

import json
import resource
import select
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clients import OPEN, ClientSockets

FRAME = 102  # 2-byte header + 100-byte payload: a server text frame of one benchmark message
PAYLOAD = FRAME - 2
SYNC_INDEX = -1  # index carried by the messages that line the sockets up between phases


def payload(index: int, sent_at: float) -> bytes:
    """The 100 bytes of message *index*: its number and send time, then padding."""
    text = b"%010d %.6f " % (index, sent_at)
    return text + b"." * (PAYLOAD - len(text))


def resp_publish(channel: bytes, data: bytes) -> bytes:
    """A ``PUBLISH channel data`` command in RESP, built by hand: no client library in this loop."""
    return b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(channel), channel, len(data), data)


def percentile(ordered: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class LoadGenerator(ClientSockets):
    """S client sockets, one Redis publisher connection, and the phases that measure them."""

    def __init__(self, redis_host: str, redis_port: int, channel: str) -> None:
        super().__init__()
        self.channel = channel.encode()
        self.redis = socket.create_connection((redis_host, redis_port), timeout=10)
        self.redis.sendall(b"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$15\r\nbench-publisher\r\n")
        self._expect_redis(b"+OK\r\n")
        self.redis.setblocking(False)
        self.redis_fd = self.redis.fileno()
        self.epoll.register(self.redis_fd, select.EPOLLIN)
        self.replies = 0  # PUBLISH replies read (one per message)
        self.receivers = 0  # sum of their receiver counts
        self._redis_tail = b""

    def _expect_redis(self, reply: bytes) -> None:
        got = self.redis.recv(64)
        if got != reply:
            raise RuntimeError(f"unexpected Redis reply {got!r}")

    # -- connecting ------------------------------------------------------------------------------


    def _publish(self, index: int) -> float:
        sent_at = time.monotonic()
        self._send_redis(resp_publish(self.channel, payload(index, sent_at)))
        return sent_at

    def _send_redis(self, data: bytes) -> None:
        self.redis.setblocking(True)  # Redis reads fast; replies pile up in our buffer meanwhile
        try:
            self.redis.sendall(data)
        finally:
            self.redis.setblocking(False)

    def on_other(self, fd: int) -> None:
        self._read_redis()

    def _read_redis(self) -> None:
        try:
            data = self.redis.recv(65536)
        except BlockingIOError:
            return
        if not data:
            raise RuntimeError("Redis closed the publisher connection")
        # Replies are ":<receivers>\r\n"; a read may end mid-reply, so carry the tail over.
        data = self._redis_tail + data
        lines = data.split(b"\r\n")
        self._redis_tail = lines.pop()
        for line in lines:
            self.replies += 1
            self.receivers += int(line[1:])

    # -- phases ----------------------------------------------------------------------------------

    def sync(self, timeout: float, quiet: float = 0.3, most: int = 20) -> dict:
        """Line every socket up on a frame boundary: publish until each got one, then wait for quiet.

        At most *most* sync messages are published (one every 50 ms): a server that cannot get
        one to every socket must not be buried under a backlog that spills into the next phase.
        """
        started = time.monotonic()
        deadline = started + timeout
        fds = self.open_fds()
        mark = {fd: self.total[fd] for fd in fds}
        waiting = set(fds)
        next_publish, published = started, 0
        while waiting and time.monotonic() < deadline:
            now = time.monotonic()
            if now >= next_publish:
                if published < most:
                    self._publish(SYNC_INDEX)
                    published += 1
                next_publish = now + 0.05
            for fd, _ in self.epoll.poll(max(0.0, next_publish - time.monotonic())):
                if fd == self.redis_fd:
                    self._read_redis()
                elif self.state[fd] == OPEN:
                    self.read_open(fd, self.socks[fd])
                    if self.total[fd] > mark[fd]:
                        waiting.discard(fd)
                else:
                    self.read_handshake(fd, self.socks[fd])
        last_byte = time.monotonic()
        while time.monotonic() - last_byte < quiet and time.monotonic() < deadline + quiet:
            for fd, _ in self.epoll.poll(quiet):
                if fd == self.redis_fd:
                    self._read_redis()
                    continue
                if self.state[fd] == OPEN and self.read_open(fd, self.socks[fd]):
                    last_byte = time.monotonic()
        misaligned = 0
        for fd in self.open_fds():
            if self.total[fd] % FRAME:
                misaligned += 1
            self.base[fd] = self.total[fd]
        return {"unsynced": len(waiting), "misaligned": misaligned, "open": self.open_count,
                "published": published, "seconds": time.monotonic() - started}

    def rate(self, messages: int, per_second: float, drain: float) -> dict:
        """Publish *messages* at a fixed rate; latency of every delivery, from its send time."""
        fds = self.open_fds()
        target = {fd: self.base[fd] + messages * FRAME for fd in fds}
        remaining = len(fds)
        sent: list[float] = []
        latencies: list[float] = []
        misplaced = checked = 0
        cpu0, replies0 = _cpu(), self.replies
        started = time.monotonic()
        deadline = started + messages / per_second + drain
        buffer, total, base, state, socks = self.buffer, self.total, self.base, self.state, self.socks
        while remaining and time.monotonic() < deadline:
            if len(sent) < messages:
                due = started + len(sent) / per_second
                if time.monotonic() >= due:
                    sent.append(self._publish(len(sent)))
                    continue
                wait = max(0.0, due - time.monotonic())
            else:
                wait = 0.2
            for fd, _ in self.epoll.poll(wait):
                if fd == self.redis_fd:
                    self._read_redis()
                    continue
                if state[fd] != OPEN:
                    continue
                before = total[fd] - base[fd]
                n = self.read_open(fd, socks[fd])
                now = time.monotonic()
                if not n:
                    if fd in target:
                        del target[fd]
                        remaining -= 1
                    continue
                after = before + n
                first, last = before // FRAME, after // FRAME
                for k in range(first, min(last, len(sent))):
                    latencies.append(now - sent[k])
                    offset = k * FRAME - before  # where frame k starts in this read
                    if offset >= 0:
                        checked += 1
                        if int(buffer[offset + 2:offset + 12]) != k:
                            misplaced += 1
                if fd in target and total[fd] >= target[fd]:
                    del target[fd]
                    remaining -= 1
        received = sum(min(self.total[fd], self.base[fd] + messages * FRAME) - self.base[fd] for fd in fds
                       if fd in self.socks) // FRAME
        latencies.sort()
        return {
            "sockets": len(fds), "messages": messages, "published": len(sent), "rate": per_second,
            "expected": len(fds) * messages, "received": received, "lost": len(fds) * messages - received,
            "latency_ms": {name: None if value is None else value * 1000 for name, value in (
                ("p50", percentile(latencies, 0.50)), ("p99", percentile(latencies, 0.99)),
                ("max", latencies[-1] if latencies else None))},
            "checked": checked, "misplaced": misplaced, "timed_out": remaining > 0,
            "redis_replies": self.replies - replies0, "loadgen_cpu_s": _cpu() - cpu0,
            "seconds": time.monotonic() - started,
        }

    def burst(self, messages: int, timeout: float) -> dict:
        """Publish *messages* at once; deliveries/s up to the moment the last socket has them all."""
        fds = self.open_fds()
        target = {fd: self.base[fd] + messages * FRAME for fd in fds}
        remaining = len(fds)
        cpu0, replies0 = _cpu(), self.replies
        blob = b"".join(resp_publish(self.channel, payload(i, 0.0)) for i in range(messages))
        started = last = time.monotonic()
        deadline = started + timeout
        self._send_redis(blob)
        total, state, socks = self.total, self.state, self.socks
        while remaining and time.monotonic() < deadline:
            for fd, _ in self.epoll.poll(0.2, 4096):
                if fd == self.redis_fd:
                    self._read_redis()
                    continue
                if state[fd] != OPEN:
                    continue
                n = self.read_open(fd, socks[fd])
                if fd in target and (not n or total[fd] >= target[fd]):
                    del target[fd]
                    remaining -= 1
                    last = time.monotonic()
        received = sum(min(self.total[fd], self.base[fd] + messages * FRAME) - self.base[fd] for fd in fds
                       if fd in self.socks) // FRAME
        seconds = last - started
        return {
            "sockets": len(fds), "messages": messages, "expected": len(fds) * messages,
            "received": received, "lost": len(fds) * messages - received, "timed_out": remaining > 0,
            "seconds": seconds, "deliveries_per_s": received / seconds if seconds > 0 else None,
            "redis_replies": self.replies - replies0, "loadgen_cpu_s": _cpu() - cpu0,
        }

    def close(self) -> dict:
        """Close every socket; the counts say how many the server had closed on its own."""
        for fd in list(self.socks):
            self.drop(fd)
        self.redis.close()
        return {"closed_by_server": self.closed_by_server, "receivers": self.receivers, "replies": self.replies}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    generator = LoadGenerator(sys.argv[1], int(sys.argv[2]), sys.argv[3])
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        name = command.pop("cmd")
        if name == "quit":
            print(json.dumps(generator.close()), flush=True)
            return
        result = getattr(generator, name)(**command)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

"""Real subprocesses for the server, CLI, embedded-Redis and shutdown tests, always bounded in time.

``Process`` starts a command with its output collected line by line in the background, so a test
can wait (with a timeout) for a line such as "serving ... at http://127.0.0.1:PORT/", and it is
always killed at the end of the test even when an assertion fails.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

WAIT = 10.0  # starting a Python process that imports gevent, redis and an app takes a moment
VENV_BIN = Path(sys.executable).parent
WSREDIS = str(VENV_BIN / "wsredis")
URL_PATTERN = re.compile(r"http://127\.0\.0\.1:(\d+)/")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a child: no Redis configured unless the test says so."""
    env = {k: v for k, v in os.environ.items() if k not in ("WS4REDIS_CONNECTION", "REDIS_URL")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class Process:
    """A child process whose stdout and stderr lines are collected by background readers."""

    def __init__(self, args: Sequence[str], *, cwd: str | Path | None = None, env: dict[str, str] | None = None,
                 stdin: Any = subprocess.DEVNULL, new_session: bool = False) -> None:
        self.args = list(args)
        self._own_group = new_session  # then kill() takes the children (gunicorn's workers) too
        self.popen = subprocess.Popen(
            self.args, cwd=cwd, env=env if env is not None else clean_env(), stdin=stdin,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=new_session,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.popen.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._read, args=(self.popen.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: IO[str], lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))
        stream.close()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return "\n".join(["--- stdout", *self.stdout, "--- stderr", *self.stderr])

    def wait_for_line(self, pattern: str | re.Pattern[str], timeout: float = WAIT, *, nth: int = 1) -> re.Match[str]:
        """The *nth* line (stdout or stderr) matching *pattern*; fails after *timeout* seconds."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            exited = self.popen.poll() is not None and not any(r.is_alive() for r in self._readers)
            matches = [m for m in map(regex.search, self.stdout + self.stderr) if m]
            if len(matches) >= nth:
                return matches[nth - 1]
            if exited:
                raise AssertionError(f"process exited ({self.popen.returncode}) before printing "
                                     f"{regex.pattern!r}\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no line matching {regex.pattern!r} within {timeout:g} s\n{self.output()}")
            time.sleep(0.02)

    def wait_for_url(self, timeout: float = WAIT) -> str:
        """The http://127.0.0.1:PORT/ the process printed (servers bound to port 0 print the real one)."""
        return self.wait_for_line(URL_PATTERN, timeout).group(0)

    def signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def wait(self, timeout: float = WAIT) -> int:
        """Exit code; fails the test (and kills the process) if it does not exit within *timeout*."""
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.args[:3]} did not exit within {timeout:g} s\n{self.output()}") from None
        for reader in self._readers:
            reader.join(WAIT)
        return code

    def kill(self) -> None:
        """SIGKILL the process (its whole group when it has its own session) and reap it."""
        if self._own_group:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        elif self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=WAIT)
        for reader in self._readers:
            reader.join(WAIT)
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream is not None and not stream.closed:
                stream.close()


def run(args: Sequence[str], *, timeout: float = WAIT, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command to completion with a bound; output captured as text."""
    kwargs.setdefault("env", clean_env())
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, check=False, **kwargs)


@contextmanager
def running(args: Sequence[str], **kwargs: Any) -> Iterator[Process]:
    """A :class:`Process` that is killed when the block ends, whatever happens in it."""
    process = Process(args, **kwargs)
    try:
        yield process
    finally:
        process.kill()


def is_alive(pid: int) -> bool:
    """True while *pid* runs (a zombie counts as gone: it no longer serves anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_until(predicate: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    """Poll *predicate* until it returns something truthy; fail after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)
    return value


def wait_gone(pid: int, timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while is_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True

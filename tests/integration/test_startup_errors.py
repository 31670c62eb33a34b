"""Mistakes a user can make at start-up fail at once, with a message that names the fix.

Each case builds the middleware the way a user would and checks the words of the error: a
message that only says "invalid" would leave the user to read our source.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from wsredis_middleware import ConfigurationError, WebSocketRedisMiddleware

from ..conftest import WAIT, hello_app


def test_missing_monkey_patching_is_refused(tmp_path, redis_url):
    """Without monkey.patch_all() the server refuses to start, and WebSocket requests get the fix.

    Building the middleware itself is allowed (framework commands and publish-only workers
    import the application), so the check sits where the harm would be: serving.
    """
    script = tmp_path / "unpatched.py"
    script.write_text(textwrap.dedent(f"""
        import json, logging
        from wsredis_middleware import ConfigurationError, WebSocketRedisMiddleware
        from wsredis_middleware.server import make_server

        errors = []

        class Collect(logging.Handler):
            def emit(self, record):
                errors.append(record.getMessage())

        logging.getLogger("wsredis_middleware").addHandler(Collect(logging.ERROR))

        def app(environ, start_response):
            start_response("200 OK", [])
            return [b""]

        application = WebSocketRedisMiddleware(app, connection={redis_url!r})
        try:
            make_server(application, "127.0.0.1", 0)
        except ConfigurationError as exc:
            refused = str(exc)
        else:
            refused = None
        answers = []
        for _ in range(2):
            environ = {{
                "REQUEST_METHOD": "GET", "PATH_INFO": "/ws/foo", "QUERY_STRING": "subscribe-broadcast",
                "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_UPGRADE": "websocket", "HTTP_CONNECTION": "Upgrade",
                "HTTP_SEC_WEBSOCKET_KEY": "dGhlIHNhbXBsZSBub25jZQ==", "HTTP_SEC_WEBSOCKET_VERSION": "13",
            }}
            status = []
            body = b"".join(application(environ, lambda s, h: status.append(s)))
            answers.append([status[0], body.decode()])
        print(json.dumps({{"refused": refused, "answers": answers, "errors": errors}}))
    """))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=WAIT * 4)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    refused = outcome["refused"]
    assert refused is not None, "make_server() started in an unpatched process"
    assert refused.startswith("gevent monkey-patching is missing")
    assert "monkey.patch_all()" in refused and "before the application is imported" in refused
    for status, body in outcome["answers"]:
        assert status == "500 Internal Server Error"
        assert "monkey.patch_all()" in body
    assert len(outcome["errors"]) == 1 and "monkey.patch_all()" in outcome["errors"][0]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        pytest.param({"resolver": "nope.nothing"}, ["WS4REDIS_RESOLVER", "'nope.nothing'", "'nope'", "does not import"],
                     id="resolver-module-missing"),
        pytest.param({"resolver": "wsredis_middleware.resolvers.no_such_resolver"},
                     ["WS4REDIS_RESOLVER", "has no 'no_such_resolver'"], id="resolver-attribute-missing"),
        pytest.param({"allowed_channels": "nope.allow"}, ["WS4REDIS_ALLOWED_CHANNELS", "does not import"],
                     id="allowed-channels-module-missing"),
        pytest.param({"subscriber": "nope.Subscriber"}, ["WS4REDIS_SUBSCRIBER", "does not import"],
                     id="subscriber-module-missing"),
        pytest.param({"process_request": "nothing"}, ["WS4REDIS_PROCESS_REQUEST", "dotted path"],
                     id="process-request-not-dotted"),
        pytest.param({"connection": "http://127.0.0.1:6379/0"},
                     ["WS4REDIS_CONNECTION", "'http'", "redis://", "rediss://", "unix://"], id="url-bad-scheme"),
        pytest.param({"connection": "redis://127.0.0.1:notaport/0"},
                     ["WS4REDIS_CONNECTION", "malformed", "integer", "'notaport'"], id="url-port-not-integer"),
        pytest.param({"connection": {"hots": "127.0.0.1"}}, ["unknown key(s) hots", "allowed keys are", "host"],
                     id="dict-unknown-key"),
        pytest.param({"connection": {"host": "127.0.0.1", "port": "sixty"}},
                     ["WS4REDIS_CONNECTION['port'] must be an integer", "'sixty'"], id="dict-port-not-integer"),
        pytest.param({"connection": 6379}, ["WS4REDIS_CONNECTION must be a redis:// URL or a dict", "int"],
                     id="connection-wrong-type"),
    ],
)
def test_bad_setting_names_the_fix(settings, expected):
    with pytest.raises(ConfigurationError) as caught:
        WebSocketRedisMiddleware(hello_app, **settings)
    message = str(caught.value)
    missing = [words for words in expected if words not in message]
    assert not missing, f"{message!r} lacks {missing}"


def test_password_in_a_bad_url_is_not_echoed():
    """The error for a wrong scheme repeats the URL for context, but never its password."""
    with pytest.raises(ConfigurationError) as caught:
        WebSocketRedisMiddleware(hello_app, connection="http://user:s3cret@127.0.0.1:6379/0")
    assert "s3cret" not in str(caught.value)
    assert "***" in str(caught.value)

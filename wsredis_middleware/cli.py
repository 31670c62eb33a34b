"""The ``wsredis`` command: serve an application, publish and listen from a shell, run the demo.

    wsredis serve myproject.wsgi:application --bind 127.0.0.1:8000 --redis redis://127.0.0.1:6379/0
    wsredis publish chat "Hello from cron" --broadcast --expire 0
    wsredis listen chat --broadcast --user john
    wsredis demo

Where Redis is: ``--redis URL``, else the environment variable ``WS4REDIS_CONNECTION`` (the
setting's name everywhere else), else ``redis://127.0.0.1:6379/0``. ``demo`` starts an embedded
Redis when none is configured or the configured one cannot be reached.

Exit codes: 0 success, 1 a runtime failure (Redis unreachable, address in use), 2 a usage error
(bad arguments, an application that does not import). User errors print one line, no traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import ConnectionSettings

__all__ = ["ENV_CONNECTION", "CommandError", "main"]

#: The one environment variable the command reads: where Redis is.
ENV_CONNECTION = "WS4REDIS_CONNECTION"
DEFAULT_BIND = "127.0.0.1:8000"
EXIT_FAILURE, EXIT_USAGE = 1, 2
_BIND = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]]*))(?::(?P<port>\d{1,5}))?$")


class CommandError(Exception):
    """A user error: printed as ``wsredis: error: ...`` with its exit code, no traceback."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


# -- shared helpers ----------------------------------------------------------------------------

def parse_bind(value: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPv6]:PORT``, ``:PORT`` or ``PORT`` -> (host, port); loopback by default."""
    if value.isdigit():
        value = f":{value}"
    match = _BIND.match(value.strip())
    if match is None or (match["port"] is None and not (match["host"] or match["v6"])):
        raise CommandError(f"--bind {value!r} is not HOST:PORT, like 127.0.0.1:8000")
    host = match["v6"] or match["host"] or "127.0.0.1"
    port = int(match["port"]) if match["port"] is not None else 8000
    if port > 65535:
        raise CommandError(f"--bind {value!r}: port {port} is out of range (0-65535)")
    return host, port


def connection_url(args: argparse.Namespace) -> str | None:
    """The Redis URL from ``--redis`` or ``WS4REDIS_CONNECTION``; None when neither is set."""
    return args.redis or os.environ.get(ENV_CONNECTION) or None


def parse_connection(url: str | None) -> ConnectionSettings:
    """Validate a Redis URL (None: the default address) into connection settings."""
    from .config import ConnectionSettings
    from .exceptions import ConfigurationError

    try:
        return ConnectionSettings.parse(url)
    except ConfigurationError as exc:
        raise CommandError(str(exc).replace("WS4REDIS_CONNECTION URL", "Redis URL")) from None


def check_redis(settings: ConnectionSettings) -> None:
    """PING Redis so that a wrong address fails now, with a clear message, not on the first socket."""
    import redis

    try:
        with redis.Redis(connection_pool=quick_pool(settings)) as client:
            client.ping()
    except redis.RedisError as exc:
        raise redis_failure(settings.description, exc) from None


def redis_failure(description: str, exc: Exception) -> CommandError:
    """The error for a Redis that cannot be reached (or refuses us), naming the fix."""
    return CommandError(f"cannot reach Redis at {description}: {str(exc).rstrip('.')}. Start Redis, or point "
                        f"to it with --redis URL or {ENV_CONNECTION}.", EXIT_FAILURE)


def quick_pool(settings: ConnectionSettings, *, socket_timeout: float | None = 3.0) -> Any:
    """A connection pool (Sentinel-aware) that fails fast: a command-line user waits for an answer.

    redis-py 8 retries a refused connection with growing pauses, seconds of silence before an error.
    """
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return settings.make_pool(socket_connect_timeout=3, socket_timeout=socket_timeout, retry=Retry(NoBackoff(), 0))


def patch_gevent() -> None:
    """Monkey-patch before anything imports the application, or it would block the process."""
    from gevent import monkey

    monkey.patch_all()


def start_server(app: Any, bind: str) -> Any:
    """Bind and start our gevent server; binding errors become a one-line message."""
    from gevent.pool import Pool

    from .server import make_server

    host, port = parse_bind(bind)
    server = make_server(app, host, port, spawn=Pool())
    try:
        server.start()
    except OSError as exc:
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", EXIT_FAILURE) from None
    return server


def server_url(server: Any) -> str:
    """The address to print: a server bound to every interface is reachable on loopback."""
    host, port = server.address[0], server.server_port
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


# -- serve -------------------------------------------------------------------------------------

def load_app(spec: str) -> Any:
    """Import ``MODULE:APP`` (APP defaults to ``application``) from the current directory too."""
    module_name, _, attribute = spec.partition(":")
    attribute = attribute or "application"
    if not module_name or not all(part.isidentifier() for part in module_name.split(".")) \
            or not all(part.isidentifier() for part in attribute.split(".")):
        raise CommandError(f"{spec!r} is not MODULE:APP, like myproject.wsgi:application")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like gunicorn: the project directory is importable
    import importlib

    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise  # the module exists but imports something missing: its traceback helps
        raise CommandError(f"cannot import {module_name!r}: no module named {exc.name!r} "
                           f"(run from the project directory or fix PYTHONPATH)") from None
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CommandError(f"module {module_name!r} has no attribute {attribute!r}") from None
    if not callable(obj):
        raise CommandError(f"{spec!r} is not a WSGI application (not callable)")
    return obj


def cmd_serve(args: argparse.Namespace) -> int:
    """Import MODULE:APP after monkey-patching, wrap it unless it is wrapped, serve until a signal."""
    patch_gevent()
    parse_bind(args.bind)  # a typo in --bind should not wait for the application to import
    app = load_app(args.app)
    from .exceptions import ConfigurationError
    from .middleware import WebSocketRedisMiddleware
    from .server import find_middlewares, serve_until_stopped

    middlewares = list(find_middlewares(app))
    if middlewares:
        if args.redis or args.websocket_url:
            raise CommandError(f"{args.app} is already wrapped in WebSocketRedisMiddleware: "
                               "configure Redis and the URL in its settings, not with --redis/--websocket-url")
    else:
        settings = parse_connection(connection_url(args))
        try:
            app = WebSocketRedisMiddleware(app, connection=settings, websocket_url=args.websocket_url or "/ws/")
        except ConfigurationError as exc:  # say, a bad --websocket-url
            raise CommandError(str(exc)) from None
        middlewares = [app]
    for middleware in middlewares:
        check_redis(middleware.config.connection)
    server = start_server(app, args.bind)
    websocket_url = middlewares[0].config.websocket_url
    print(f"wsredis: serving {args.app} at {server_url(server)} (WebSockets under {websocket_url}, "
          f"Redis {middlewares[0].config.connection.description}); Ctrl-C or SIGTERM stops",
          file=sys.stderr, flush=True)
    serve_until_stopped(server, shutdown_timeout=args.shutdown_timeout)
    return 0


# -- the parser --------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="wsredis", description="WebSockets relayed through Redis pub/sub, for any WSGI application.",
        epilog=f"Redis: --redis URL, else ${ENV_CONNECTION}, else redis://127.0.0.1:6379/0.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                        help="logging threshold (default: info)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def redis_option(command: argparse.ArgumentParser) -> None:
        command.add_argument("--redis", metavar="URL",
                             help=f"redis://, rediss:// or unix:// URL (default: ${ENV_CONNECTION})")

    serve = commands.add_parser("serve", help="serve a WSGI application with WebSockets",
                                description="Serve MODULE:APP on gevent, wrapped in WebSocketRedisMiddleware "
                                "unless it already is. SIGTERM or Ctrl-C closes WebSockets with 1001 and exits.")
    serve.add_argument("app", metavar="MODULE:APP", help="e.g. myproject.wsgi:application")
    serve.add_argument("--bind", "-b", default=DEFAULT_BIND, metavar="HOST:PORT",
                       help=f"address to listen on (default: {DEFAULT_BIND})")
    redis_option(serve)
    serve.add_argument("--websocket-url", metavar="PATH", help="URL prefix of WebSocket endpoints (default: /ws/)")
    serve.add_argument("--shutdown-timeout", type=float, default=10.0, metavar="SECONDS",
                       help="longest wait for WebSockets to close on shutdown (default: 10)")
    serve.set_defaults(handler=cmd_serve)

    for name, help_text in (("publish", "publish a message; print the subscribers Redis reached (one per server)"),
                            ("listen", "print messages published to a facility as they arrive")):
        command = commands.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".")
        command.add_argument("facility", metavar="FACILITY", help="the facility, as in /ws/FACILITY")
        if name == "publish":
            command.add_argument("message", metavar="MESSAGE", help="the message; - reads it from stdin")
        command.add_argument("--broadcast", action="store_true", help="everybody subscribed to the facility")
        command.add_argument("--user", action="append", default=[], metavar="NAME", help="a user (repeatable)")
        command.add_argument("--group", action="append", default=[], metavar="NAME", help="a group (repeatable)")
        command.add_argument("--session", action="append", default=[], metavar="KEY",
                             help="a session key (repeatable)")
        redis_option(command)
        command.add_argument("--prefix", help="WS4REDIS_PREFIX of the servers, if they set one")
        if name == "publish":
            command.add_argument("--expire", type=int, metavar="SECONDS",
                                 help="keep it for clients connecting later (default: 3600; 0: do not keep)")
            command.set_defaults(handler=_cmd_publish)
        else:
            command.add_argument("--count", type=int, default=0, metavar="N", help="exit after N messages")
            command.set_defaults(handler=_cmd_listen)

    demo = commands.add_parser("demo", help="a chat page in the browser, with an embedded Redis if needed",
                               description="Serve a self-contained chat page. Uses --redis or "
                               f"${ENV_CONNECTION} when reachable, else starts an embedded Redis.")
    demo.add_argument("--bind", "-b", default=DEFAULT_BIND, metavar="HOST:PORT",
                      help=f"address to listen on (default: {DEFAULT_BIND})")
    redis_option(demo)
    demo.set_defaults(handler=_cmd_demo)
    return parser


def _cmd_publish(args: argparse.Namespace) -> int:
    from .shell import cmd_publish

    return cmd_publish(args)


def _cmd_listen(args: argparse.Namespace) -> int:
    from .shell import cmd_listen

    return cmd_listen(args)


def _cmd_demo(args: argparse.Namespace) -> int:
    patch_gevent()
    from .demo import run_demo

    return run_demo(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wsredis`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        code: int = args.handler(args)
    except CommandError as exc:
        print(f"wsredis: error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())

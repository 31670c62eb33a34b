"""A broadcast chat on a plain WSGI application: the smallest complete wsredis-middleware program.

    python examples/wsgi_chat/app.py [--bind 127.0.0.1:8000] [--redis redis://127.0.0.1:6379/0]

Open http://127.0.0.1:8000/ in two browser windows and chat. Every message is published to the
Redis channel ``broadcast:chat``; try ``redis-cli PUBLISH broadcast:chat "hello from redis"`` too.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
from pathlib import Path  # noqa: E402

from wsredis_middleware import WebSocketRedisMiddleware  # noqa: E402
from wsredis_middleware.server import serve  # noqa: E402

PAGE = (Path(__file__).with_name("index.html")).read_bytes()
HEARTBEAT = "--heartbeat--"


def chat_page(environ, start_response):
    """The wrapped WSGI application: one HTML page, 404 for anything else."""
    if environ.get("PATH_INFO") != "/":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(PAGE)))])
    return [PAGE]


def make_application(connection: str) -> WebSocketRedisMiddleware:
    return WebSocketRedisMiddleware(
        chat_page,
        connection=connection,
        heartbeat=HEARTBEAT,
        # Browsers may publish on the broadcast channel of this chat; nothing else.
        allowed_channels=["subscribe-broadcast", "publish-broadcast"],
        expire=0,  # a chat has no "current state" to replay to newcomers
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default="127.0.0.1:8000", help="HOST:PORT to listen on")
    parser.add_argument(
        "--redis", default=os.environ.get("WS4REDIS_CONNECTION", "redis://127.0.0.1:6379/0"), help="Redis URL"
    )
    args = parser.parse_args()
    host, _, port = args.bind.rpartition(":")
    print(f"chat on http://{host}:{port}/ (Redis: {args.redis})")
    serve(make_application(args.redis), host, int(port))


if __name__ == "__main__":
    main()

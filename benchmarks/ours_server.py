"""Our server as ``fanout.py`` measures it: a WSGI app in WebSocketRedisMiddleware, served by
``wsredis_middleware.server.make_server`` on gevent, as a user would run it.

    python benchmarks/ours_server.py redis://127.0.0.1:PORT/0

Settings are the defaults but for protocol pings: the load generator never sends a frame, so
with the default 20 s ping interval the server would ping (and, 20 s later, drop) every socket
in the middle of a run. The baseline does not ping either. Prints ``PORT <n>`` once it listens.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # a fresh clone

import gevent  # noqa: E402

from wsredis_middleware import WebSocketRedisMiddleware  # noqa: E402
from wsredis_middleware.server import make_server  # noqa: E402


def dump_state(application: WebSocketRedisMiddleware) -> None:
    """On SIGUSR1 (sent by fanout.py when a socket got no message): where the sockets are stuck.

    Reads the hub's private state, so it may need updating when the hub changes; it is only a
    diagnostic and never runs in a measured phase.
    """
    subscriptions = tuple(getattr(application.hub, "_subscriptions", ()))
    held = sum(1 for s in subscriptions if getattr(s, "_held", None) is not None)
    queued = sum(1 for s in subscriptions if getattr(s.websocket, "_writer", None) is not None)
    closed = sum(1 for s in subscriptions if s.websocket.closed)
    print(f"ours_server: {len(subscriptions)} sockets attached, {held} still holding live messages "
          f"(persisted replay not finished), {queued} with a send queue, {closed} closed", file=sys.stderr, flush=True)


def not_found(environ, start_response):
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "0")])
    return [b""]


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="ours_server: %(levelname)s %(name)s: %(message)s")
    application = WebSocketRedisMiddleware(not_found, connection=sys.argv[1], ping_interval=3600, ping_timeout=3600)
    server = make_server(application, "127.0.0.1", 0, log=None)
    server.start()
    signal.signal(signal.SIGUSR1, lambda *_: gevent.spawn(dump_state, application))
    print(f"PORT {server.server_port}", flush=True)
    server.serve_forever()

"""The core middleware, run inside the Flask app's request context during the handshake.

Everything decided before the upgrade (``WS4REDIS_PROCESS_REQUEST``, the resolver, the
allowed-channels callback, the subscriber's channel set-up) sees ``flask.request``,
``flask.session``, ``flask.g`` and Flask-Login's ``current_user``, with the session opened by the
app's own ``session_interface``. The context is popped before the socket starts relaying, so
teardown handlers (closing database sessions, ...) run once per handshake, not per message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException

from ...exceptions import HandshakeError
from ...middleware import WebSocketRedisMiddleware
from .sessions import HANDSHAKE_ENVIRON_KEY

if TYPE_CHECKING:
    import flask
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

    from ...config import Config
    from ...subscriber import RedisSubscriber

__all__ = ["FlaskWebSocketRedisMiddleware"]


class FlaskWebSocketRedisMiddleware(WebSocketRedisMiddleware):
    """``WebSocketRedisMiddleware`` whose callbacks get ``flask.request`` in a request context."""

    def __init__(self, app: WSGIApplication, *, flask_app: flask.Flask, config: Config) -> None:
        super().__init__(app, config=config)
        self.flask_app = flask_app

    def make_request(self, environ: WSGIEnvironment) -> Any:
        """The current ``flask.request`` (the request context is pushed by :meth:`prepare`)."""
        import flask

        environ[HANDSHAKE_ENVIRON_KEY] = True
        return flask.request._get_current_object()  # type: ignore[attr-defined]

    def prepare(self, environ: WSGIEnvironment) -> tuple[Any, RedisSubscriber, bool]:
        """Decide the handshake inside a request context; ``abort(...)`` becomes that HTTP status.

        ``abort(403)`` and ``Forbidden`` are 403 through the core's permission check; any other
        ``HTTPException`` (``abort(401)``, ``abort(429)``) keeps its own status.
        """
        with self.flask_app.request_context(environ):
            try:
                return super().prepare(environ)
            except HTTPException as exc:
                status = f"{exc.code} {exc.name}" if exc.code else "500 Internal Server Error"
                raise HandshakeError(status, exc.description or exc.name) from exc

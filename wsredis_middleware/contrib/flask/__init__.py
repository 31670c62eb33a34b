"""Flask integration: WebSockets relayed through Redis, configured from ``app.config``.

    from wsredis_middleware.contrib.flask import WSRedis

    wsredis = WSRedis(app)            # or WSRedis() then wsredis.init_app(app)

See ``docs/flask.md`` for the settings, sessions, user and group loaders, and publishing.
"""

from __future__ import annotations

from .extension import WSRedis
from .middleware import FlaskWebSocketRedisMiddleware
from .resolver import FlaskResolver
from .sessions import SESSION_ID_KEY, session_key
from .state import WSRedisState, state_of
from .templating import websocket_context, websocket_uri

__all__ = [
    "SESSION_ID_KEY", "FlaskResolver", "FlaskWebSocketRedisMiddleware", "WSRedis", "WSRedisState",
    "session_key", "state_of", "websocket_context", "websocket_uri",
]

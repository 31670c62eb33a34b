"""What the extension keeps per app, under ``app.extensions["wsredis"]``, and how to find it."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import flask

    from ...config import Config
    from ...hub import Hub
    from .middleware import FlaskWebSocketRedisMiddleware

__all__ = ["EXTENSION_KEY", "WSRedisState", "state_of"]

EXTENSION_KEY = "wsredis"


@dataclasses.dataclass(frozen=True)
class WSRedisState:
    """One app's settings and middleware; nothing of it is shared with other apps."""

    config: Config
    middleware: FlaskWebSocketRedisMiddleware

    @property
    def hub(self) -> Hub:
        """This app's Redis pub/sub hub (one per app per process)."""
        return self.middleware.hub


def state_of(app: flask.Flask) -> WSRedisState:
    """The extension's state for *app*; a clear error when ``WSRedis`` was never initialised on it."""
    state = app.extensions.get(EXTENSION_KEY)
    if state is None:
        raise RuntimeError(f"WSRedis is not initialised on the Flask app {app.name!r}: call WSRedis(app)")
    return state  # type: ignore[no-any-return]

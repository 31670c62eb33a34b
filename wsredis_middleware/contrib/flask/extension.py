"""``WSRedis``: the Flask extension that serves WebSockets relayed through Redis next to the views.

    from gevent import monkey; monkey.patch_all()
    from flask import Flask
    from wsredis_middleware.contrib.flask import WSRedis

    app = Flask(__name__)
    app.config["WS4REDIS_CONNECTION"] = "redis://127.0.0.1:6379/0"
    wsredis = WSRedis(app)            # or: wsredis = WSRedis(); wsredis.init_app(app)

Settings are read from ``app.config`` when ``init_app`` runs (so set them before), with the same
names as in Django. Everything per app lives in ``app.extensions["wsredis"]``: two apps in one
process keep their own settings, hub and Redis prefix.
"""

from __future__ import annotations

import os

import flask

from ...config import Config, setting_name
from ...connection import register_config_provider
from .middleware import FlaskWebSocketRedisMiddleware
from .resolver import FlaskResolver
from .sessions import ensure_session_key, forget_session_key
from .state import EXTENSION_KEY, WSRedisState
from .templating import websocket_context

__all__ = ["DEFAULT_STATIC_URL_PATH", "STATIC_URL_PATH_SETTING", "WSRedis"]

#: Where the JavaScript client is served: ``{path}/wsredis.js``; ``url_for("wsredis.static",
#: filename="wsredis.js")`` builds the URL.
STATIC_URL_PATH_SETTING = "WS4REDIS_STATIC_URL_PATH"
DEFAULT_STATIC_URL_PATH = "/_wsredis"
# Served from the installed package, so the client never goes stale in an app's static folder.
_STATIC_FOLDER = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "static")


class WSRedis:
    """Adds WebSocket endpoints under ``WEBSOCKET_URL`` to a Flask app, relayed through Redis.

    ``init_app`` wraps ``app.wsgi_app`` in the middleware, registers the ``wsredis`` blueprint
    serving ``wsredis.js``, the template context processor (``WEBSOCKET_URI``,
    ``WS4REDIS_HEARTBEAT``), and the hook that gives sessions their WebSocket id. The instance
    holds no per-app state, so one ``WSRedis()`` may be initialised on several apps.
    """

    def __init__(self, app: flask.Flask | None = None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app: flask.Flask) -> None:
        """Read this app's settings, wrap its ``wsgi_app`` and register the extension's parts."""
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(f"WSRedis is already initialised on the Flask app {app.name!r}")
        overrides = {}
        if setting_name("resolver") not in app.config:
            overrides["resolver"] = FlaskResolver.from_config(app.config)
        config = Config.from_settings(app.config, **overrides)
        middleware = FlaskWebSocketRedisMiddleware(app.wsgi_app, flask_app=app, config=config)
        app.wsgi_app = middleware  # type: ignore[method-assign]
        app.extensions[EXTENSION_KEY] = WSRedisState(config=config, middleware=middleware)

        app.register_blueprint(flask.Blueprint(
            "wsredis", __name__, static_folder=_STATIC_FOLDER,
            static_url_path=app.config.get(STATIC_URL_PATH_SETTING, DEFAULT_STATIC_URL_PATH),
        ))
        app.context_processor(websocket_context)
        app.after_request(ensure_session_key)
        _rotate_session_key_at_login(app)


def _current_app_config() -> Config | None:
    """Config provider for ``RedisPublisher()``: the settings of the app in context, if it uses us."""
    if not flask.has_app_context():
        return None
    state = flask.current_app.extensions.get(EXTENSION_KEY)
    return state.config if state is not None else None


def _rotate_session_key_at_login(app: flask.Flask) -> None:
    try:
        from flask_login import user_logged_in, user_logged_out  # type: ignore[import-untyped]
    except ImportError:
        return
    user_logged_in.connect(forget_session_key, sender=app)
    user_logged_out.connect(forget_session_key, sender=app)


register_config_provider(_current_app_config)

"""A Flask chat on wsredis-middleware: everyone, one user, or one group, with Flask-Login.

Run it (Redis on 127.0.0.1:6379, or set WS4REDIS_CONNECTION):

    python examples/flask_chat/app.py            # then open http://127.0.0.1:8000/

Users: john / john-pw and mary / mary-pw (group "chatters"), admin / admin-pw (group "staff").
Browsers only listen on their WebSocket; messages are sent with a POST to ``/send``, so the
server decides who may write to whom and stamps the sender's name on every message.
"""

# gevent must patch the standard library before anything else imports it.
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
from typing import Any  # noqa: E402

import flask  # noqa: E402
import flask_login  # noqa: E402
import redis  # noqa: E402
from redis.backoff import NoBackoff  # noqa: E402
from redis.retry import Retry  # noqa: E402
from werkzeug.security import check_password_hash, generate_password_hash  # noqa: E402

from wsredis_middleware import RedisPublisher  # noqa: E402
from wsredis_middleware.contrib.flask import WSRedis, state_of  # noqa: E402
from wsredis_middleware.server import serve  # noqa: E402

FACILITY = "chat"
USERS = {  # name -> (password hash, groups); a real app keeps these in its database
    "john": (generate_password_hash("john-pw"), ("chatters",)),
    "mary": (generate_password_hash("mary-pw"), ("chatters",)),
    "admin": (generate_password_hash("admin-pw"), ("staff",)),
}
MAX_TEXT = 2000


class User(flask_login.UserMixin):
    def __init__(self, name: str) -> None:
        self.id = name

    @property
    def groups(self) -> tuple[str, ...]:
        return USERS[self.id][1]


def groups_of(request: Any, user: str) -> tuple[str, ...]:
    """WS4REDIS_GROUP_LOADER: the groups a logged-in user's socket listens to."""
    return USERS[user][1] if user in USERS else ()


def create_app(connection: str | None = None) -> flask.Flask:
    app = flask.Flask(__name__)
    app.config.update(
        # A fresh key per start logs everybody out on restart; set one to keep sessions.
        SECRET_KEY=os.environ.get("FLASK_SECRET_KEY") or secrets.token_hex(32),
        WS4REDIS_CONNECTION=connection or os.environ.get("WS4REDIS_CONNECTION", "redis://127.0.0.1:6379/0"),
        WS4REDIS_PREFIX="flask-chat",
        WS4REDIS_EXPIRE=0,  # a chat shows what arrives while you are here; nothing is replayed
        WS4REDIS_HEARTBEAT="--heartbeat--",
        WS4REDIS_GROUP_LOADER=groups_of,
    )
    login_manager = flask_login.LoginManager(app)
    login_manager.login_view = "login"
    login_manager.user_loader(lambda name: User(name) if name in USERS else None)
    WSRedis(app)
    add_views(app)
    return app


def add_views(app: flask.Flask) -> None:
    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        error = None
        if flask.request.method == "POST":
            name = flask.request.form.get("username", "").strip()
            password = flask.request.form.get("password", "")
            if name in USERS and check_password_hash(USERS[name][0], password):
                flask_login.login_user(User(name))
                return flask.redirect(flask.url_for("chat"))
            error = "Unknown user or wrong password."
        return flask.render_template("login.html", error=error, users=sorted(USERS)), 401 if error else 200

    @app.post("/logout")
    def logout() -> Any:
        flask_login.logout_user()
        return flask.redirect(flask.url_for("login"))

    @app.get("/")
    @flask_login.login_required
    def chat() -> str:
        return flask.render_template("chat.html", users=sorted(USERS), facility=FACILITY)

    @app.post("/send")
    @flask_login.login_required
    def send() -> Any:
        # JSON only: a cross-site HTML form cannot send it without a CORS preflight.
        if not flask.request.is_json:
            flask.abort(415)
        data = flask.request.get_json()
        text = str(data.get("text", "")).strip()[:MAX_TEXT]
        audience, to = data.get("audience"), str(data.get("to", ""))
        me = flask_login.current_user
        if not text:
            flask.abort(400, "Say something.")
        if audience == "broadcast":
            publisher = RedisPublisher(facility=FACILITY, broadcast=True)
        elif audience == "user" and to in USERS:
            # The recipient, and the sender's own sockets (other tabs) so the conversation shows up.
            publisher = RedisPublisher(facility=FACILITY, users=sorted({to, me.id}))
        elif audience == "group" and to in me.groups:
            publisher = RedisPublisher(facility=FACILITY, groups=[to])
        else:
            flask.abort(403)
        message = json.dumps({"from": me.id, "audience": audience, "to": to, "text": text})
        return {"receivers": publisher.publish_message(message)}


def check_redis(app: flask.Flask) -> None:
    """Fail with the fix rather than with a traceback on the first page view."""
    settings = state_of(app).config.connection
    try:
        no_retries = Retry(NoBackoff(), 0)  # one attempt: this is a "is it there?" check
        with redis.Redis(**{"socket_connect_timeout": 2, **settings.kwargs, "retry": no_retries}) as client:
            client.ping()
    except redis.RedisError as exc:
        raise SystemExit(
            f"No Redis at {settings.description} ({exc}). Start one (`redis-server`) or point "
            "WS4REDIS_CONNECTION at yours, e.g. WS4REDIS_CONNECTION=redis://localhost:6380/0"
        ) from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app()
    check_redis(app)
    print(f"Flask chat on http://{args.host}:{args.port}/  (users: john, mary, admin; password: <name>-pw)",
          flush=True)
    serve(app, args.host, args.port)


if __name__ == "__main__":
    main()

"""The Flask resolver on its own: where the user and groups come from, and its errors."""

from __future__ import annotations

import flask
import pytest

from wsredis_middleware import Identity
from wsredis_middleware.connection import active_config
from wsredis_middleware.contrib.flask import FlaskResolver, WSRedis, state_of

from .conftest import make_app


def bare_app(redis_url: str, **config: object) -> flask.Flask:
    """No Flask-Login on this app."""
    app = flask.Flask("bare_resolver_app")
    app.config.update(SECRET_KEY="test-secret", WS4REDIS_CONNECTION=redis_url, **config)
    WSRedis(app)
    return app


@pytest.mark.parametrize(
    ("config", "environ", "expected_user", "expected_groups"),
    [
        pytest.param({}, {}, None, (), id="anonymous"),
        pytest.param({}, {"REMOTE_USER": "web-auth"}, "web-auth", (), id="remote-user-without-flask-login"),
        pytest.param({"WS4REDIS_USER_LOADER": lambda request: request.headers.get("X-User")},
                     {"HTTP_X_USER": "alice"}, "alice", (), id="user-loader"),
        pytest.param({"WS4REDIS_USER_LOADER": lambda request: 7}, {}, "7", (), id="integer-user-id"),
        pytest.param({"WS4REDIS_USER_LOADER": lambda request: "bob",
                      "WS4REDIS_GROUP_LOADER": lambda request, user: [f"{user}-team", "all"]},
                     {}, "bob", ("bob-team", "all"), id="group-loader"),
        pytest.param({"WS4REDIS_GROUP_LOADER": lambda request, user: ["never"]}, {}, None, (),
                     id="no-groups-without-user"),
        pytest.param({"WS4REDIS_USER_LOADER": "tests.contrib.flask.test_resolver.loader_by_path"}, {},
                     "from-dotted-path", (), id="dotted-path"),
    ],
)
def test_user_and_groups(redis_url, config, environ, expected_user, expected_groups):
    app = bare_app(redis_url, **config)
    with app.test_request_context("/", environ_base=environ):
        identity = state_of(app).config.resolver(flask.request)
    assert (identity.user, identity.groups) == (expected_user, expected_groups)


def loader_by_path(request: object) -> str:
    return "from-dotted-path"


def test_flask_login_user_wins_over_remote_user(redis_url):
    app = make_app(redis_url)
    with app.test_request_context("/", environ_base={"REMOTE_USER": "web-auth"}):
        import flask_login

        from .conftest import User

        flask_login.login_user(User("mary"))
        assert state_of(app).config.resolver(flask.request).user == "mary"


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        pytest.param("chatters", "iterable of group names", id="a-bare-string"),
        pytest.param([1, 2], "iterable of group names", id="not-strings"),
    ],
)
def test_bad_group_loader_results_are_reported(redis_url, groups, message):
    app = bare_app(redis_url, WS4REDIS_USER_LOADER=lambda request: "bob",
                   WS4REDIS_GROUP_LOADER=lambda request, user: groups)
    with app.test_request_context("/"), pytest.raises(TypeError, match=message):
        state_of(app).config.resolver(flask.request)


def test_resolver_needs_a_request_context(redis_url):
    app = bare_app(redis_url)
    with app.app_context(), pytest.raises(RuntimeError, match="request context"):
        active_config().resolver(object())


def test_an_explicit_resolver_setting_replaces_the_flask_resolver(redis_url):
    def resolver(request: object) -> Identity:
        return Identity(user="fixed")

    app = bare_app(redis_url, WS4REDIS_RESOLVER=resolver)
    assert state_of(app).config.resolver is resolver
    assert isinstance(state_of(bare_app(redis_url)).config.resolver, FlaskResolver)

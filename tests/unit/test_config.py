"""Settings: accepted spellings, and start-up errors that name the setting to fix."""

from __future__ import annotations

import pytest

from wsredis_middleware.config import Config, ConnectionSettings, setting_name
from wsredis_middleware.exceptions import ConfigurationError
from wsredis_middleware.resolvers import resolve_anonymous, resolve_remote_user
from wsredis_middleware.subscriber import RedisSubscriber


@pytest.mark.parametrize(
    ("settings", "names"),
    [
        pytest.param({"connection": "http://127.0.0.1:6379/0"}, ["WS4REDIS_CONNECTION", "'http'"], id="url-scheme"),
        pytest.param({"connection": "redis://:secret@host:notaport/0"}, ["WS4REDIS_CONNECTION", "***"],
                     id="malformed-url-redacted"),
        pytest.param({"connection": {"hots": "x"}}, ["WS4REDIS_CONNECTION", "hots"], id="unknown-key"),
        pytest.param({"connection": {"port": "six"}}, ["WS4REDIS_CONNECTION['port']", "'six'"], id="port-not-int"),
        pytest.param({"connection": {"db": None}}, ["WS4REDIS_CONNECTION['db']"], id="db-not-int"),
        pytest.param({"connection": 6379}, ["WS4REDIS_CONNECTION"], id="wrong-type"),
        pytest.param({"resolver": "no_such_module.resolve"}, ["WS4REDIS_RESOLVER", "no_such_module"],
                     id="resolver-module-missing"),
        pytest.param({"resolver": "wsredis_middleware.resolvers.no_such_name"}, ["WS4REDIS_RESOLVER", "no_such_name"],
                     id="resolver-attribute-missing"),
        pytest.param({"resolver": "nodots"}, ["WS4REDIS_RESOLVER", "dotted path"], id="resolver-not-dotted"),
        pytest.param({"resolver": "wsredis_middleware.__version__"}, ["WS4REDIS_RESOLVER", "callable"],
                     id="resolver-not-callable"),
        pytest.param({"process_request": "no_such_module.fn"}, ["WS4REDIS_PROCESS_REQUEST"], id="process-request"),
        pytest.param({"subscriber": "no_such_module.Subscriber"}, ["WS4REDIS_SUBSCRIBER"], id="subscriber-path"),
        pytest.param({"subscriber": dict}, ["WS4REDIS_SUBSCRIBER", "RedisSubscriber"], id="subscriber-class"),
        pytest.param({"allowed_channels": "no_such_module.allow"}, ["WS4REDIS_ALLOWED_CHANNELS"],
                     id="allowed-channels-path"),
        pytest.param({"allowed_channels": ["publish-everything"]}, ["WS4REDIS_ALLOWED_CHANNELS", "publish-everything"],
                     id="allowed-channels-unknown"),
        pytest.param({"allowed_channels": 3}, ["WS4REDIS_ALLOWED_CHANNELS"], id="allowed-channels-type"),
        pytest.param({"websocket_url": "ws"}, ["WEBSOCKET_URL"], id="websocket-url"),
        pytest.param({"websocket_url": "/ws"}, ["WEBSOCKET_URL"], id="websocket-url-no-slash"),
        pytest.param({"expire": -1}, ["WS4REDIS_EXPIRE"], id="expire-negative"),
        pytest.param({"expire": "3600"}, ["WS4REDIS_EXPIRE"], id="expire-string"),
        pytest.param({"expire": True}, ["WS4REDIS_EXPIRE"], id="expire-bool"),
        pytest.param({"heartbeat": ""}, ["WS4REDIS_HEARTBEAT"], id="heartbeat-empty"),
        pytest.param({"heartbeat": 5}, ["WS4REDIS_HEARTBEAT"], id="heartbeat-type"),
        pytest.param({"prefix": "a b"}, ["WS4REDIS_PREFIX"], id="prefix-whitespace"),
        pytest.param({"allowed_origins": ["example.com"]}, ["WS4REDIS_ALLOWED_ORIGINS", "example.com"],
                     id="origin-without-scheme"),
        pytest.param({"max_message_size": 0}, ["WS4REDIS_MAX_MESSAGE_SIZE"], id="max-size"),
        pytest.param({"ping_interval": 0}, ["WS4REDIS_PING_INTERVAL"], id="ping-interval"),
    ],
)
def test_bad_setting_names_itself(settings, names):
    with pytest.raises(ConfigurationError) as caught:
        Config.from_kwargs(**settings)
    for name in names:
        assert name in str(caught.value)


def test_defaults():
    config = Config.from_kwargs()
    assert (config.websocket_url, config.expire, config.prefix, config.heartbeat) == ("/ws/", 3600, "", None)
    assert config.allowed_channels is None
    assert config.resolver is resolve_remote_user
    assert config.subscriber is RedisSubscriber
    assert config.max_message_size == 64 * 1024
    assert config.connection.description == "redis://127.0.0.1:6379/0"


def test_dotted_paths_are_imported():
    config = Config.from_kwargs(resolver="wsredis_middleware.resolvers.resolve_anonymous",
                                subscriber="wsredis_middleware.subscriber.RedisSubscriber")
    assert config.resolver is resolve_anonymous
    assert config.subscriber is RedisSubscriber


def test_allowed_channels_list_is_normalised():
    config = Config.from_kwargs(allowed_channels=[" Subscribe-Broadcast", "publish-broadcast"])
    assert config.allowed_channels == frozenset({"subscribe-broadcast", "publish-broadcast"})


def test_from_settings_reads_the_ws4redis_names():
    config = Config.from_settings({
        "WEBSOCKET_URL": "/live/", "WS4REDIS_EXPIRE": 0, "WS4REDIS_PREFIX": "site",
        "WS4REDIS_HEARTBEAT": "--hb--", "WS4REDIS_CONNECTION": {"host": "redis", "port": "6380", "db": 2},
        "WS4REDIS_ALLOWED_ORIGINS": "https://app.example/", "UNRELATED": object(),
    })
    assert (config.websocket_url, config.expire, config.prefix, config.heartbeat) == ("/live/", 0, "site", "--hb--")
    assert config.connection.kwargs == {"host": "redis", "port": 6380, "db": 2}
    assert config.allowed_origins == frozenset({"https://app.example"})


def test_from_settings_errors_name_the_setting():
    with pytest.raises(ConfigurationError, match="WS4REDIS_RESOLVER"):
        Config.from_settings({"WS4REDIS_RESOLVER": "myproject.missing.resolver"})


@pytest.mark.parametrize(
    ("value", "description", "expected"),
    [
        pytest.param("redis://:s3cret@redis:6380/3", "redis://:***@redis:6380/3",
                     {"host": "redis", "port": 6380, "db": 3, "password": "s3cret"}, id="url-password-redacted"),
        pytest.param("unix:///run/redis.sock?db=1", "unix:///run/redis.sock?db=1",
                     {"path": "/run/redis.sock", "db": 1}, id="unix-url"),
        pytest.param({"unix_socket_path": "/run/redis.sock", "db": 1, "host": "ignored"},
                     "unix:///run/redis.sock?db=1", {"path": "/run/redis.sock", "db": 1}, id="unix-dict"),
        pytest.param({"host": "h", "port": 1, "ssl": True}, "rediss://h:1/0", {"host": "h", "port": 1},
                     id="ssl-dict"),
    ],
)
def test_connection_settings(value, description, expected):
    parsed = ConnectionSettings.parse(value)
    assert parsed.description == description
    assert "s3cret" not in parsed.description
    for key, item in expected.items():
        assert parsed.kwargs[key] == item


@pytest.mark.parametrize(
    ("keyword", "setting"),
    [
        ("websocket_url", "WEBSOCKET_URL"),
        ("expire", "WS4REDIS_EXPIRE"),
        ("allowed_origins", "WS4REDIS_ALLOWED_ORIGINS"),
    ],
)
def test_setting_name(keyword, setting):
    assert setting_name(keyword) == setting

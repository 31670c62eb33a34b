"""Identity and the stock resolvers; what publishers refuse before touching Redis."""

from __future__ import annotations

import pickle

import pytest
from webob import Request

from wsredis_middleware import SELF, Identity, RedisMessage, RedisPublisher
from wsredis_middleware.resolvers import ANONYMOUS, resolve_anonymous, resolve_remote_user


def test_identity_normalises_empty_values():
    identity = Identity(user="", groups=["a", "", "b", "a"], session="")
    assert (identity.user, identity.groups, identity.session) == (None, ("a", "b"), None)
    assert Identity(groups=iter(["x"])).groups == ("x",)
    assert Identity() == ANONYMOUS
    with pytest.raises(AttributeError):
        identity.user = "mallory"  # frozen: callbacks cannot change who a socket is


@pytest.mark.parametrize(
    ("environ", "user"),
    [
        pytest.param({"REMOTE_USER": "john"}, "john", id="remote-user"),
        pytest.param({}, None, id="anonymous"),
        pytest.param({"HTTP_REMOTE_USER": "forged"}, None, id="header-cannot-forge"),
    ],
)
def test_resolve_remote_user(environ, user):
    assert resolve_remote_user(Request.blank("/ws/foo", environ=environ)) == Identity(user=user)


def test_resolve_anonymous():
    assert resolve_anonymous(Request.blank("/ws/foo", environ={"REMOTE_USER": "john"})) == ANONYMOUS


def test_redis_message():
    assert RedisMessage("héllo") == "héllo".encode()
    assert RedisMessage(b"\xff") == b"\xff"
    assert RedisMessage(bytearray(b"x")) == b"x"
    with pytest.raises(TypeError):
        RedisMessage(42)  # type: ignore[arg-type]


def test_self_is_a_singleton_that_survives_pickling():
    assert repr(SELF) == "SELF"
    assert pickle.loads(pickle.dumps(SELF)) is SELF


# Constructing a publisher creates a client but opens no connection, so these need no Redis.
UNUSED = "redis://127.0.0.1:1/0"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"facility": "a:b", "broadcast": True}, "':'", id="bad-facility"),
        pytest.param({"broadcast": True}, "needs a facility", id="no-facility"),
        pytest.param({"facility": "f", "users": [""]}, "non-empty strings", id="empty-user"),
        pytest.param({"facility": "f", "groups": [None]}, "non-empty strings", id="none-group"),
        pytest.param({"facility": "f", "users": [SELF]}, "needs the request", id="self-without-request"),
    ],
)
def test_publisher_refuses(kwargs, error):
    with pytest.raises(ValueError, match=error):
        RedisPublisher(connection=UNUSED, **kwargs)


def test_publisher_expands_self_from_the_request_identity():
    request = Request.blank("/")
    request.identity = Identity(user="john", groups=["a", "b"], session="s")
    publisher = RedisPublisher(facility="f", users=[SELF, "mary"], groups=[SELF], sessions=[SELF],
                               request=request, connection=UNUSED)
    assert publisher._publishers == {"user:john:f", "user:mary:f", "group:a:f", "group:b:f", "session:s:f"}
    anonymous = Request.blank("/")
    anonymous.identity = ANONYMOUS
    assert RedisPublisher(facility="f", users=[SELF], groups=[SELF], sessions=[SELF], request=anonymous,
                          connection=UNUSED)._publishers == set()

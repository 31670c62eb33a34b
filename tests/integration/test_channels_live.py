"""Which Redis channels a socket really gets: names, prefix, both query forms, SELF, anonymity.

Every assertion on a name reads it back from the private redis-server (``PUBSUB CHANNELS``,
``KEYS``), so a regression in naming shows up exactly as an operator would see it.
"""

from __future__ import annotations

import pytest

from wsredis_middleware import SELF, RedisPublisher

from .support import (
    blank_request,
    header_resolver,
    identity_headers,
    pubsub_channels,
    redis_keys,
    wait_attached,
    wait_until,
)

ALICE = {"user": "alice", "groups": ["staff", "dev"], "session": "s1"}
ALL_SUBSCRIPTIONS = "?subscribe-broadcast&subscribe-user&subscribe-group&subscribe-session"


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        pytest.param(
            None,
            {"broadcast:foo", "user:alice:foo", "group:staff:foo", "group:dev:foo", "session:s1:foo"},
            id="no-prefix",
        ),
        pytest.param(
            "ws4",
            {"ws4:broadcast:foo", "ws4:user:alice:foo", "ws4:group:staff:foo", "ws4:group:dev:foo",
             "ws4:session:s1:foo"},
            id="prefix",
        ),
    ],
)
def test_redis_channel_and_key_names(live_server, redis_server, redis_url, prefix, expected):
    server = live_server(prefix=prefix, resolver=header_resolver)
    ws = server.connect("/ws/foo" + ALL_SUBSCRIPTIONS, header=identity_headers(**ALICE))
    try:
        assert wait_attached(server, redis_server, 1) == expected
        publisher = RedisPublisher(facility="foo", broadcast=True, users=[SELF], groups=[SELF], sessions=[SELF],
                                   request=blank_request(**ALICE), connection=redis_url)
        publisher.publish_message("kept")
        assert redis_keys(redis_server) == expected
        for name in expected:
            assert redis_server.cli("GET", name) == "kept"
    finally:
        ws.close()


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("?subscribe-broadcast&subscribe-user&publish-user", id="dash-form"),
        pytest.param("?subscribe=broadcast,user&publish=user", id="list-form"),
    ],
)
def test_both_query_forms_subscribe_and_publish_alike(live_server, redis_server, query):
    server = live_server(resolver=header_resolver,
                         allowed_channels=["subscribe-broadcast", "subscribe-user", "publish-user"])
    ws = server.connect("/ws/foo" + query, header=identity_headers(user="alice"))
    try:
        assert wait_attached(server, redis_server, 1) == {"broadcast:foo", "user:alice:foo"}
        ws.send("from alice")
        # Published to her user channel (and persisted there), not to broadcast.
        wait_until(lambda: redis_keys(redis_server), what="the persisted message")
        assert redis_keys(redis_server) == {"user:alice:foo"}
        assert redis_server.cli("GET", "user:alice:foo") == "from alice"
    finally:
        ws.close()


def test_self_reaches_the_requesting_user_groups_and_session_only(live_server, redis_server, redis_url):
    server = live_server(resolver=header_resolver)
    alice = server.connect("/ws/foo?subscribe-user&subscribe-group&subscribe-session",
                           header=identity_headers(**ALICE))
    bob = server.connect("/ws/foo?subscribe-user&subscribe-group&subscribe-session",
                         header=identity_headers(user="bob", groups=["other"], session="s2"))
    try:
        wait_attached(server, redis_server, 2)
        request = blank_request(**ALICE)
        for audience, message in (("users", "to-user"), ("sessions", "to-session")):
            RedisPublisher(facility="foo", request=request, connection=redis_url,
                           **{audience: [SELF]}).publish_message(message)
            assert alice.recv() == message
        # groups=[SELF] means every group of hers: one message per group channel.
        assert RedisPublisher(facility="foo", groups=[SELF], request=request,
                              connection=redis_url).publish_message("to-groups") == 2
        assert [alice.recv(), alice.recv()] == ["to-groups", "to-groups"]
        # Bob saw none of it: his first message is the one meant for him.
        RedisPublisher(facility="foo", users=["bob"], connection=redis_url).publish_message("to-bob")
        assert bob.recv() == "to-bob"
    finally:
        alice.close()
        bob.close()


def test_anonymous_sockets_get_no_user_channel(live_server, redis_server, redis_url):
    server = live_server(resolver=header_resolver,
                         allowed_channels=["subscribe-broadcast", "subscribe-user", "subscribe-session",
                                           "subscribe-group", "publish-user", "publish-broadcast"])
    query = "/ws/foo?subscribe-broadcast&subscribe-user&subscribe-group&subscribe-session&publish-user"
    first, second = server.connect(query), server.connect(query)
    try:
        # ws4redis put every anonymous visitor on one shared user channel; we give them none.
        assert wait_attached(server, redis_server, 2) == {"broadcast:foo"}
        first.send("private to an anonymous user")
        anonymous = blank_request()
        assert RedisPublisher(facility="foo", users=[SELF], groups=[SELF], sessions=[SELF], request=anonymous,
                              connection=redis_url).publish_message("to nobody") == 0
        RedisPublisher(facility="foo", broadcast=True, connection=redis_url).publish_message("marker")
        assert second.recv() == "marker"
        assert first.recv() == "marker"
        assert redis_keys(redis_server) == {"broadcast:foo"}
        assert not any(name.startswith(("user:", "group:", "session:")) for name in pubsub_channels(redis_server))
    finally:
        first.close()
        second.close()


def test_a_colon_in_a_user_name_is_escaped(live_server, redis_server, redis_url):
    server = live_server(resolver=header_resolver)
    ws = server.connect("/ws/c?subscribe-user", header=identity_headers(user="a:b"))
    try:
        # Unescaped, user "a:b" on facility "c" would be user "a" on facility "b:c".
        assert wait_attached(server, redis_server, 1) == {"user:a%3Ab:c"}
        assert RedisPublisher(facility="c", users=["a:b"], connection=redis_url).publish_message("hi") == 1
        assert ws.recv() == "hi"
        with pytest.raises(ValueError, match="facility"):
            RedisPublisher(facility="b:c", users=["a"], connection=redis_url)
    finally:
        ws.close()


def test_a_colon_in_a_group_name_is_escaped(live_server, redis_server, redis_url):
    server = live_server(resolver=header_resolver)
    ws = server.connect("/ws/c?subscribe-group", header=identity_headers(user="u", groups=["x:y", "x"]))
    try:
        assert wait_attached(server, redis_server, 1) == {"group:x%3Ay:c", "group:x:c"}
        RedisPublisher(facility="c", groups=["x:y"], connection=redis_url).publish_message("hi")
        assert redis_keys(redis_server) == {"group:x%3Ay:c"}
        assert ws.recv() == "hi"
    finally:
        ws.close()

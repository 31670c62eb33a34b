"""Publishing: persisted replay, expiry, echo, who may publish, and publishers outside the server.

"Does not receive" is asserted with a marker: after the message that must not arrive, a marker is
published on the same channel; Redis delivers in order, so the first message read must be the
marker. No assertion here depends on a timeout expiring.
"""

from __future__ import annotations

import gevent
import pytest
import redis

from wsredis_middleware import RedisPublisher
from wsredis_middleware.connection import configure
from wsredis_middleware.exceptions import PermissionDenied

from .support import blank_request, header_resolver, identity_headers, redis_keys, wait_attached

PUBLISHING = ["subscribe-broadcast", "publish-broadcast"]


def broadcast(redis_url: str, message: str | bytes, facility: str = "foo", **kwargs) -> int:
    return RedisPublisher(facility=facility, broadcast=True, connection=redis_url).publish_message(message, **kwargs)


def test_persisted_message_is_replayed_right_after_subscribing(live_server, redis_server, redis_url):
    server = live_server()
    broadcast(redis_url, "persisted")
    assert redis_keys(redis_server) == {"broadcast:foo"}
    assert int(redis_server.cli("TTL", "broadcast:foo")) > 3500  # the default expiry, 3600 s
    ws = server.connect("/ws/foo?subscribe-broadcast")
    try:
        assert ws.recv() == "persisted"
        wait_attached(server, redis_server, 1)
        broadcast(redis_url, "live")
        assert ws.recv() == "live"
    finally:
        ws.close()


def test_expire_zero_does_not_persist_and_forgets_the_previous_message(live_server, redis_server, redis_url):
    server = live_server()
    broadcast(redis_url, "old")
    broadcast(redis_url, "fleeting", expire=0)
    assert redis_keys(redis_server) == set()
    ws = server.connect("/ws/foo?subscribe-broadcast")
    try:
        wait_attached(server, redis_server, 1)
        broadcast(redis_url, "live", expire=0)
        assert ws.recv() == "live"  # neither "old" nor "fleeting" was replayed first
    finally:
        ws.close()


def test_expire_setting_zero_disables_persistence(live_server, redis_server, redis_url):
    server = live_server(expire=0, allowed_channels=PUBLISHING)
    ws = server.connect("/ws/foo?subscribe-broadcast&publish-broadcast&echo")
    try:
        wait_attached(server, redis_server, 1)
        ws.send("not kept")
        assert ws.recv() == "not kept"
        assert redis_keys(redis_server) == set()
    finally:
        ws.close()


def test_replay_racing_live_messages_never_duplicates_or_reorders(live_server, redis_server, redis_url):
    """Sockets connect while a publisher persists 1, 2, 3, ...: each sees one contiguous run."""
    server = live_server()
    client = redis.Redis.from_url(redis_url)
    stop = False

    def publish_numbers() -> int:
        n = 0
        while not stop:
            n += 1
            RedisPublisher(facility="race", broadcast=True, connection=client).publish_message(str(n))
            gevent.sleep(0)
        return n

    publisher = gevent.spawn(publish_numbers)
    sockets = []
    try:
        for _ in range(20):
            sockets.append(server.connect("/ws/race?subscribe-broadcast"))
            gevent.sleep(0.005)
        wait_attached(server, redis_server, len(sockets))
        stop = True
        last = publisher.get(timeout=5)
        RedisPublisher(facility="race", broadcast=True, connection=client).publish_message("end")
        for ws in sockets:
            received = []
            while (message := ws.recv()) != "end":
                received.append(int(message))
            assert received, "a socket connected mid-stream saw no message"
            assert received == list(range(received[0], received[0] + len(received))), received
            assert received[-1] == last
    finally:
        stop = True
        publisher.kill()
        for ws in sockets:
            ws.close()
        client.close()


def test_without_echo_a_socket_skips_only_its_own_publications(live_server, redis_server, redis_url):
    server = live_server(allowed_channels=PUBLISHING)
    first = server.connect("/ws/foo?subscribe-broadcast&publish-broadcast")
    second = server.connect("/ws/foo?subscribe-broadcast&publish-broadcast")
    try:
        wait_attached(server, redis_server, 2)
        first.send("same words")
        assert second.recv() == "same words"
        broadcast(redis_url, "marker")
        assert first.recv() == "marker"  # its own message was not echoed
        assert second.recv() == "marker"
        # An identical message from someone else is not mistaken for an echo.
        second.send("same words")
        assert first.recv() == "same words"
        broadcast(redis_url, "marker 2")
        assert second.recv() == "marker 2"
    finally:
        first.close()
        second.close()


def test_with_echo_a_socket_receives_its_own_publications(live_server, redis_server):
    server = live_server(allowed_channels=PUBLISHING)
    ws = server.connect("/ws/foo?subscribe-broadcast&publish-broadcast&echo")
    try:
        wait_attached(server, redis_server, 1)
        ws.send("hello me")
        assert ws.recv() == "hello me"
    finally:
        ws.close()


def allow_everything(request, channels):
    return channels


def allow_nothing_special(request, channels):
    return None  # keep the default: subscribe only


def allow_only_alice(request, channels):
    if request.identity.user != "alice":
        raise PermissionDenied("not alice")
    return channels


@pytest.mark.parametrize(
    ("settings", "may_publish"),
    [
        pytest.param({}, False, id="default-off"),
        pytest.param({"allowed_channels": PUBLISHING}, True, id="list"),
        pytest.param({"allowed_channels": ["subscribe-broadcast"]}, False, id="list-without-publish"),
        pytest.param({"allowed_channels": allow_everything}, True, id="callback"),
        pytest.param({"allowed_channels": allow_nothing_special}, False, id="callback-none-keeps-default"),
        pytest.param({"allowed_channels": allow_only_alice, "resolver": header_resolver}, True,
                     id="callback-sees-identity"),
    ],
)
def test_who_may_publish(live_server, redis_server, redis_url, settings, may_publish):
    server = live_server(**settings)
    headers = identity_headers(user="alice")
    publisher = server.connect("/ws/foo?subscribe-broadcast&publish-broadcast", header=headers)
    listener = server.connect("/ws/foo?subscribe-broadcast", header=headers)
    try:
        wait_attached(server, redis_server, 2)
        publisher.send("from the browser")
        if may_publish:
            assert listener.recv() == "from the browser"
            assert redis_server.cli("GET", "broadcast:foo") == "from the browser"
        broadcast(redis_url, "marker")
        assert listener.recv() == "marker"
        if not may_publish:
            assert publisher.recv() == "marker"  # still subscribed, just not publishing
    finally:
        publisher.close()
        listener.close()


def test_redis_cli_publish_reaches_a_subscriber(live_server, redis_server):
    server = live_server()
    ws = server.connect("/ws/foo?subscribe-broadcast")
    try:
        wait_attached(server, redis_server, 1)
        assert redis_server.cli("PUBLISH", "broadcast:foo", "hello") == "1"
        assert ws.recv() == "hello"
    finally:
        ws.close()


def test_publish_message_returns_the_receiver_count(live_server, redis_server, redis_url):
    assert broadcast(redis_url, "nobody listens") == 0
    first, second = live_server(), live_server()
    sockets = [first.connect("/ws/foo?subscribe-broadcast"), first.connect("/ws/foo?subscribe-broadcast")]
    try:
        wait_attached(first, redis_server, 2)
        # Two sockets, one process: Redis counts the process's single pub/sub connection.
        assert broadcast(redis_url, "one process") == 1
        sockets.append(second.connect("/ws/foo?subscribe-broadcast"))
        wait_attached(second, redis_server, 1)
        assert broadcast(redis_url, "two processes") == 2
        both = RedisPublisher(facility="foo", broadcast=True, users=["nobody"], connection=redis_url)
        assert both.publish_message("broadcast and a user nobody listens to") == 2
        assert broadcast(redis_url, "") == 0  # an empty message is not published
    finally:
        for ws in sockets:
            ws.close()


def test_fetch_message_for_each_audience(redis_server, redis_url):
    configure(connection=redis_url, resolver=header_resolver)
    request = blank_request(user="alice", groups=["staff"], session="s1")
    for audience, names in (("broadcast", {"broadcast": True}), ("user", {"users": ["alice"]}),
                            ("group", {"groups": ["staff"]}), ("session", {"sessions": ["s1"]})):
        RedisPublisher(facility="foo", **names).publish_message(f"for the {audience}")
    fetch = RedisPublisher().fetch_message
    for audience in ("broadcast", "user", "group", "session"):
        assert fetch(request, "foo", audience) == f"for the {audience}".encode()
    # "any": the most specific message wins; deleting it reveals the next one.
    for name, expected in (("session:s1:foo", "session"), ("user:alice:foo", "user"),
                           ("group:staff:foo", "group"), ("broadcast:foo", "broadcast")):
        assert fetch(request, "foo") == f"for the {expected}".encode()
        redis_server.cli("DEL", name)
    assert fetch(request, "foo") is None
    assert fetch(request, "other", "broadcast") is None
    # An anonymous request has no user, group or session message, only broadcast.
    RedisPublisher(facility="foo", broadcast=True).publish_message("public")
    RedisPublisher(facility="foo", users=["alice"]).publish_message("alice's")
    assert fetch(blank_request(), "foo", "user") is None
    assert fetch(blank_request(), "foo") == b"public"
    with pytest.raises(ValueError, match="audience"):
        fetch(request, "foo", "everyone")

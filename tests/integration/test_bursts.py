"""Bursts: many messages in one read from Redis reach each socket complete and in Redis's order.

The hub hands consecutive messages of one channel to a socket as one run; these tests publish in
one pipelined round trip, so that the hub reads them as one batch of interleaved runs.
"""

from __future__ import annotations

import redis

from wsredis_middleware import Identity

from .support import wait_attached

ORDER = [("broadcast:burst", "b1"), ("broadcast:burst", "b2"), ("user:ann:burst", "u1"),
         ("broadcast:burst", "b3"), ("user:ann:burst", "u2"), ("user:ann:burst", "u3"),
         ("broadcast:burst", "b4")] * 50


def publish_pipelined(redis_url: str, messages: list[tuple[str, str]]) -> None:
    with redis.Redis.from_url(redis_url) as client:
        pipe = client.pipeline(transaction=False)
        for channel, payload in messages:
            pipe.publish(channel, payload)
        pipe.execute()


def test_interleaved_channels_keep_redis_order(live_server, redis_server, redis_url):
    server = live_server(resolver=lambda request: Identity(user="ann"))
    both = server.connect("/ws/burst?subscribe-broadcast&subscribe-user")
    only_broadcast = server.connect("/ws/burst?subscribe-broadcast")
    try:
        wait_attached(server, redis_server, 2)
        publish_pipelined(redis_url, ORDER)
        assert [both.recv() for _ in ORDER] == [payload for _, payload in ORDER]
        expected = [payload for channel, payload in ORDER if channel == "broadcast:burst"]
        assert [only_broadcast.recv() for _ in expected] == expected
    finally:
        both.close()
        only_broadcast.close()


def test_own_publication_inside_a_burst_is_filtered_and_the_rest_kept(live_server, redis_server, redis_url):
    server = live_server(allowed_channels=["subscribe-broadcast", "publish-broadcast"])
    author = server.connect("/ws/burst?subscribe-broadcast&publish-broadcast")  # no echo
    listener = server.connect("/ws/burst?subscribe-broadcast")
    try:
        wait_attached(server, redis_server, 2)
        author.send("mine")
        assert listener.recv() == "mine"  # published, so the author's filter expects it back
        publish_pipelined(redis_url, [("broadcast:burst", f"other {n}") for n in range(100)])
        others = [f"other {n}" for n in range(100)]
        assert [author.recv() for _ in others] == others  # its own message never came back
        assert [listener.recv() for _ in others] == others
    finally:
        author.close()
        listener.close()

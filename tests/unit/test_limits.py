"""The abuse limits' bookkeeping: per-address counting and the publication token bucket."""

from __future__ import annotations

import pytest

from wsredis_middleware.exceptions import HandshakeError
from wsredis_middleware.limits import AddressLimiter, PublishRate, check_subscription_count


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("127.0.0.1", id="loopback"),
        pytest.param("::1", id="loopback-v6"),
        pytest.param("10.1.2.3", id="private-10"),
        pytest.param("192.168.0.7", id="private-192"),
        pytest.param("fd00::1", id="unique-local-v6"),
        pytest.param("203.0.113.9", id="documentation-range"),
        pytest.param("", id="unix-socket-peer"),
    ],
)
def test_shared_addresses_are_not_counted(address):
    limiter = AddressLimiter(limit=1)
    keys = [limiter.acquire({"REMOTE_ADDR": address}) for _ in range(5)]
    assert keys == [None] * 5


def test_public_address_is_limited_and_released():
    limiter = AddressLimiter(limit=2)
    environ = {"REMOTE_ADDR": "1.2.3.4"}
    first, second = limiter.acquire(environ), limiter.acquire(environ)
    with pytest.raises(HandshakeError) as refused:
        limiter.acquire(environ)
    assert refused.value.status == "429 Too Many Requests"
    assert "WS4REDIS_MAX_SOCKETS_PER_ADDRESS" in refused.value.reason
    assert limiter.acquire({"REMOTE_ADDR": "5.6.7.8"}) == "5.6.7.8"  # others are unaffected
    limiter.release(first)
    assert limiter.acquire(environ) == "1.2.3.4"
    limiter.release(second)


def test_zero_means_unlimited():
    limiter = AddressLimiter(limit=0)
    assert all(limiter.acquire({"REMOTE_ADDR": "1.2.3.4"}) is None for _ in range(1000))
    check_subscription_count(10_000, 0)
    assert all(PublishRate(0).allow() for _ in range(1000))


def test_subscription_count():
    check_subscription_count(100, 100)
    with pytest.raises(HandshakeError) as refused:
        check_subscription_count(101, 100)
    assert refused.value.status.startswith("400")
    assert "101 channels" in refused.value.reason and "WS4REDIS_MAX_SUBSCRIPTIONS" in refused.value.reason


def test_publish_rate_allows_one_seconds_burst_then_refills():
    rate = PublishRate(5)
    assert [rate.allow() for _ in range(6)] == [True] * 5 + [False]
    rate._updated -= 0.4  # 0.4 s later: two tokens have come back
    assert [rate.allow() for _ in range(3)] == [True, True, False]

"""A socket's place in the hub: runs, the echo filter and holding, without any network."""

from __future__ import annotations

from wsredis_middleware.frames import encode_message
from wsredis_middleware.subscription import Subscription

CHANNEL = b"broadcast:chat"


class RecordingSocket:
    """Stands in for a WebSocket: records what the subscription hands over, in order."""

    def __init__(self) -> None:
        self.batches: list[bytes] = []
        self.sent: list[bytes] = []

    def batch_frame(self, frame: bytes, touched: list[object]) -> None:
        if self not in touched:
            touched.append(self)
        self.batches.append(frame)

    def send_frame(self, frame: bytes) -> None:
        self.sent.append(frame)


def run_of(*payloads: bytes) -> tuple[list[bytes], list[bytes], bytes]:
    frames = [encode_message(p) for p in payloads]
    return list(payloads), frames, b"".join(frames)


def live_subscription(*, echo: bool = False) -> tuple[Subscription, RecordingSocket]:
    subscription = Subscription((CHANNEL,), echo=echo)
    socket = RecordingSocket()
    subscription.release(socket)  # type: ignore[arg-type]
    return subscription, socket


def test_a_run_is_handed_over_as_one_chunk():
    subscription, socket = live_subscription()
    payloads, frames, joined = run_of(b"a", b"b", b"c")
    touched: list[object] = []
    subscription.deliver_run(CHANNEL, payloads, frames, joined, touched)  # type: ignore[arg-type]
    assert socket.batches == [joined]
    assert touched == [socket]


def test_own_publication_inside_a_run_is_dropped_and_the_rest_kept_in_order():
    subscription, socket = live_subscription()
    subscription.expect_own(["broadcast:chat"], b"mine")
    payloads, frames, joined = run_of(b"a", b"mine", b"b", b"mine")
    subscription.deliver_run(CHANNEL, payloads, frames, joined, [])
    # The first "mine" is ours; the second, identical, was published by someone else.
    assert socket.batches == [encode_message(b"a"), encode_message(b"b"), encode_message(b"mine")]


def test_with_echo_nothing_is_filtered():
    subscription, socket = live_subscription(echo=True)
    subscription.expect_own(["broadcast:chat"], b"mine")
    payloads, frames, joined = run_of(b"mine", b"a")
    subscription.deliver_run(CHANNEL, payloads, frames, joined, [])
    assert socket.batches == [joined]


def test_messages_before_the_upgrade_are_held_then_sent_in_order():
    subscription = Subscription((CHANNEL,), echo=False)
    first, second = run_of(b"1", b"2"), run_of(b"3")
    subscription.deliver_run(CHANNEL, *first, [])
    subscription.deliver_run(CHANNEL, *second, [])
    assert subscription.held_channels == {CHANNEL}
    socket = RecordingSocket()
    subscription.release(socket)  # type: ignore[arg-type]
    assert socket.sent == [encode_message(b"1"), encode_message(b"2"), encode_message(b"3")]
    assert subscription.held_channels == frozenset()

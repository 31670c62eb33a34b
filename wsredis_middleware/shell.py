"""``wsredis publish`` and ``wsredis listen``: Redis pub/sub from a shell, a script or a cron job.

    wsredis publish chat "Deploy finished" --broadcast --expire 0     # prints the receiver count
    echo '{"level": "warning"}' | wsredis publish alerts - --group staff
    wsredis listen chat --broadcast --user john                       # [channel] message, one a line

Both speak to Redis directly with the channel names the middleware uses, so they need no running
server and see exactly what browsers would.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

from .cli import CommandError, connection_url, parse_connection, quick_pool, redis_failure

if TYPE_CHECKING:
    from .config import Config

__all__ = ["audience_channels", "cmd_listen", "cmd_publish"]


def audience_channels(args: argparse.Namespace) -> tuple[Config, list[str]]:
    """The Config for ``--redis``/``--prefix`` and the Redis channel names the audience flags name."""
    from .channels import channel_name, check_facility
    from .config import Config
    from .exceptions import ConfigurationError

    try:
        check_facility(args.facility)
        config = Config.from_kwargs(connection=parse_connection(connection_url(args)), prefix=args.prefix)
    except (ValueError, ConfigurationError) as exc:
        raise CommandError(str(exc)) from None
    names = [channel_name(config.prefix, "broadcast", args.facility)] if args.broadcast else []
    for audience, values in (("user", args.user), ("group", args.group), ("session", args.session)):
        names.extend(channel_name(config.prefix, audience, args.facility, value) for value in values)
    if not names:
        raise CommandError("name an audience: --broadcast, --user NAME, --group NAME or --session KEY")
    return config, names


def cmd_publish(args: argparse.Namespace) -> int:
    """Publish one message to the named audiences and print how many subscribers Redis counted."""
    import redis

    from .publisher import RedisPublisher

    config, _names = audience_channels(args)
    if args.message == "-":
        data = sys.stdin.buffer.read()
        data = data[:-2] if data.endswith(b"\r\n") else data[:-1] if data.endswith(b"\n") else data
    else:
        data = os.fsencode(args.message)  # the bytes the shell passed, even if they are not UTF-8
    if not data:
        raise CommandError("the message is empty; WebSocket clients never receive empty messages")
    if args.expire is not None and args.expire < 0:
        raise CommandError("--expire must be 0 (do not keep) or a number of seconds")
    publisher = RedisPublisher(facility=args.facility, broadcast=args.broadcast, users=args.user,
                               groups=args.group, sessions=args.session, connection=config)
    try:
        receivers = publisher.publish_message(data, expire=args.expire)
    except redis.RedisError as exc:
        raise redis_failure(config.connection.description, exc) from None
    print(receivers, flush=True)
    return 0


def cmd_listen(args: argparse.Namespace) -> int:
    """Print ``[channel] message`` for every message on the named channels until Ctrl-C or SIGTERM."""
    import redis

    config, names = audience_channels(args)
    signal.signal(signal.SIGTERM, _interrupt)
    # No read timeout: a quiet facility is normal, the listener waits for as long as it takes.
    client = redis.Redis(connection_pool=quick_pool(config.connection, socket_timeout=None))
    pubsub = client.pubsub()
    received = 0
    try:
        pubsub.subscribe(*names)
        confirmed = 0
        while confirmed < len(names):  # subscribed for sure before saying so
            reply = pubsub.get_message(timeout=5.0)
            if reply is None:
                raise redis.TimeoutError("no SUBSCRIBE confirmation within 5 s")
            confirmed += reply["type"] == "subscribe"
        print(f"wsredis: listening on {', '.join(names)} at {config.connection.description}; Ctrl-C stops",
              file=sys.stderr, flush=True)
        for reply in pubsub.listen():
            if reply["type"] != "message":
                continue
            print(f"[{_text(reply['channel'])}] {_text(reply['data'])}", flush=True)
            received += 1
            if args.count and received >= args.count:
                break
    except KeyboardInterrupt:
        pass
    except redis.RedisError as exc:
        raise redis_failure(config.connection.description, exc) from None
    finally:
        pubsub.close()
        client.close()
    return 0


def _text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return repr(value)  # binary payloads stay readable and on one line


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt

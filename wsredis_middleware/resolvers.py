"""Who is on the other end of a socket: the ``Identity`` a resolver derives from a request.

A resolver is any callable ``(request) -> Identity``. The generic middleware passes a WebOb
``Request``; the Django and Flask integrations pass their own request objects. A resolver may raise
:class:`~wsredis_middleware.PermissionDenied` to refuse the handshake with HTTP 403.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

__all__ = ["Identity", "resolve_anonymous", "resolve_remote_user"]


@dataclasses.dataclass(frozen=True)
class Identity:
    """The user name, group names and session key a socket subscribes and publishes as.

    ``None`` (or no groups) means "not known": such a socket gets no user, group or session
    channel, so anonymous visitors never share a channel.
    """

    user: str | None = None
    groups: tuple[str, ...] = ()
    session: str | None = None

    def __init__(self, user: str | None = None, groups: Iterable[str] = (), session: str | None = None) -> None:
        object.__setattr__(self, "user", user or None)
        object.__setattr__(self, "groups", tuple(dict.fromkeys(g for g in groups if g)))
        object.__setattr__(self, "session", session or None)


ANONYMOUS = Identity()


def resolve_anonymous(request: Any) -> Identity:
    """Every socket is anonymous: broadcast channels only."""
    return ANONYMOUS


def resolve_remote_user(request: Any) -> Identity:
    """The user an upstream authenticator put in the WSGI ``REMOTE_USER`` variable, if any.

    Clients cannot forge ``REMOTE_USER`` (request headers arrive as ``HTTP_*``), so this is safe
    behind HTTP authentication done by the server or by outer middleware.
    """
    return Identity(user=request.environ.get("REMOTE_USER"))

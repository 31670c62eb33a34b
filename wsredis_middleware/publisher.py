"""Publishing from server code: views, tasks, scripts.

    from wsredis_middleware import RedisPublisher, SELF

    RedisPublisher(facility="chat", broadcast=True).publish_message("Hello World")
    RedisPublisher(facility="chat", users=["john", "mary"]).publish_message("Hi both")
    RedisPublisher(facility="chat", groups=[SELF], request=request).publish_message("To my groups")

Without ``connection=`` the active configuration is used: the framework integration's settings,
else the first middleware built in this process, else :func:`wsredis_middleware.connection.configure`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from .channels import AUDIENCES, channel_name, check_facility, identity_names
from .redis_store import SELF, RedisMessage, RedisStore

if TYPE_CHECKING:
    from .connection import ConnectionArg
    from .resolvers import Identity

__all__ = ["RedisPublisher"]

_FETCH_ORDER = ("session", "user", "group", "broadcast")  # most specific first, as ws4redis did


class RedisPublisher(RedisStore):
    """Publishes to the channels of one facility for the given audiences."""

    def __init__(
        self,
        *,
        facility: str = "",
        broadcast: bool = False,
        users: Iterable[Any] = (),
        groups: Iterable[Any] = (),
        sessions: Iterable[Any] = (),
        request: Any = None,
        connection: ConnectionArg = None,
    ) -> None:
        super().__init__(connection)
        self._request = request
        self._identity: Identity | None = None
        if facility:
            check_facility(facility)
            if broadcast:
                self._publishers.add(channel_name(self._config.prefix, "broadcast", facility))
            for audience, names in (("user", users), ("group", groups), ("session", sessions)):
                for name in self._expand(audience, names):
                    self._publishers.add(channel_name(self._config.prefix, audience, facility, name))
        elif broadcast or any((users, groups, sessions)):
            raise ValueError("RedisPublisher needs a facility to publish to")

    def _expand(self, audience: str, names: Iterable[Any]) -> list[str]:
        expanded: list[str] = []
        for name in names:
            if name is SELF:
                expanded.extend(identity_names(audience, self._identity_of(self._request)))
            elif isinstance(name, str) and name:
                expanded.append(name)
            else:
                raise ValueError(f"{audience} names must be non-empty strings or SELF, not {name!r}")
        return expanded

    def _identity_of(self, request: Any) -> Identity:
        if request is None:
            raise ValueError("SELF needs the request: RedisPublisher(..., request=request)")
        identity: Identity | None = getattr(request, "identity", None)
        if identity is None:
            identity = cast("Identity", self._config.resolver(request))
        return identity

    def fetch_message(self, request: Any, facility: str, audience: str = "any") -> RedisMessage | None:
        """The persisted message for *request* on *facility*, or None.

        *audience* is ``broadcast``, ``user``, ``group``, ``session`` or ``any``; with ``any`` the
        most specific message wins (session, then user, then groups, then broadcast).
        """
        if audience != "any" and audience not in AUDIENCES:
            raise ValueError(f"audience must be one of {', '.join(AUDIENCES)} or 'any', not {audience!r}")
        check_facility(facility)
        identity = self._identity_of(request)
        prefix = self._config.prefix
        names: list[str] = []
        for each in _FETCH_ORDER if audience == "any" else (audience,):
            if each == "broadcast":
                names.append(channel_name(prefix, "broadcast", facility))
            else:
                names.extend(channel_name(prefix, each, facility, n) for n in identity_names(each, identity))
        if not names:
            return None
        for value in self._connection.mget(names):
            if value:
                return RedisMessage(value)
        return None

"""Who a Flask request is: its user, the user's groups and its session, as an ``Identity``.

The user comes from ``WS4REDIS_USER_LOADER`` when set, else from Flask-Login's ``current_user``
when the app has a ``LoginManager``, else from the WSGI ``REMOTE_USER``. Groups come from
``WS4REDIS_GROUP_LOADER`` (none without it). The session id is described in
:mod:`wsredis_middleware.contrib.flask.sessions`.

The resolver needs a request context. The extension pushes one around every WebSocket handshake,
so loaders may use ``flask.session``, ``flask.g`` and ``current_user`` just as views do; and in a
view, ``RedisPublisher(users=[SELF], request=flask.request)`` resolves the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import flask

from ...config import load_object
from ...exceptions import ConfigurationError
from ...resolvers import Identity
from .sessions import session_key

__all__ = ["GROUP_LOADER_SETTING", "USER_LOADER_SETTING", "FlaskResolver"]

#: ``(request) -> str | None``: the user name of a request, or None when anonymous.
USER_LOADER_SETTING = "WS4REDIS_USER_LOADER"
#: ``(request, user) -> iterable of str``: the group names of a (non-anonymous) user.
GROUP_LOADER_SETTING = "WS4REDIS_GROUP_LOADER"

UserLoader = Callable[[Any], Any]
GroupLoader = Callable[[Any, str], Iterable[str]]


class FlaskResolver:
    """The default resolver of an app using the extension: ``(flask.request) -> Identity``."""

    def __init__(self, *, user_loader: UserLoader | None = None, group_loader: GroupLoader | None = None) -> None:
        self.user_loader = user_loader
        self.group_loader = group_loader

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FlaskResolver:
        """Read the two loader settings (callables or dotted paths) from ``app.config``."""
        return cls(
            user_loader=_loader(config.get(USER_LOADER_SETTING), USER_LOADER_SETTING),
            group_loader=_loader(config.get(GROUP_LOADER_SETTING), GROUP_LOADER_SETTING),
        )

    def __call__(self, request: Any) -> Identity:
        if not flask.has_request_context():
            raise RuntimeError(
                "the Flask resolver needs a request context: pass flask.request from a view, "
                "e.g. RedisPublisher(..., users=[SELF], request=flask.request)"
            )
        user = self.load_user(request)
        groups = self.load_groups(request, user) if user is not None else ()
        # Never create a session id here: a socket can only be on a session channel whose id was
        # already stored, and resolving (e.g. users=[SELF] in a view) should not set a cookie.
        return Identity(user=user, groups=groups, session=session_key(create=False))

    def load_user(self, request: Any) -> str | None:
        """The user name: the configured loader's, Flask-Login's, or ``REMOTE_USER``."""
        if self.user_loader is not None:
            user = self.user_loader(request)
        elif getattr(flask.current_app, "login_manager", None) is not None:
            user = _flask_login_user()
        else:
            user = request.environ.get("REMOTE_USER")
        if user is None or user == "":
            return None
        if isinstance(user, bool) or not isinstance(user, (str, int)):
            raise TypeError(f"{USER_LOADER_SETTING} must return a user name (str) or None, not {user!r}")
        return str(user)

    def load_groups(self, request: Any, user: str) -> tuple[str, ...]:
        """The group names of *user* from the configured loader; none without one."""
        if self.group_loader is None:
            return ()
        groups = self.group_loader(request, user)
        if groups is None:
            return ()
        names = () if isinstance(groups, str) else tuple(groups)
        if isinstance(groups, str) or not all(isinstance(name, str) for name in names):
            raise TypeError(f"{GROUP_LOADER_SETTING} must return an iterable of group names, not {groups!r}")
        return names


def _flask_login_user() -> str | None:
    from flask_login import current_user  # type: ignore[import-untyped]

    if current_user is None or not current_user.is_authenticated:
        return None
    user_id = current_user.get_id()
    return None if user_id is None else str(user_id)


def _loader(value: Any, setting: str) -> Any:
    loader = load_object(value, setting)
    if loader is not None and not callable(loader):
        raise ConfigurationError(f"{setting} must be a callable or a dotted path to one, not {loader!r}.")
    return loader

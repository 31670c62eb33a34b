"""The Django resolver: user, groups and session of a WebSocket request, without the database.

The session comes from ``SESSION_ENGINE`` and the ``SESSION_COOKIE_NAME`` cookie. A session is
logged in when it holds Django's user id and a backend listed in ``AUTHENTICATION_BACKENDS``; the
user name and groups then come from the user's identity record in Redis (current even after an
admin changed the groups), else from the copy the login receiver put in the session. Only a
session logged in before this app was installed, which has neither, falls back to
``request.user`` and so to the database.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject, empty

from wsredis_middleware.resolvers import Identity

from .identity import SESSION_GROUPS_KEY, SESSION_USERNAME_KEY, group_names, read_record

__all__ = ["resolve_django_identity"]

# django.contrib.auth's session keys, spelled out so that this module imports without the app.
_USER_ID_KEY = "_auth_user_id"
_BACKEND_KEY = "_auth_user_backend"
_HASH_KEY = "_auth_user_hash"


def resolve_django_identity(request: Any) -> Identity:
    """``WS4REDIS_RESOLVER``'s default under Django: ``Identity(user, groups, session)``."""
    session = getattr(request, "session", None)
    session_key = _session_key(session)
    user = getattr(request, "user", None)
    if user is not None and not _is_pending(user):
        # WS4REDIS_PROCESS_REQUEST (or a test) put a user object there: trust it as Django would.
        return _identity_of_user(user, session, session_key)
    if session is None or session.get(_USER_ID_KEY) is None:
        return Identity(session=session_key)
    if session.get(_BACKEND_KEY) not in settings.AUTHENTICATION_BACKENDS:
        return Identity(session=session_key)
    record = read_record(session[_USER_ID_KEY])
    if record is not None:
        session_hash = session.get(_HASH_KEY) or ""
        verified = not record.hashes or any(constant_time_compare(session_hash, h) for h in record.hashes)
        if not (record.active and verified and record.username):
            return Identity(session=session_key)  # deactivated, deleted, or password changed since
        return Identity(record.username, record.groups, session_key)
    username = session.get(SESSION_USERNAME_KEY)
    if username is None and user is not None:
        return _identity_of_user(user, session, session_key)  # logged in before the app was installed
    return Identity(username, session.get(SESSION_GROUPS_KEY) or (), session_key)


def _session_key(session: Any) -> str | None:
    """The session's key once loaded: a key the store does not know is dropped by loading."""
    if session is None:
        return None
    session.keys()  # loads; db and cache stores forget a key they do not hold
    key: str | None = session.session_key
    return key


def _is_pending(user: Any) -> bool:
    """True for the lazy ``request.user`` nobody has looked at yet (looking costs a query)."""
    return isinstance(user, SimpleLazyObject) and user._wrapped is empty


def _identity_of_user(user: Any, session: Any, session_key: str | None) -> Identity:
    if not getattr(user, "is_authenticated", False):
        return Identity(session=session_key)
    record = read_record(user.pk)  # fresher than the session's copy when an admin changed groups
    if record is not None:
        groups: Any = record.groups
    elif session is not None and session.get(SESSION_GROUPS_KEY) is not None:
        groups = session[SESSION_GROUPS_KEY]
    else:
        groups = group_names(user)
    return Identity(user.get_username(), groups, session_key)

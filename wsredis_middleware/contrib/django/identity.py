"""What the WebSocket handshake knows about a logged-in user, kept where it needs no database.

ws4redis's rule holds here: opening a WebSocket must not query the database. Two places carry a
user's name and groups to the handshake:

* the session, written by the ``user_logged_in`` receiver: ``ws4redis:memberof`` (the group
  names, the key and format ws4redis used, so its sessions keep working) and
  ``ws4redis:username``;
* an *identity record* in Redis under ``[prefix:]wsredis:identity:<user pk>``, written at login
  and again whenever the user's groups, name, password or active flag change. A session cannot
  be found from another request (an admin editing john), a record keyed by the user can, so the
  record is what makes those changes reach sockets opened later. It also carries the
  session-auth hashes Django would check, so a password change logs out WebSockets as it logs out
  pages. Its lifetime is ``SESSION_COOKIE_AGE``; when it has expired the session's copy is used.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

import redis
from django.conf import settings
from django.db import transaction

from wsredis_middleware.connection import client_for

from .conf import get_config

__all__ = [
    "SESSION_GROUPS_KEY", "SESSION_USERNAME_KEY", "IdentityRecord", "group_names", "read_record",
    "record_key", "refresh_records", "remember_login", "write_record",
]

logger = logging.getLogger(__name__)

SESSION_GROUPS_KEY = "ws4redis:memberof"
SESSION_USERNAME_KEY = "ws4redis:username"


class IdentityRecord:
    """A user's name, groups, active flag and valid session-auth hashes, as stored in Redis."""

    __slots__ = ("active", "groups", "hashes", "username")

    def __init__(self, username: str, groups: Iterable[str], active: bool, hashes: Iterable[str]) -> None:
        self.username = username
        self.groups = tuple(groups)
        self.active = active
        self.hashes = tuple(hashes)

    @classmethod
    def of_user(cls, user: Any) -> IdentityRecord:
        """Build the record from a user instance (queries the user's groups)."""
        hashes: list[str] = []
        if hasattr(user, "get_session_auth_hash"):
            hashes.append(user.get_session_auth_hash())
            hashes.extend(user.get_session_auth_fallback_hash())
        return cls(user.get_username(), group_names(user), bool(getattr(user, "is_active", True)), hashes)

    def to_json(self) -> str:
        return json.dumps({"username": self.username, "groups": list(self.groups),
                           "active": self.active, "hashes": list(self.hashes)})

    @classmethod
    def from_json(cls, data: bytes | str) -> IdentityRecord | None:
        try:
            value = json.loads(data)
            return cls(str(value["username"]), [str(g) for g in value["groups"]],
                       bool(value["active"]), [str(h) for h in value["hashes"]])
        except (ValueError, KeyError, TypeError):
            return None  # written by something else: ignore it, the session still knows


def group_names(user: Any) -> list[str]:
    """The names of *user*'s groups, sorted; empty for user models without groups."""
    groups = getattr(user, "groups", None)
    if groups is None:
        return []
    return sorted(groups.values_list("name", flat=True))


def record_key(user_pk: Any) -> str:
    prefix = get_config().prefix
    return f"{prefix}:wsredis:identity:{user_pk}" if prefix else f"wsredis:identity:{user_pk}"


def _client() -> redis.Redis:
    config = get_config()
    return client_for(config.connection, max_connections=config.max_connections)


def read_record(user_pk: Any) -> IdentityRecord | None:
    """The stored record of the user with primary key *user_pk*, or None (one Redis GET).

    With Redis unreachable the session's copy is used: the socket cannot subscribe then anyway,
    and the middleware answers that with its own close code rather than an error page.
    """
    try:
        data = _client().get(record_key(user_pk))
    except redis.RedisError as exc:
        logger.warning("could not read the WebSocket identity of user %r from Redis: %s", user_pk, exc)
        return None
    return IdentityRecord.from_json(data) if data else None


def write_record(user: Any) -> None:
    """Store *user*'s current record for ``SESSION_COOKIE_AGE`` seconds."""
    record = IdentityRecord.of_user(user)
    _client().set(record_key(user.pk), record.to_json(), ex=max(1, int(settings.SESSION_COOKIE_AGE)))


def remember_login(request: Any, user: Any) -> None:
    """Put the user's name and groups in the session and refresh their record (at login)."""
    record = IdentityRecord.of_user(user)
    if getattr(request, "session", None) is not None:
        request.session[SESSION_USERNAME_KEY] = record.username
        request.session[SESSION_GROUPS_KEY] = list(record.groups)
    try:
        _client().set(record_key(user.pk), record.to_json(), ex=max(1, int(settings.SESSION_COOKIE_AGE)))
    except redis.RedisError as exc:
        # The login itself must not fail: the session's copy is enough until the next change.
        logger.error("could not store the WebSocket identity of %r in Redis: %s", record.username, exc)


def refresh_records(user_pks: Iterable[Any]) -> None:
    """Rewrite the records of these users once the current transaction commits.

    Runs after commit so that a rolled-back change never reaches Redis, and so the groups read
    are the committed ones.
    """
    pks = sorted(set(user_pks), key=str)
    if pks:
        transaction.on_commit(lambda: _refresh_now(pks))


def _refresh_now(user_pks: list[Any]) -> None:
    from django.contrib.auth import get_user_model

    model = get_user_model()
    found = {user.pk: user for user in model._default_manager.filter(pk__in=user_pks)}
    client = _client()
    for pk in user_pks:
        user = found.get(pk)
        try:
            if user is not None:
                write_record(user)
            else:
                # Deleted user: a revoked record, so the session's copy cannot bring them back.
                revoked = IdentityRecord("", (), False, ())
                client.set(record_key(pk), revoked.to_json(), ex=max(1, int(settings.SESSION_COOKIE_AGE)))
        except redis.RedisError as exc:
            logger.error("could not refresh the WebSocket identity of user %r in Redis: %s; sockets opened "
                         "before it expires may use stale groups", pk, exc)

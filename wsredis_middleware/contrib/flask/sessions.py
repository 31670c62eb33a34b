"""A stable WebSocket session id for any Flask session, server-side or signed cookie.

Django sessions have a server-side key; Flask's default session is a signed cookie and has none.
So the session channel (``subscribe-session``, ``sessions=[SELF]``) is named by:

* a server-side session's ``sid`` (Flask-Session and most server-side interfaces expose one),
  hashed, so Redis channel names and logs never reveal the cookie's secret value;
* otherwise a random id stored in the session under :data:`SESSION_ID_KEY` the first time a
  non-empty session leaves a normal request (the extension does this in ``after_request``), or
  whenever a view calls :func:`session_key`.

A WebSocket handshake cannot set a cookie, so it only reads the id; a browser whose session has
none yet gets no session channel, exactly like a Django visitor without a session.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import flask

from .state import EXTENSION_KEY

__all__ = ["HANDSHAKE_ENVIRON_KEY", "SESSION_ID_KEY", "ensure_session_key", "forget_session_key", "session_key"]

#: The cookie-session key holding the random id.
SESSION_ID_KEY = "_wsredis_sid"
#: Set in the WSGI environ of a WebSocket handshake: its session can no longer be saved.
HANDSHAKE_ENVIRON_KEY = "wsredis.flask.handshake"


def session_key(*, create: bool = True) -> str | None:
    """The WebSocket session id of the session in context, or None.

    With *create* (the default) a cookie session without an id gets one, which Flask sends back
    with this response; during a WebSocket handshake nothing is created, since nothing is saved.
    """
    session: Any = flask.session
    sid = getattr(session, "sid", None)
    if isinstance(sid, str) and sid:
        return hashlib.sha256(sid.encode("utf-8")).hexdigest()[:32]
    existing = session.get(SESSION_ID_KEY)
    if isinstance(existing, str) and existing:
        return existing
    if not create or _is_handshake() or _is_null_session(session):
        return None
    session[SESSION_ID_KEY] = value = secrets.token_hex(16)
    return value


def ensure_session_key(response: flask.Response) -> flask.Response:
    """``after_request`` hook: give every non-empty session an id before Flask saves it.

    Empty sessions are left alone: visitors without a session cookie do not get one from us.
    The session is inspected without flagging it as accessed, so responses that did not use
    it (static files) do not gain a ``Vary: Cookie`` header.
    """
    # Flask has no public way to look at the session without flagging it accessed; fall back to
    # the proxy (and an extra Vary header) should the private attribute ever go away.
    session: Any = getattr(flask.globals.request_ctx, "_session", None)
    if session is None:
        session = flask.session
    if (SESSION_ID_KEY not in session and len(session) and not getattr(session, "sid", None)
            and not _is_null_session(session)):
        session_key()
    return response


def forget_session_key(sender: flask.Flask, **_extra: Any) -> None:
    """Flask-Login ``user_logged_in`` / ``user_logged_out`` receiver: a new user, a new id.

    Like Django's key rotation at login, this keeps a browser's next user off the previous
    user's session channel.
    """
    if EXTENSION_KEY in sender.extensions and flask.has_request_context():
        flask.session.pop(SESSION_ID_KEY, None)


def _is_handshake() -> bool:
    return bool(flask.request.environ.get(HANDSHAKE_ENVIRON_KEY))


def _is_null_session(session: Any) -> bool:
    return bool(flask.current_app.session_interface.is_null_session(session))

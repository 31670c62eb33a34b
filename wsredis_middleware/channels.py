"""Channel names: the query string a socket opens with, facilities, and the Redis names they map to.

``/ws/chat?subscribe-broadcast&publish-user`` and ``/ws/chat?subscribe=broadcast&publish=user``
mean the same. Redis names are ``[prefix:]broadcast:chat``, ``user:john:chat``,
``group:staff:chat`` and ``session:<key>:chat``; the persisted message lives under the same key.
No two audiences can share a name: facilities may not contain ``:``, whitespace or control
characters, and ``%``, ``:``, whitespace and control characters in user, group and session names
are percent-encoded.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

__all__ = [
    "AUDIENCES",
    "MAX_FACILITY_LENGTH",
    "PUBLISH_KEYS",
    "QUERY_KEYS",
    "SUBSCRIBE_KEYS",
    "channel_name",
    "check_facility",
    "escape_name",
    "identity_names",
    "parse_query",
]

AUDIENCES = ("broadcast", "user", "group", "session")
SUBSCRIBE_KEYS = frozenset(f"subscribe-{audience}" for audience in AUDIENCES)
PUBLISH_KEYS = frozenset(f"publish-{audience}" for audience in AUDIENCES)
QUERY_KEYS = SUBSCRIBE_KEYS | PUBLISH_KEYS
MAX_FACILITY_LENGTH = 200


def _is_forbidden(char: str) -> bool:
    # Category C covers control, format, surrogate, private-use and unassigned code points.
    return char == ":" or char.isspace() or unicodedata.category(char)[0] == "C"


def check_facility(facility: str) -> str:
    """Return *facility* unchanged if it can name a channel, else raise ``ValueError`` saying why."""
    if not facility:
        raise ValueError("the URL names no facility: use /ws/<facility>")
    if len(facility) > MAX_FACILITY_LENGTH:
        raise ValueError(f"the facility is longer than {MAX_FACILITY_LENGTH} characters")
    if any(_is_forbidden(c) for c in facility):
        raise ValueError("the facility contains ':', whitespace or a control character")
    return facility


def escape_name(name: str) -> str:
    """Make a user, group or session name safe to embed between ``:`` separators (injective)."""
    if not any(c == "%" or _is_forbidden(c) for c in name):
        return name  # the common case: ws4redis-compatible names stay byte-identical
    return "".join(
        # surrogatepass: a lone surrogate (from a surrogateescape-decoded name) is escaped, not a crash
        "".join(f"%{b:02X}" for b in c.encode("utf-8", "surrogatepass")) if c == "%" or _is_forbidden(c) else c
        for c in name
    )


def channel_name(prefix: str, audience: str, facility: str, name: str | None = None) -> str:
    """The Redis name for one audience on one facility, e.g. ``ws:user:john:chat``."""
    head = f"{prefix}:" if prefix else ""
    if audience == "broadcast":
        return f"{head}broadcast:{facility}"
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience {audience!r}; use one of {', '.join(AUDIENCES)}")
    if name is None:
        raise ValueError(f"a {audience} channel needs a name")
    return f"{head}{audience}:{escape_name(name)}:{facility}"


def parse_query(query_string: str) -> tuple[list[str], bool]:
    """Return the channel keys a socket asks for (``subscribe-user``, ...) and whether it wants echo.

    Unknown keys are ignored, as ws4redis did; order is kept and duplicates are dropped.
    """
    keys: dict[str, None] = {}
    echo = False
    for raw_key, value in parse_qsl(query_string, keep_blank_values=True):
        key = raw_key.strip().lower()
        if key in ("subscribe", "publish"):
            candidates: Iterable[str] = (f"{key}-{v.strip().lower()}" for v in value.split(","))
        elif key == "echo":
            echo = True
            continue
        else:
            candidates = (key,)
        for candidate in candidates:
            if candidate in QUERY_KEYS:
                keys[candidate] = None
    return list(keys), echo


def identity_names(audience: str, identity: Any) -> list[str]:
    """What ``SELF`` stands for in *audience* for an identity: its user, all its groups, its session.

    Broadcast has no name; an anonymous or sessionless identity yields none.
    """
    if audience == "user":
        return [identity.user] if identity.user else []
    if audience == "group":
        return list(identity.groups) if identity.user else []
    if audience == "session":
        return [identity.session] if identity.session else []
    raise ValueError(f"{audience!r} has no per-identity names")

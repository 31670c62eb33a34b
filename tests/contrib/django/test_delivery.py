"""Logged-in Django users on real WebSockets: user, group, session and broadcast delivery, SELF,
fetch_message, WS4REDIS_PROCESS_REQUEST and the 403 of a denied handshake."""

import json
from typing import Any

import pytest
import websocket
from django.core.exceptions import PermissionDenied
from django.test import Client, override_settings

from wsredis_middleware import RedisPublisher
from wsredis_middleware.channels import channel_name
from wsredis_middleware.resolvers import Identity

from .conftest import login, open_socket, session_cookie

ALL = "/ws/chat?subscribe-user&subscribe-group&subscribe-session&subscribe-broadcast"


def publish(**audience: Any) -> int:
    """Publish as server code does: no connection argument, Django settings supply it."""
    message = audience.pop("message")
    return RedisPublisher(facility="chat", **audience).publish_message(message)


@pytest.mark.parametrize(
    "engine",
    [
        pytest.param("django.contrib.sessions.backends.db", id="db"),
        pytest.param("django.contrib.sessions.backends.cache", id="cache"),
        pytest.param("django.contrib.sessions.backends.cached_db", id="cached_db"),
        pytest.param("django.contrib.sessions.backends.signed_cookies", id="signed_cookies"),
    ],
)
def test_user_group_session_and_broadcast_reach_a_logged_in_socket(users, django_server, engine):
    server = django_server()
    with override_settings(SESSION_ENGINE=engine):
        john = login("john")
        session_key = john.session.session_key
        assert session_key
        # Signed-cookie session keys contain ':', which channel names escape.
        session_channel = channel_name("", "session", "chat", session_key)
        ws = open_socket(server, ALL, "user:john:chat", "group:chatters:chat", session_channel, "broadcast:chat",
                         cookie=session_cookie(john))
    _assert_every_audience_arrives(ws, session_key)


def _assert_every_audience_arrives(ws: Any, session_key: str) -> None:
    try:
        assert publish(users=["john"], message="to john") == 1
        assert ws.recv() == "to john"
        assert publish(groups=["chatters"], message="to chatters") == 1
        assert ws.recv() == "to chatters"
        assert publish(sessions=[session_key], message="to the session") == 1
        assert ws.recv() == "to the session"
        assert publish(broadcast=True, message="to everyone") == 1
        assert ws.recv() == "to everyone"
    finally:
        ws.close()


def test_a_message_to_john_reaches_only_john(users, django_server):
    server = django_server()
    john_ws = open_socket(server, "/ws/chat?subscribe-user", "user:john:chat", cookie=session_cookie(login("john")))
    mary_ws = open_socket(server, "/ws/chat?subscribe-user", "user:mary:chat", cookie=session_cookie(login("mary")))
    try:
        assert publish(users=["john"], message="for john only") == 1
        assert publish(users=["mary"], message="for mary") == 1
        assert john_ws.recv() == "for john only"
        assert mary_ws.recv() == "for mary"  # the first thing mary sees is hers, not john's
    finally:
        john_ws.close()
        mary_ws.close()


def test_an_anonymous_socket_gets_broadcasts_but_no_user_group_or_session_channel(users, django_server):
    server = django_server()
    ws = open_socket(server, ALL, "broadcast:chat")
    try:
        assert publish(users=["john"], groups=["chatters"], message="private") == 0
        assert publish(broadcast=True, message="public") == 1
        assert ws.recv() == "public"
    finally:
        ws.close()


def test_self_in_a_view_means_the_requesting_user_their_groups_and_their_session(users, django_server):
    server = django_server()
    john = login("john")
    key = john.session.session_key
    ws = open_socket(server, ALL, "user:john:chat", "group:chatters:chat", f"session:{key}:chat",
                     cookie=session_cookie(john))
    try:
        answer = john.post("/self/", {"message": "to myself"}).json()
        assert answer["receivers"] == 3  # user, group and session channels, all on this socket
        assert [ws.recv() for _ in range(3)] == ["to myself"] * 3
    finally:
        ws.close()


def test_self_for_an_anonymous_request_names_no_channel(users):
    client = Client()
    client.get("/fetch/any/")  # no session at all
    assert client.post("/self/", {"message": "nobody"}).json()["receivers"] == 0


@pytest.mark.parametrize(
    ("audience", "target", "expected"),
    [
        pytest.param("user", {"users": ["john"]}, "user message", id="user"),
        pytest.param("group", {"groups": ["chatters"]}, "group message", id="group"),
        pytest.param("any", {"users": ["john"], "groups": ["chatters"]}, "user and group message", id="any"),
        pytest.param("user", {"users": ["mary"]}, None, id="someone-elses"),
    ],
)
def test_fetch_message_reads_the_persisted_message_for_the_request(users, audience, target, expected):
    john = login("john")
    message = expected or "not for john"
    john.post("/to/", json.dumps({**target, "message": message}), content_type="application/json")
    assert john.get(f"/fetch/{audience}/").json() == {"message": expected}


def deny_anonymous(request: Any, channels: list[str]) -> list[str]:
    seen.append((type(request).__name__, request.session.session_key, request.user.is_authenticated))
    if not request.user.is_authenticated:
        raise PermissionDenied("log in first")
    return channels


seen: list[tuple[str, Any, bool]] = []


def test_permission_denied_from_the_callback_refuses_the_handshake_with_403(users, django_server):
    seen.clear()
    with override_settings(WS4REDIS_ALLOWED_CHANNELS=f"{__name__}.deny_anonymous"):
        server = django_server()
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        server.connect("/ws/chat?subscribe-broadcast")
    assert refused.value.status_code == 403
    john = login("john")
    ws = open_socket(server, "/ws/chat?subscribe-user", "user:john:chat", cookie=session_cookie(john))
    try:
        assert publish(users=["john"], message="let in") == 1
        assert ws.recv() == "let in"
    finally:
        ws.close()
    assert seen == [("WSGIRequest", None, False), ("WSGIRequest", john.session.session_key, True)]


def process_request(request: Any) -> None:
    """A WS4REDIS_PROCESS_REQUEST hook: authenticates by a header instead of the session."""
    from django.contrib.auth.models import User

    assert not hasattr(request, "session"), "the default session handling must be skipped"
    request.session = None
    request.user = User.objects.get(username=request.headers["X-User"])


def test_process_request_replaces_the_default_session_handling(users, django_server):
    with override_settings(WS4REDIS_PROCESS_REQUEST=f"{__name__}.process_request"):
        server = django_server()
    ws = open_socket(server, "/ws/chat?subscribe-user&subscribe-group", "user:mary:chat", "group:chatters:chat",
                     header=["X-User: mary"])
    try:
        assert publish(users=["mary"], message="hi mary") == 1
        assert ws.recv() == "hi mary"
        assert publish(groups=["chatters"], message="hi chatters") == 1
        assert ws.recv() == "hi chatters"
    finally:
        ws.close()


def test_publisher_from_a_view_request_resolves_self_with_the_django_resolver(users):
    from django.test import RequestFactory

    from wsredis_middleware.contrib.django.middleware import attach_session_and_user

    john = login("john")
    request = RequestFactory().get("/", HTTP_COOKIE=session_cookie(john))
    attach_session_and_user(request)
    publisher = RedisPublisher(facility="chat", users=[], request=request)
    assert publisher.config.resolver(request) == Identity("john", ["chatters"], john.session.session_key)


def test_a_group_change_reaches_the_next_socket_without_a_new_login(users, django_server):
    from django.contrib.auth.models import Group

    server = django_server()
    john = login("john")
    users["john"].groups.remove(Group.objects.get(name="chatters"))  # as the admin would
    users["john"].groups.add(Group.objects.get(name="staff"))
    ws = open_socket(server, "/ws/chat?subscribe-group", "group:staff:chat", cookie=session_cookie(john))
    try:
        assert publish(groups=["chatters"], message="not for john any more") == 0
        assert publish(groups=["staff"], message="welcome to staff") == 1
        assert ws.recv() == "welcome to staff"
    finally:
        ws.close()

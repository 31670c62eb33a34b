"""The identity a handshake resolves follows changes made elsewhere (groups, password, deletion),
and resolving it needs no database query."""

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext

from wsredis_middleware.contrib.django.identity import SESSION_GROUPS_KEY, SESSION_USERNAME_KEY
from wsredis_middleware.contrib.django.middleware import attach_session_and_user
from wsredis_middleware.contrib.django.resolver import resolve_django_identity
from wsredis_middleware.resolvers import Identity

from .conftest import login, session_cookie


def handshake_identity(client: Any) -> Identity:
    """What the WebSocket handshake of *client*'s browser resolves to (the middleware's own steps)."""
    request = RequestFactory().get("/ws/chat", HTTP_COOKIE=session_cookie(client))
    attach_session_and_user(request)
    return resolve_django_identity(request)


def test_login_stores_name_and_groups_in_the_session_under_ws4redis_keys(users):
    john = login("john")
    assert john.session[SESSION_USERNAME_KEY] == "john"
    assert john.session[SESSION_GROUPS_KEY] == ["chatters"]


def test_resolving_a_logged_in_session_makes_no_database_query(users):
    # Sessions in the cache, as docs/django.md recommends: reading the session is no query either.
    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.cache"):
        john = login("john")
        with CaptureQueriesContext(connection) as queries:
            identity = handshake_identity(john)
    assert identity == Identity("john", ["chatters"], john.session.session_key)
    assert [q["sql"] for q in queries.captured_queries] == []


def remove_from_group(users: dict[str, User]) -> None:
    Group.objects.get(name="chatters").user_set.remove(users["john"])


def add_to_staff(users: dict[str, User]) -> None:
    users["john"].groups.add(Group.objects.get(name="staff"))


def clear_group(users: dict[str, User]) -> None:
    Group.objects.get(name="chatters").user_set.clear()


def clear_users_groups(users: dict[str, User]) -> None:
    users["john"].groups.clear()


def rename_group(users: dict[str, User]) -> None:
    group = Group.objects.get(name="chatters")
    group.name = "talkers"
    group.save()


def delete_group(users: dict[str, User]) -> None:
    Group.objects.get(name="chatters").delete()


@pytest.mark.parametrize(
    ("change", "groups"),
    [
        pytest.param(remove_from_group, (), id="group.user_set.remove"),
        pytest.param(add_to_staff, ("chatters", "staff"), id="user.groups.add"),
        pytest.param(clear_group, (), id="group.user_set.clear"),
        pytest.param(clear_users_groups, (), id="user.groups.clear"),
        pytest.param(rename_group, ("talkers",), id="group-renamed"),
        pytest.param(delete_group, (), id="group-deleted"),
    ],
)
def test_group_changes_made_elsewhere_reach_the_next_handshake(users, change: Callable[..., None], groups):
    john = login("john")
    assert handshake_identity(john).groups == ("chatters",)
    change(users)  # as an admin would, in another request: john's session is not touched
    assert handshake_identity(john) == Identity("john", groups, john.session.session_key)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda user: (user.set_password("changed"), user.save()), id="password-changed"),
        pytest.param(lambda user: (setattr(user, "is_active", False), user.save()), id="deactivated"),
        pytest.param(lambda user: user.delete(), id="deleted"),
    ],
)
def test_a_session_django_would_log_out_gets_no_user_channel(users, change):
    john = login("john")
    change(User.objects.get(username="john"))
    assert handshake_identity(john) == Identity(session=john.session.session_key)


def test_a_renamed_user_resolves_to_the_new_name(users):
    john = login("john")
    user = User.objects.get(username="john")
    user.username = "johnny"
    user.save()
    assert handshake_identity(john).user == "johnny"


def test_without_the_redis_record_the_session_copy_is_used(users, django_redis):
    import redis

    john = login("john")
    with redis.Redis.from_url(django_redis) as client:
        client.flushall()
    assert handshake_identity(john) == Identity("john", ["chatters"], john.session.session_key)


def test_a_session_from_before_the_app_was_installed_falls_back_to_django_auth(users, django_redis):
    import redis

    john = login("john")
    session = john.session
    del session[SESSION_USERNAME_KEY]
    del session[SESSION_GROUPS_KEY]
    session.save()
    with redis.Redis.from_url(django_redis) as client:
        client.flushall()
    assert handshake_identity(john) == Identity("john", ["chatters"], session.session_key)


def test_a_forged_session_cookie_names_no_session(users):
    request = RequestFactory().get("/ws/chat", HTTP_COOKIE="sessionid=abcdefghijklmnopqrstuvwxyz012345")
    attach_session_and_user(request)
    assert resolve_django_identity(request) == Identity()


def test_with_redis_unreachable_the_handshake_still_resolves_from_the_session(users):
    from tests.conftest import free_port

    john = login("john")
    with override_settings(WS4REDIS_CONNECTION=f"redis://127.0.0.1:{free_port()}/0"):
        assert handshake_identity(john) == Identity("john", ["chatters"], john.session.session_key)

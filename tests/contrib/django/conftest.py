"""Django for the integration tests: settings from ``tests.contrib.django.settings``, a migrated
SQLite database in a temporary directory, and the suite's private Redis for every test.

Only this directory configures Django, so the rest of the suite runs without it.
"""

import atexit
import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any

import django
import pytest
import redis
from django.conf import settings

from . import settings as test_settings

# settings.configure() rather than DJANGO_SETTINGS_MODULE: subprocesses started by other tests must
# not inherit a Django settings module from this one.
if not settings.configured:
    settings.configure(**{name: getattr(test_settings, name) for name in dir(test_settings) if name.isupper()})
django.setup()
atexit.register(shutil.rmtree, test_settings.DB_DIRECTORY, ignore_errors=True)

from django.contrib.auth.models import Group, User  # noqa: E402
from django.contrib.sessions.models import Session  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

from tests.conftest import WAIT, LiveServer  # noqa: E402
from wsredis_middleware import connection  # noqa: E402
from wsredis_middleware.contrib.django.apps import django_config_provider  # noqa: E402
from wsredis_middleware.contrib.django.middleware import DjangoWebSocketRedisMiddleware  # noqa: E402

# The app's ready() made Django's settings the publishing default for the whole process. Other
# packages of the suite run in this process too: keep it only while these tests run (fixture below).
connection.unregister_config_provider(django_config_provider)

PASSWORD = "secret-password"


@pytest.fixture(scope="package", autouse=True)
def django_database() -> Iterator[None]:
    """Migrate once; make Django's settings the publishing default only while these tests run."""
    call_command("migrate", run_syncdb=True, verbosity=0)
    connection.register_config_provider(django_config_provider)
    yield
    # Other packages (the Flask tests) run in this process too: they must not see Django's settings.
    connection.unregister_config_provider(django_config_provider)


@pytest.fixture(autouse=True)
def django_redis(redis_url: str) -> Iterator[str]:
    """Point the Django settings at the suite's Redis."""
    with override_settings(WS4REDIS_CONNECTION=redis_url):
        yield redis_url


@pytest.fixture
def users() -> Iterator[dict[str, User]]:
    """john and mary in group ``chatters``, and an unrelated ``staff`` group; removed afterwards."""
    chatters = Group.objects.create(name="chatters")
    Group.objects.create(name="staff")
    made = {}
    for name in ("john", "mary"):
        user = User.objects.create_user(name, f"{name}@example.com", PASSWORD)
        user.groups.add(chatters)
        made[name] = user
    yield made
    User.objects.all().delete()
    Group.objects.all().delete()
    Session.objects.all().delete()


def login(username: str) -> Client:
    """A Django test client logged in as *username*."""
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def session_cookie(client: Client) -> str:
    return f"sessionid={client.cookies['sessionid'].value}"


def open_socket(server: LiveServer, path: str, *channels: str, **kwargs: Any) -> Any:
    """Connect, then wait until the server has attached the socket and Redis confirms *channels*.

    The 101 answer comes before the subscription is in place, so a message published the moment
    the handshake completes could otherwise go to nobody.
    """
    hub = server.middleware.hub
    before = len(hub.subscriptions)
    ws = server.connect(path, **kwargs)
    try:
        with redis.Redis.from_url(settings.WS4REDIS_CONNECTION, socket_timeout=WAIT) as client:
            deadline = time.monotonic() + WAIT
            while len(hub.subscriptions) <= before or not all(
                count for _name, count in client.pubsub_numsub(*channels)
            ):
                assert time.monotonic() < deadline, f"{path} was not subscribed to {channels} in time"
                time.sleep(0.01)
    except BaseException:
        ws.close()
        raise
    return ws


@pytest.fixture
def django_server() -> Iterator[Callable[..., LiveServer]]:
    """Factory: a live gevent server running the Django app behind the Django middleware.

    Settings are read when the server is built, so call it inside ``override_settings``.
    """
    servers: list[LiveServer] = []

    def start(**kwargs: Any) -> LiveServer:
        server = LiveServer(DjangoWebSocketRedisMiddleware(WSGIHandler(), **kwargs))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()

"""``manage.py run [ADDRPORT]``: create the database, load the demo users, start the server.

One command from a fresh checkout to a chat in the browser. Set-up is skipped in the autoreloader's
child process (``RUN_MAIN``), which only needs to serve.
"""

import os

import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from wsredis_middleware.connection import client_for
from wsredis_middleware.contrib.django.conf import get_config

USERS = "admin / admin (superuser), john / john and mary / mary (both in group 'chatters')"


class Command(BaseCommand):
    help = "Migrate, load the demo users if there are none, and run the development server."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--noreload", action="store_false", dest="use_reloader")

    def handle(self, *args, addrport, use_reloader, **options):
        if os.environ.get("RUN_MAIN") != "true":
            self.check_redis()
            call_command("migrate", interactive=False, verbosity=0)
            if not get_user_model().objects.exists():
                call_command("loaddata", "chat_users", verbosity=0)
            self.stdout.write(f"Database: {settings.DATABASES['default']['NAME']}\nLog in as {USERS}.\n")
        call_command("runserver", addrport, use_reloader=use_reloader)

    def check_redis(self):
        config = get_config()
        try:
            client_for(config.connection).ping()
        except redis.RedisError as exc:
            raise CommandError(
                f"Redis is not reachable at {config.connection.description} ({exc}). Start redis-server, "
                "or point the WS4REDIS_CONNECTION environment variable at yours, "
                "e.g. WS4REDIS_CONNECTION=redis://127.0.0.1:6380/0"
            ) from None

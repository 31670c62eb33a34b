"""WSGI entry point for production, e.g. from examples/django_chat:

    gunicorn -k wsredis_middleware.gunicorn.GeventWebSocketWorker chatserver.wsgi
"""

import os

from wsredis_middleware.contrib.django import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatserver.settings")

application = get_wsgi_application()

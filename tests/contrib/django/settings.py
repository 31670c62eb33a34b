"""Django settings for the integration tests (the database lives in a temporary directory)."""

import os
import tempfile

DB_DIRECTORY = tempfile.mkdtemp(prefix="wsredis-django-tests-")

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver", "example.com"]
INSTALLED_APPS = [
    "wsredis_middleware.contrib.django",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "tests.contrib.django.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(DB_DIRECTORY, "db.sqlite3")}}
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": False,
    "OPTIONS": {"context_processors": ["wsredis_middleware.contrib.django.context_processors.default"]},
}]
STATIC_URL = "/static/"
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "wsredis_middleware.contrib.django.finders.WSRedisFinder",
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins; tests only
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
# Never the system Redis: every test overrides this with the suite's own server (conftest).
WS4REDIS_CONNECTION = "redis://127.0.0.1:1/0"

"""The core never imports Django, Flask or werkzeug: it must work where none is installed."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import textwrap

import wsredis_middleware

CORE_MODULES = sorted(
    f"wsredis_middleware.{info.name}"
    for info in pkgutil.iter_modules(wsredis_middleware.__path__)
    if info.name not in ("contrib", "__main__")  # __main__ runs the command line on import
)
FRAMEWORKS = ("django", "flask", "werkzeug", "flask_login")

SCRIPT = textwrap.dedent(
    """
    import importlib, sys

    FRAMEWORKS = {frameworks!r}

    class Absent:
        # Behaves as if the frameworks were not installed at all.
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in FRAMEWORKS:
                raise ImportError(f"{{name}} is not installed (blocked by the test)")
            return None

    sys.meta_path.insert(0, Absent())
    from gevent import monkey
    monkey.patch_all()
    import wsredis_middleware
    from wsredis_middleware import PermissionDenied, RedisPublisher, WebSocketRedisMiddleware, SELF, Identity
    for name in {modules!r}:
        importlib.import_module(name)
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in FRAMEWORKS)
    assert not loaded, loaded
    print("imported", len({modules!r}), "modules")
    """
)


def test_core_modules_exist():
    # Guards the test below against passing vacuously if module discovery breaks.
    for name in ("channels", "config", "frames", "hub", "middleware", "publisher", "server", "websocket"):
        assert f"wsredis_middleware.{name}" in CORE_MODULES


def test_core_imports_without_django_flask_or_werkzeug():
    script = SCRIPT.format(frameworks=FRAMEWORKS, modules=CORE_MODULES)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"imported {len(CORE_MODULES)} modules" in result.stdout


def test_blocking_really_blocks():
    # The finder must make a framework import fail, or the test above proves nothing.
    script = SCRIPT.format(frameworks=FRAMEWORKS, modules=[]) + "\nimport django\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "django is not installed (blocked by the test)" in result.stderr

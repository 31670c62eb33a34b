"""Which exceptions refuse a handshake with 403: ours, Django's and werkzeug's, matched by name."""

from __future__ import annotations

import pytest
import werkzeug.exceptions
from django.core import exceptions as django_exceptions

from wsredis_middleware import ConfigurationError, PermissionDenied, WSRedisError
from wsredis_middleware.exceptions import HandshakeError, ProtocolError, is_permission_denied


class OurSubclass(PermissionDenied):
    pass


class DjangoSubclass(django_exceptions.PermissionDenied):
    pass


def lookalike(module: str, name: str) -> type[Exception]:
    """A class that only shares a name with a framework's, defined in another module."""
    return type(name, (Exception,), {"__module__": module})


@pytest.mark.parametrize(
    "exc",
    [
        pytest.param(PermissionDenied("no"), id="ours"),
        pytest.param(OurSubclass(), id="ours-subclass"),
        pytest.param(django_exceptions.PermissionDenied(), id="django"),
        pytest.param(DjangoSubclass(), id="django-subclass"),
        pytest.param(werkzeug.exceptions.Forbidden(), id="werkzeug"),
        # Matched by module and name, so the core needs neither framework installed.
        pytest.param(lookalike("django.core.exceptions", "PermissionDenied")(), id="by-name-django"),
        pytest.param(lookalike("werkzeug.exceptions", "Forbidden")(), id="by-name-werkzeug"),
    ],
)
def test_denials_are_recognised(exc):
    assert is_permission_denied(exc)


@pytest.mark.parametrize(
    "exc",
    [
        pytest.param(ValueError("no"), id="value-error"),
        pytest.param(PermissionError("no"), id="builtin-permission-error"),
        pytest.param(werkzeug.exceptions.Unauthorized(), id="werkzeug-401"),
        pytest.param(werkzeug.exceptions.NotFound(), id="werkzeug-404"),
        pytest.param(django_exceptions.SuspiciousOperation(), id="django-suspicious"),
        pytest.param(lookalike("myapp.errors", "PermissionDenied")(), id="same-name-other-module"),
        pytest.param(lookalike("werkzeug.exceptions", "Unauthorized")(), id="other-name-same-module"),
    ],
)
def test_other_errors_are_not_denials(exc):
    assert not is_permission_denied(exc)


def test_one_root_exception():
    for cls in (ConfigurationError, PermissionDenied, HandshakeError, ProtocolError):
        assert issubclass(cls, WSRedisError)
    assert HandshakeError("403 Forbidden", "why").status == "403 Forbidden"
    assert ProtocolError(1009, "big").code == 1009

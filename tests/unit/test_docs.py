"""The settings tables of the README and the framework guides stay true to config.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from wsredis_middleware.config import SETTING_NAMES, Config, setting_name

ROOT = Path(__file__).resolve().parents[2]
CORE_SETTINGS = {setting_name(name) for name in SETTING_NAMES}


def documented_rows(document: str) -> dict[str, str]:
    text = (ROOT / document).read_text()
    return dict(re.findall(r"^\| `((?:WEBSOCKET|WS4REDIS)_[A-Z0-9_]+)` \| ([^|]+) \|", text, flags=re.MULTILINE))


@pytest.mark.parametrize("document", ["README.md", "docs/django.md", "docs/flask.md"])
def test_every_core_setting_is_documented(document):
    missing = CORE_SETTINGS - set(documented_rows(document))
    assert not missing, f"{document} does not document {sorted(missing)}"


@pytest.mark.parametrize("name", [n for n in SETTING_NAMES if n not in ("connection", "subscriber", "resolver")])
def test_readme_defaults_match_config(name):
    documented = documented_rows("README.md")[setting_name(name)].strip().strip("`")
    actual = getattr(Config.from_kwargs(), name)
    if actual in (None, "", frozenset()):
        assert documented in ("None", "()")
    else:
        assert documented in (repr(actual), str(actual), f'"{actual}"')

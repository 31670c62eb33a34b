"""docs/flask.md stays true to the code: every setting documented, with the default in force."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from wsredis_middleware.config import SETTING_NAMES, Config, setting_name
from wsredis_middleware.contrib.flask.extension import DEFAULT_STATIC_URL_PATH, STATIC_URL_PATH_SETTING
from wsredis_middleware.contrib.flask.resolver import GROUP_LOADER_SETTING, USER_LOADER_SETTING

GUIDE = (Path(__file__).resolve().parents[3] / "docs" / "flask.md").read_text()
ROWS = dict(re.findall(r"^\| `([A-Z0-9_]+)` \| ([^|]+) \|", GUIDE, flags=re.MULTILINE))
FLASK_ONLY = (USER_LOADER_SETTING, GROUP_LOADER_SETTING, STATIC_URL_PATH_SETTING)


def test_every_setting_has_a_row():
    assert set(ROWS) == {setting_name(name) for name in SETTING_NAMES} | set(FLASK_ONLY)


@pytest.mark.parametrize("name", [n for n in SETTING_NAMES if n not in ("connection", "subscriber", "resolver")])
def test_documented_defaults_match_config(name):
    documented = ROWS[setting_name(name)].strip().strip("`")
    actual = getattr(Config.from_kwargs(), name)
    if actual in (None, "", frozenset()):  # "not set" (the prefix is normalised to "")
        assert documented in ("None", "()")
    else:
        assert documented in (repr(actual), str(actual), f'"{actual}"')


def test_static_url_path_default_is_documented():
    assert ROWS[STATIC_URL_PATH_SETTING].strip() == f'`"{DEFAULT_STATIC_URL_PATH}"`'

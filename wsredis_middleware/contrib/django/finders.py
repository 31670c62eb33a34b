"""A staticfiles finder serving the package's JavaScript client as ``wsredis/wsredis.js``.

The file stays where the package installs it (``wsredis_middleware/static/``): nothing to copy,
and ``collectstatic`` picks it up like any other static file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.contrib.staticfiles import utils
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

import wsredis_middleware

__all__ = ["PREFIX", "STATIC_ROOT", "WSRedisFinder"]

PREFIX = "wsredis"
STATIC_ROOT = Path(wsredis_middleware.__file__).resolve().parent / "static"


class WSRedisFinder(BaseFinder):
    """Finds ``wsredis/<name>`` in the package's ``static`` directory."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.storage = FileSystemStorage(location=str(STATIC_ROOT))
        self.storage.prefix = PREFIX  # collectstatic reads it

    def check(self, **kwargs: Any) -> list[Any]:
        return []

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> str | list[str]:
        """The absolute path of ``wsredis/<name>`` if the package has it (a list when ``find_all``)."""
        find_all = find_all or bool(kwargs.get("all"))  # Django 5.2 may still pass all=
        found: list[str] = []
        head, _, name = path.replace("\\", "/").partition("/")
        if head == PREFIX and name and ".." not in name.split("/"):
            candidate = STATIC_ROOT / name
            if candidate.is_file():
                found.append(str(candidate))
        if find_all:
            return found
        return found[0] if found else []

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, FileSystemStorage]]:
        if os.path.isdir(STATIC_ROOT):
            for path in utils.get_files(self.storage, ignore_patterns):
                yield path, self.storage

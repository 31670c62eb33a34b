"""``python -m wsredis_middleware``: the ``wsredis`` command without the console script."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())

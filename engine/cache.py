"""Where the engine keeps what it builds once: Anny's model cache, UV lookups (written
through ``engine.io.files``' atomic writes, as every file the engine writes).

``DIFFPROXY_CACHE_DIR`` overrides the default ``~/.cache/diffproxy``. Anny's own cache
lives in ``<cache>/anny`` unless ``ANNY_CACHE_DIR`` is set, which then wins.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "DIFFPROXY_CACHE_DIR"


def cache_dir() -> Path:
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "diffproxy"
    return Path(root).expanduser()


def anny_cache_dir() -> Path:
    env = os.environ.get("ANNY_CACHE_DIR")
    return Path(env).expanduser() if env else cache_dir() / "anny"

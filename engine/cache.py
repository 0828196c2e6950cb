"""Where the engine keeps what it builds once: Anny's model cache, UV lookups; and the
atomic writes (a file, a folder) that everything the engine writes goes through.

``DIFFPROXY_CACHE_DIR`` overrides the default ``~/.cache/diffproxy``. Anny's own cache
lives in ``<cache>/anny`` unless ``ANNY_CACHE_DIR`` is set, which then wins.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CACHE_ENV = "DIFFPROXY_CACHE_DIR"


def cache_dir() -> Path:
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "diffproxy"
    return Path(root).expanduser()


def anny_cache_dir() -> Path:
    env = os.environ.get("ANNY_CACHE_DIR")
    return Path(env).expanduser() if env else cache_dir() / "anny"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes it 0600: give it the mode open() would
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_folder(final: Path) -> Iterator[Path]:
    """``with atomic_folder(final) as tmp:`` fill ``tmp`` (a hidden folder beside ``final``);
    on success it replaces ``final``, on any error it is removed: readers see the old folder
    or the new one, never half of one."""
    final = Path(final)
    tmp = final.with_name(f".{final.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)

"""Atomic writes: a file or a folder appears whole or not at all. A reader finds the old
version or the new one, never half of one; a write that fails (or is interrupted) leaves no
temporary behind. Every file the engine writes outside a staged folder goes through these.

The engine imports them from ``engine.io.files``, except where that would be an import
circle: ``engine.proxy`` (engine.io's writers import it) and ``engine.io.calibration``, whose
camera JSON writer the Blender add-on runs (``addon/build.py`` vendors this module with it;
``engine.io.files`` reads images with PIL and JSON with the calibration's parser). Standard
library and numpy only.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """``with atomic_path(path) as tmp:`` write the file ``tmp`` (hidden, beside ``path``; its
    folder is made if need be). On success it replaces ``path``, with the mode an ordinary new
    file gets (0o666 less the umask; a temporary file starts private); on any error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """``text`` as UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, value, indent: int | None = 1) -> None:
    """``value`` as strict JSON (a NaN or infinity is a ValueError, nothing is written), one
    trailing newline."""
    atomic_write_text(path, json.dumps(value, indent=indent, allow_nan=False) + "\n")


def atomic_write_npz(path: str | Path, compressed: bool = True, **arrays: np.ndarray) -> None:
    """The ``arrays`` as an .npz at exactly ``path`` (numpy adds no suffix to a file object)."""
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def atomic_copy(source: str | Path, path: str | Path) -> None:
    """A copy of the file ``source`` at ``path`` (streamed: assets run to gigabytes)."""
    with atomic_path(path) as tmp:
        shutil.copyfile(source, tmp)


def atomic_create(path: str | Path, data: bytes) -> bool:
    """Create ``path`` holding ``data`` only if nothing is there (False then; nothing written):
    the exclusive create of a lock file, which readers never see empty or half written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(name, 0o666 & ~_umask())
        try:
            os.link(name, path)  # fails when path exists, even one another process made this instant
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links (some network and FAT ones)
            return _create_then_fill(path, data)
        return True
    finally:
        Path(name).unlink(missing_ok=True)


def _create_then_fill(path: Path, data: bytes) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return True


@contextmanager
def atomic_folder(final: str | Path, tmp: str | Path | None = None, replace: bool = True) -> Iterator[Path]:
    """``with atomic_folder(final) as tmp:`` fill the folder ``tmp`` (hidden, beside ``final``;
    ``tmp`` names it when the caller keeps its own temporaries apart). On success it replaces
    ``final`` (``replace`` False: a ``final`` that exists by then is kept and ``tmp`` dropped,
    as when another writer finished first); on any error it is removed. Readers see the old
    folder or the new one, never half of one."""
    final = Path(final)
    tmp = Path(tmp) if tmp is not None else final.with_name(f".{final.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        if not replace:
            shutil.rmtree(tmp, ignore_errors=True)
            return
        shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask

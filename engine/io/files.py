"""The project's files: reading JSON, npz and images with errors that name the file and the
field, and writing them. Every file the engine writes goes through the atomic writes here (a
file appears whole or not at all; defined in ``engine.atomic``, below engine.io, which the
Blender add-on shares too), or is staged in a folder published whole (``atomic_folder``,
``engine.io.outdir``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from engine.atomic import (atomic_copy, atomic_create, atomic_folder, atomic_path, atomic_write_bytes,
                           atomic_write_json, atomic_write_npz, atomic_write_text)
from engine.errors import InputError
from engine.io.calibration.safe_json import load_json

__all__ = ["atomic_copy", "atomic_create", "atomic_folder", "atomic_path", "atomic_write_bytes", "atomic_write_json",
           "atomic_write_npz", "atomic_write_text", "check_writable_file", "check_writable_folder", "read_json",
           "read_npz", "read_rgb", "require_fields", "strict_json"]


def read_json(path: Path, missing: str | None = None) -> dict:
    """The JSON object in ``path``; ``missing`` replaces the message for an absent file. Errors
    are one line naming the file, a file nested too deeply included (see ``safe_json``)."""
    data = load_json(path, missing)  # one line for a bad or hostile (deeply nested) file
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object ({{...}}), got a {type(data).__name__}")
    return data


def read_npz(path: Path, missing: str | None = None, required: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """Every array of the npz file in ``path`` (no pickles), checking that ``required`` are there."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise InputError(missing or f"{path}: missing") from None
    except Exception as e:  # zipfile/pickle errors of a truncated or foreign file
        raise InputError(f"{path}: unreadable ({type(e).__name__}: {e})") from None
    require_fields(path, arrays, required)
    return arrays


def require_fields(path: Path, arrays: dict, keys: Iterable[str]) -> None:
    for key in keys:
        if key not in arrays:
            raise InputError(f"{path}: field '{key}' missing")


def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 of the image in ``path``."""
    from PIL import Image

    try:
        return np.asarray(Image.open(path).convert("RGB"))
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: unreadable image ({e})") from None


def check_writable_folder(path: Path, name: str) -> None:
    """Raise unless ``path`` is a folder (existing, or to be created) this process can write
    into: checked by writing a probe file, which catches read-only mounts too. Commands call
    it before their work, so a bad output path fails at once and not after an hour's fit."""
    import tempfile

    path = Path(path)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{name}: {existing} is a file, not a folder" + (f" (in {path})" if existing != path else ""))
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        raise InputError(f"{name}: cannot write into {existing} ({e.strerror or e})") from None


def check_writable_file(path: Path, name: str) -> None:
    """Raise unless the file ``path`` can be written (its folder created if need be)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{name}: {path} is a folder, expected a file name")
    check_writable_folder(path.parent, name)


def strict_json(value):
    """``value`` with every NaN or infinite float replaced by None, so that ``json.dumps``
    writes strict JSON (a bare ``NaN`` is rejected by strict parsers)."""
    import math

    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, np.generic):  # numpy scalars as Python ones
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value

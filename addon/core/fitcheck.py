"""A fit's files read defensively: whatever the damage (a truncated or foreign fit.npz, a
fit.json too deeply nested, a field of the wrong type, NaN in an array), the reader gets one
``InputError`` naming the file and the field, never a traceback. numpy and the standard
library only."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..vendor.errors import InputError
from ..vendor.schema import FIT_NPZ


def read_json(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot be read: {e}") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise InputError(f"{path}: not a fit record: nested too deeply") from None
    except ValueError as e:
        raise InputError(f"{path}: not valid JSON: {e}") from None


def field(record: dict, key: str, types: tuple, where: Path, default=None, parent: str = ""):
    """``record[key]`` when it is one of ``types`` (``default`` when absent or null); ``parent``:
    the object holding it, for the message (``files`` in ``files.npz``)."""
    value = record.get(key)
    if value is None:
        return default
    if not isinstance(value, types) or isinstance(value, bool) and bool not in types:
        names = " or ".join(t.__name__ for t in types)
        raise InputError(f"{where}: field '{parent + '.' if parent else ''}{key}': expected {names}, got "
                         f"{_short(value)}")
    return value


def npz_path(record: dict, json_path: Path) -> Path:
    """fit.json's ``files.npz``: a file name inside the fit's own folder (no absolute path, no
    ``..`` out of it), fit.npz when absent."""
    files = field(record, "files", (dict,), json_path, {})
    name = field(files, "npz", (str,), json_path, FIT_NPZ, "files")
    folder = json_path.parent.resolve()
    path = (folder / name).resolve()
    if not name.strip() or Path(name).is_absolute() or not path.is_relative_to(folder) or path == folder:
        raise InputError(f"{json_path}: field 'files.npz': expected a file inside the fit's folder {folder}, got "
                         f"{name!r}")
    return path


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz (no pickles): a file numpy cannot read whole is one error."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as e:  # noqa: BLE001  (truncated zip, bad CRC, zlib, pickled objects, not an npz: all one answer)
        raise InputError(f"{path}: not a readable fit.npz ({type(e).__name__}: {_short(str(e))})") from None


def numbers(arrays: dict, key: str, where: Path, dtype=np.float64, finite: bool = True) -> np.ndarray:
    """Array ``key`` as numbers of ``dtype``; non-numbers (and, with ``finite``, NaN or inf) refused."""
    raw = arrays[key]
    if raw.dtype.kind not in "biuf":
        raise InputError(f"{where}: '{key}': expected numbers, got {raw.dtype}")
    if finite and raw.dtype.kind == "f" and not np.isfinite(raw).all():
        raise InputError(f"{where}: '{key}': {int((~np.isfinite(raw)).sum())} non-finite value(s) (NaN or inf)")
    return np.asarray(raw, dtype=dtype)


def frame_rate(arrays: dict, record: dict, npz: Path, json_path: Path) -> float | None:
    """Frames per second, fit.npz's ``fps`` before fit.json's; 0 or absent: unknown (None),
    as from image folders, which carry no rate."""
    found = []
    if "fps" in arrays:
        value = numbers(arrays, "fps", npz, finite=False)
        if value.size != 1:
            raise InputError(f"{npz}: 'fps': expected one number, got shape {value.shape}")
        found.append((float(value.reshape(-1)[0]), npz, "'fps'"))
    value = field(record, "fps", (int, float), json_path)
    if value is not None:
        found.append((float(value), json_path, "field 'fps'"))
    for fps, where, name in found:
        if not (math.isfinite(fps) and fps >= 0):
            raise InputError(f"{where}: {name}: expected a positive number (0: unknown), got {fps}")
    return next((fps for fps, _, _ in found if fps > 0), None)


def _short(value, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."

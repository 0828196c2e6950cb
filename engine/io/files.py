"""Reading the project's JSON, npz and image files with errors that name the file and the field."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from engine.errors import InputError


def read_json(path: Path, missing: str | None = None) -> dict:
    """The JSON object in ``path``; ``missing`` replaces the message for an absent file."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(missing or f"{path}: missing") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON: {e}") from None


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

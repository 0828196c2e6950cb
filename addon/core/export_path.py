"""An export's file, checked before Blender's exporter runs, and the exporter's own failure
(a Python traceback in Blender's RuntimeError) told in one line."""

from __future__ import annotations

import os
from pathlib import Path

from ..vendor.errors import InputError


def check_export_path(path: str | Path, suffix: str) -> Path:
    """The file an export writes: a file name (``suffix`` added when missing, as the exporters
    do) in an existing, writable folder."""
    if not str(path).strip():
        raise InputError("export: no file name given")
    path = Path(path)
    if path.suffix.lower() != suffix:
        path = path.with_name(path.name + suffix)
    if path.is_dir():
        raise InputError(f"{path}: a folder, not a file to export to")
    folder = path.parent
    if not folder.is_dir():
        raise InputError(f"{path}: its folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(f"{path}: cannot be written (permissions)")
    return path


def exporter_message(error: Exception) -> str:
    """The last line of an exporter's error (its exception, e.g. ``PermissionError: ...``),
    without the traceback above it and Blender's ``Location:`` line below it."""
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(("Location:", "File ", "^", "~"))] or lines or ["no message"]
    text = lines[-1]
    return text.removeprefix("Error: ").removeprefix("Python: ")

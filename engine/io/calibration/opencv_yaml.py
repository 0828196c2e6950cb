"""A small reader for the YAML that OpenCV's ``cv::FileStorage`` writes (``%YAML:1.0``): top-level
``key: scalar``, ``key: [ flow, list ]`` (may span lines), ``key:`` followed by ``- item`` lines,
and ``key: !!opencv-matrix`` followed by ``rows``, ``cols``, ``dt`` and ``data: [ ... ]``.
Scalars come back as strings (quotes removed), matrices as (rows, cols) float64 arrays
(``.nan`` / ``.inf`` as OpenCV writes them). Nothing else of YAML is supported."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.errors import InputError

SPECIAL = {".nan": np.nan, ".inf": np.inf, "+.inf": np.inf, "-.inf": -np.inf}


def parse_opencv_yaml(path: Path) -> dict:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: missing") from None
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not a text file: {e}") from None
    lines = _logical_lines(path, text)
    result, i = {}, 0
    while i < len(lines):
        line, indent, content = lines[i]
        if indent:
            raise InputError(f"{path}: line {line}: not valid OpenCV YAML: unexpected indentation")
        key, value = _key_value(path, line, content)
        j = i + 1
        while j < len(lines) and lines[j][1] > 0:
            j += 1
        result[key] = _entry(path, line, key, value, lines[i + 1:j])
        i = j
    return result


def _logical_lines(path: Path, text: str) -> list[tuple[int, int, str]]:
    """(line number, indentation, content) of each meaningful line; a flow list ``[ ... ]``
    that spans several lines is joined into the line where it starts."""
    out, open_at = [], None
    for number, raw in enumerate(text.splitlines(), start=1):
        content = raw.rstrip()
        if open_at is not None:
            out[-1] = (out[-1][0], out[-1][1], out[-1][2] + " " + content.strip())
        elif content.strip() and not content.lstrip().startswith(("#", "%YAML", "---", "...")):
            out.append((number, len(content) - len(content.lstrip()), content.strip()))
        else:
            continue
        open_at = out[-1][0] if out[-1][2].count("[") > out[-1][2].count("]") else None
    if open_at is not None:
        raise InputError(f"{path}: line {open_at}: not valid OpenCV YAML: '[' never closed")
    return out


def _key_value(path: Path, line: int, content: str) -> tuple[str, str]:
    key, sep, value = content.partition(":")
    if not sep or not key.strip():
        raise InputError(f"{path}: line {line}: not valid OpenCV YAML: expected 'key: value', got {content[:60]!r}")
    return _unquote(key.strip()), value.strip()


def _entry(path: Path, line: int, key: str, value: str, block: list):
    if value.startswith("!!opencv-matrix"):
        fields = {k: (n, v) for n, _, c in block for k, v in [_key_value(path, n, c)]}
        return _matrix(path, line, key, fields)
    if block and value:
        raise InputError(f"{path}: line {block[0][0]}: not valid OpenCV YAML: '{key}' has a value and an indented block")
    if not block:
        return _flow(value)
    if not all(c.startswith("-") for _, _, c in block):
        raise InputError(f"{path}: line {block[0][0]}: field '{key}': expected '- item' lines")
    return [_unquote(c[1:].strip()) for _, _, c in block]


def _matrix(path: Path, line: int, key: str, fields: dict) -> np.ndarray:
    for name in ("rows", "cols", "data"):
        if name not in fields:
            raise InputError(f"{path}: line {line}: field '{key}': opencv-matrix without '{name}'")
    try:
        rows, cols = int(fields["rows"][1]), int(fields["cols"][1])
    except ValueError:
        raise InputError(f"{path}: line {line}: field '{key}': rows/cols must be integers") from None
    data_line, data = fields["data"]
    values = _flow(data)
    if not isinstance(values, list) or len(values) != rows * cols:
        n = len(values) if isinstance(values, list) else 1
        raise InputError(f"{path}: line {data_line}: field '{key}': {n} values for a {rows}x{cols} matrix")
    try:
        return np.array([_number(v) for v in values], dtype=np.float64).reshape(rows, cols)
    except ValueError as e:
        raise InputError(f"{path}: line {data_line}: field '{key}': not a number ({e})") from None


def _number(s: str) -> float:
    return SPECIAL[s.lower()] if s.lower() in SPECIAL else float(s)


def _flow(value: str):
    """``[ a, b ]`` -> list of strings; anything else -> the unquoted scalar."""
    if value.startswith("[") and value.endswith("]"):
        items = [_unquote(v.strip()) for v in value[1:-1].split(",")]
        return items[:-1] if items and items[-1] == "" else items
    return _unquote(value)


def _unquote(s: str) -> str:
    return s[1:-1] if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'" else s

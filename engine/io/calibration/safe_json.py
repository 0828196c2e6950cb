"""JSON from users, read with one-line errors: a file nested deeper than any of the project's
(``MAX_DEPTH``) is refused before it is parsed, so a hostile ``[[[[...]]]]`` gives a message
and not a RecursionError. Standard library and numpy only (vendored into the Blender add-on); the
engine's :func:`engine.io.files.read_json` uses it too."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from engine.errors import InputError

MAX_DEPTH = 64  # the project's files nest 5 deep; numpy takes at most 32 (64) dimensions
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.S)  # a string, to the end of the text if unclosed
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def load_json(path: Path, missing: str | None = None):
    """The JSON value in ``path`` (any type); ``missing`` replaces the message for an absent file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(missing or f"{path}: missing") from None
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not valid JSON: {e}") from None
    except OSError as e:  # a folder, no permission, a symbolic link loop
        raise InputError(f"{path}: cannot be read ({e.strerror or e})") from None
    return parse_json(text, str(path))


def parse_json(text: str, source: str):
    """``text`` parsed; errors start with ``source`` (the file)."""
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise InputError(f"{source}: not valid JSON for this program: nested {depth} levels deep "
                         f"(at most {MAX_DEPTH})")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{source}: not valid JSON: {e}") from None
    except RecursionError:  # not reached under MAX_DEPTH; kept so that no traceback can escape
        raise InputError(f"{source}: not valid JSON for this program: nested too deeply") from None


def nesting_depth(text: str) -> int:
    """The deepest nesting of lists and objects in ``text`` (brackets inside strings do not
    count; unbalanced text gives the depth it reaches, the parser then says what is wrong)."""
    brackets = np.frombuffer(_NOT_BRACKET.sub("", _STRING.sub("", text)).encode("ascii"), dtype=np.uint8)
    if not brackets.size:
        return 0
    steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1)
    return max(0, int(np.cumsum(steps).max()))

"""Checks of the options of a reconstruction (the library's and the command line's); each refusal is an
``InputError`` naming the option (exit 2)."""

from __future__ import annotations

import math

from engine.errors import InputError

UNIT_NAMES = {"m": 1.0, "dm": 10.0, "cm": 100.0, "mm": 1000.0, "in": 1 / 0.0254, "ft": 1 / 0.3048}
UP_AXES = ("+X", "-X", "+Y", "-Y", "+Z", "-Z")


def parse_frames(text: str | None) -> tuple[int, int | None, int]:
    """"START:STOP[:STEP]", "START:" or "N" (one frame) -> (start, stop, step)."""
    if not text:
        return 0, None, 1
    parts = text.split(":")
    if len(parts) > 3:
        raise InputError(f"--frames: expected START:STOP[:STEP] or N, got {text!r} ({len(parts)} parts)")
    try:
        if len(parts) == 1:
            return int(parts[0]), int(parts[0]) + 1, 1
        start = int(parts[0] or 0)
        stop = int(parts[1]) if parts[1] else None
        step = int(parts[2]) if len(parts) > 2 and parts[2] else 1
    except ValueError:
        raise InputError(f"--frames: expected START:STOP[:STEP] or N, got {text!r}") from None
    return start, stop, step


def check_count(name: str, value: int) -> int:
    if not isinstance(value, int) or value < 1:
        raise InputError(f"{name}: expected a whole number of at least 1, got {value!r}")
    return value


def check_nonnegative(name: str, value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise InputError(f"{name}: expected a finite number of at least 0, got {value!r}")
    return float(value)


def check_positive(name: str, value: float | None) -> float | None:
    if value is not None and (not math.isfinite(value) or value <= 0):
        raise InputError(f"{name}: expected a finite number above 0, got {value!r}")
    return value


def check_device(device: str, name: str = "--device") -> str:
    """auto, cpu, cuda or cuda:N; cuda only where torch sees a GPU."""
    import torch

    text = str(device).strip().lower()
    if text in ("auto", "cpu"):
        return text
    if text == "cuda" or (text.startswith("cuda:") and text[5:].isdigit()):
        if not torch.cuda.is_available():
            raise InputError(f"{name}: {device!r} asked for, but torch sees no CUDA GPU on this machine (use cpu "
                             f"or auto)")
        index = int(text[5:]) if ":" in text else 0
        if index >= torch.cuda.device_count():
            raise InputError(f"{name}: {device!r}: this machine has {torch.cuda.device_count()} GPU(s)")
        return text
    raise InputError(f"{name}: expected auto, cpu, cuda or cuda:N, got {device!r}")


def parse_units(text: str | None) -> tuple[float, str] | None:
    """--units: a unit name (m, dm, cm, mm, in, ft) or the number of world units per metre."""
    if text is None:
        return None
    t = str(text).strip().lower()
    if t in UNIT_NAMES:
        return UNIT_NAMES[t], t
    try:
        value = float(t)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"--units: expected one of {', '.join(UNIT_NAMES)} or a number of world units per metre, "
                         f"got {text!r}")
    named = next((n for n, v in UNIT_NAMES.items() if abs(v / value - 1) < 1e-9), "custom")
    return value, named


def parse_up(text: str | None) -> str | None:
    """--up: the world axis that points up, +X -X +Y -Y +Z -Z (X, Y, Z mean +)."""
    if text is None:
        return None
    t = str(text).strip().upper()
    t = t if t[:1] in "+-" else "+" + t
    if t not in UP_AXES:
        raise InputError(f"--up: expected one of {', '.join(UP_AXES)}, got {text!r}")
    return t


# --proxies: what the fit sees, with one meaning in every command that takes it; each command
# takes the values that make sense for it
PROXIES = {
    "none": "landmarks and masks only (MediaPipe's evidence, no dense proxies)",
    "model": "landmarks and masks plus dense proxies sampled by the proxy generator",
    "model-only": "dense proxies sampled by the proxy generator, alone (the paper's protocol)",
    "gt": "a rendered scene's exact proxies",
}
PROXIES_BY_COMMAND = {"reconstruct": ("none", "model"), "demo": ("none", "model"),
                      "evaluate": ("gt", "none", "model", "model-only"), "fit": ("gt",)}


def check_proxies(value: str, command: str) -> str:
    """``value`` if ``command`` takes it; else an error naming the values it takes (and, for a
    value of the vocabulary, the commands that take that one)."""
    allowed = PROXIES_BY_COMMAND[command]
    if value in allowed:
        return value
    users = [c for c, values in PROXIES_BY_COMMAND.items() if value in values]
    elsewhere = f" ({value}: {PROXIES[value]}, is for {' and '.join(users)})" if users else ""
    raise InputError(f"--proxies: {command} takes {' or '.join(allowed)}, got {value!r}{elsewhere}")


def proxies_help(command: str) -> str:
    """The ``--proxies`` help of ``command``: its values and what each means."""
    return "; ".join(f"{v}: {PROXIES[v]}" for v in PROXIES_BY_COMMAND[command]) + "."

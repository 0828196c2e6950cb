"""Checks of config values shared by the samplers' configs; each error names the dotted field.

A render checks its whole config before it writes anything (``SynthConfig.check``), so a bad
value never leaves a ``dataset.json`` behind that would lock the folder to it.
"""

from __future__ import annotations

import math

from engine.errors import InputError


def check_weights(name: str, weights: dict[str, float], allowed) -> None:
    """Weights of a random choice: known keys, finite and >= 0, with a positive sum."""
    unknown = sorted(set(weights) - set(allowed))
    if unknown:
        raise InputError(f"{name}: unknown key '{unknown[0]}' (known: {', '.join(allowed)})")
    values = list(weights.values())
    if not all(math.isfinite(w) and w >= 0 for w in values) or sum(values) <= 0:
        raise InputError(f"{name}: expected weights >= 0 with a positive sum, got {weights}")


def check_range(name: str, value: tuple[float, float], low: float = -math.inf, high: float = math.inf) -> None:
    """A (low, high) range of finite values with low <= high inside [``low``, ``high``]."""
    lo, hi = value
    if not (math.isfinite(lo) and math.isfinite(hi) and low <= lo <= hi <= high):
        raise InputError(f"{name}: expected a range (low, high) with {low} <= low <= high <= {high}, got {value}")


def check_number(name: str, value: float, low: float = -math.inf, high: float = math.inf) -> None:
    """A finite number in [``low``, ``high``]."""
    if not (math.isfinite(value) and low <= value <= high):
        raise InputError(f"{name}: expected a finite number in [{low}, {high}], got {value}")

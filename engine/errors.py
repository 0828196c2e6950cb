"""One error type for bad input, and the checks that raise it.

Every message names the input (an argument, a file, a field) and says what was expected,
so a user can fix the call without reading the code.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported where it is used, so numpy-only callers (Blender) never load it
    import torch


class InputError(ValueError):
    """Bad input from a user or a file: the message names the input and what was expected."""


def check_shape(name: str, x: torch.Tensor | np.ndarray, shape: Sequence[int | None | str],
                sizes: dict[str, int] | None = None) -> None:
    """Check ``x`` against ``shape``: ``None`` matches any size, a string names a size that
    must be equal wherever the same string appears (e.g. ``("B", None, 3)``). Pass one
    ``sizes`` dict to several calls to make named sizes agree across arrays."""
    if not (isinstance(x, np.ndarray) or _is_tensor(x)):
        raise InputError(f"{name}: expected a tensor or array, got {type(x).__name__}")
    if x.ndim != len(shape):
        raise InputError(f"{name}: expected shape {_fmt(shape)}, got {tuple(x.shape)}")
    sizes = {} if sizes is None else sizes
    for actual, want in zip(x.shape, shape):
        if isinstance(want, str):
            if sizes.setdefault(want, actual) != actual:
                raise InputError(f"{name}: expected shape {_fmt(shape)}, got {tuple(x.shape)}")
        elif want is not None and actual != want:
            raise InputError(f"{name}: expected shape {_fmt(shape)}, got {tuple(x.shape)}")


def check_finite(name: str, x: torch.Tensor) -> None:
    import torch

    if not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).sum().item()
        raise InputError(f"{name}: {bad} non-finite value(s) (NaN or inf)")


def check_batch(names_and_tensors: Sequence[tuple[str, torch.Tensor]]) -> int:
    """All tensors share the leading batch size; returns it."""
    sizes = {name: t.shape[0] for name, t in names_and_tensors}
    if len(set(sizes.values())) > 1:
        raise InputError(f"batch sizes differ: {sizes}")
    return next(iter(sizes.values()))


def _is_tensor(x) -> bool:
    """A torch tensor, told without importing torch: if torch is not loaded, ``x`` is none."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _fmt(shape: Sequence[int | None | str]) -> str:
    return "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"

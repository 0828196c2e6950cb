"""Outputs pinned before a restructuring: the arrays and numbers a command gave at a known-good
commit, stored here, so that a change meant to keep behaviour is checked against them.

``check_pinned(name, values, atol)`` compares ``values`` (a dict of arrays or numbers) with the
stored ``<name>.npz``; with ``DIFFPROXY_REPIN=1`` in the environment it writes them instead
(do that only for a change that is meant to alter the outputs, and say so in the commit)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def check_pinned(name: str, values: dict, atol: float) -> None:
    path = HERE / f"{name}.npz"
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    if os.environ.get("DIFFPROXY_REPIN") == "1":
        np.savez_compressed(path, **arrays)
        return
    with np.load(path) as stored:
        assert sorted(stored.files) == sorted(arrays), f"{path.name}: keys {sorted(stored.files)} vs {sorted(arrays)}"
        for key, value in arrays.items():
            np.testing.assert_allclose(value, stored[key], atol=atol, rtol=0, err_msg=f"{path.name}: {key}")

"""Triangulation: the one weighted DLT that the detector's view consensus, the landmark table's
learning, the reconstruction's consensus and the fit's start all use."""

from __future__ import annotations

import numpy as np

from engine.errors import check_shape


def triangulate(points_xy: np.ndarray, scores: np.ndarray, projections: np.ndarray) -> np.ndarray:
    """Weighted DLT: (V, L, 2) pixels, (V, L) weights, (V, 3, 4) projections -> (L, 3) points.

    Each view's two equations are scaled to unit norm, then by its score, so a score weighs a
    view whatever its pixel scale. NaN where fewer than 2 views have a score > 0 and a finite point.
    """
    sizes: dict[str, int] = {}
    check_shape("points_xy", points_xy, ("V", "L", 2), sizes)
    check_shape("scores", scores, ("V", "L"), sizes)
    check_shape("projections", projections, ("V", 3, 4), sizes)
    xy = np.asarray(points_xy, np.float64)
    P = np.asarray(projections, np.float64)
    w = np.where(np.isfinite(xy).all(-1), np.asarray(scores, np.float64), 0.0)
    w = np.where(w > 0, w, 0.0)
    xy = np.nan_to_num(xy)
    rows = np.stack([xy[..., 0, None] * P[:, None, 2] - P[:, None, 0],
                     xy[..., 1, None] * P[:, None, 2] - P[:, None, 1]], axis=2)   # (V, L, 2, 4)
    rows /= np.maximum(np.linalg.norm(rows, axis=-1, keepdims=True), 1e-300)
    A = (rows * w[..., None, None]).transpose(1, 0, 2, 3).reshape(xy.shape[1], -1, 4)  # (L, 2V, 4)
    X = np.linalg.svd(A)[2][:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):  # a landmark no two views see: NaN below
        out = X[:, :3] / X[:, 3:]
    out[(w > 0).sum(axis=0) < 2] = np.nan
    return out

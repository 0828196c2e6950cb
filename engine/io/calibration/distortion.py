"""OpenCV's lens distortion model on normalised image coordinates (x = X/Z, y = Y/Z).

``dist = (k1, k2, p1, p2[, k3[, k4, k5, k6]])``, missing coefficients are 0::

    r2 = x^2 + y^2,  g = (1 + k1 r2 + k2 r2^2 + k3 r2^3) / (1 + k4 r2 + k5 r2^2 + k6 r2^3)
    x' = x g + 2 p1 x y + p2 (r2 + 2 x^2)
    y' = y g + p1 (r2 + 2 y^2) + 2 p2 x y
"""

from __future__ import annotations

import numpy as np


def _coefficients(dist: np.ndarray) -> np.ndarray:
    c = np.zeros(8)
    c[: len(dist)] = dist
    return c


def _radial(r2: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The radial factor g(r2) and its derivative with respect to r2."""
    k1, k2, k3, k4, k5, k6 = c[[0, 1, 4, 5, 6, 7]]
    a, b = 1 + r2 * (k1 + r2 * (k2 + r2 * k3)), 1 + r2 * (k4 + r2 * (k5 + r2 * k6))
    da, db = k1 + r2 * (2 * k2 + 3 * k3 * r2), k4 + r2 * (2 * k5 + 3 * k6 * r2)
    return a / b, (da * b - a * db) / (b * b)


def distort(xy: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """(P, 2) ideal normalised coordinates -> (P, 2) distorted ones."""
    c = _coefficients(dist)
    p1, p2 = c[2], c[3]
    x, y = xy[:, 0], xy[:, 1]
    r2 = x * x + y * y
    g = _radial(r2, c)[0]
    return np.stack([x * g + 2 * p1 * x * y + p2 * (r2 + 2 * x * x),
                     y * g + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y], axis=-1)


def _jacobian(xy: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """(P, 2, 2) derivative of :func:`distort` with respect to (x, y)."""
    c = _coefficients(dist)
    p1, p2 = c[2], c[3]
    x, y = xy[:, 0], xy[:, 1]
    g, dg = _radial(x * x + y * y, c)
    J = np.empty((len(xy), 2, 2))
    J[:, 0, 0] = g + 2 * x * x * dg + 2 * p1 * y + 6 * p2 * x
    J[:, 0, 1] = J[:, 1, 0] = 2 * x * y * dg + 2 * p1 * x + 2 * p2 * y
    J[:, 1, 1] = g + 2 * y * y * dg + 6 * p1 * y + 2 * p2 * x
    return J


def undistort(xy_distorted: np.ndarray, dist: np.ndarray, iterations: int = 30, tol: float = 1e-14) -> np.ndarray:
    """(P, 2) distorted normalised coordinates -> ideal ones: Newton's method on :func:`distort`
    from the distorted point. NaN rows stay NaN; so are rows without a solution on the model's
    valid side, i.e. where the model has not folded over (radial factor > 0 and a Jacobian with
    positive determinant): points far outside the field of view the calibration was fitted on."""
    target = np.asarray(xy_distorted, dtype=np.float64)
    if not np.any(dist):
        return target.copy()
    xy = target.copy()
    with np.errstate(all="ignore"):  # NaN/inf rows and singular Jacobians: those rows end up NaN below
        for _ in range(iterations):
            r, J = distort(xy, dist) - target, _jacobian(xy, dist)
            det = J[:, 0, 0] * J[:, 1, 1] - J[:, 0, 1] * J[:, 1, 0]
            step = np.stack([J[:, 1, 1] * r[:, 0] - J[:, 0, 1] * r[:, 1],
                             J[:, 0, 0] * r[:, 1] - J[:, 1, 0] * r[:, 0]], axis=-1) / det[:, None]
            xy = xy - step
            if not (np.abs(step) > tol).any():  # NaN steps count as done: those rows are NaN anyway
                break
        J = _jacobian(xy, dist)
        det = J[:, 0, 0] * J[:, 1, 1] - J[:, 0, 1] * J[:, 1, 0]
        g = _radial((xy * xy).sum(axis=1), _coefficients(dist))[0]
        good = (np.abs(distort(xy, dist) - target) < 1e-10).all(axis=1) & (det > 0) & (g > 0)
    xy[~good] = np.nan
    return xy

"""Rotation conversions in numpy (Rodrigues vectors as in OpenCV, unit quaternions as in COLMAP)."""

from __future__ import annotations

import numpy as np


def _skew(v: np.ndarray) -> np.ndarray:
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


def rodrigues_to_matrix(rotvec) -> np.ndarray:
    """(3,) axis * angle (radians) -> (3, 3) rotation, as ``cv2.Rodrigues``."""
    r = np.asarray(rotvec, dtype=np.float64).reshape(3)
    theta = float(np.linalg.norm(r))
    if theta < 1e-12:
        return np.eye(3) + _skew(r)
    k = _skew(r / theta)
    return np.eye(3) + np.sin(theta) * k + (1.0 - np.cos(theta)) * (k @ k)


def matrix_to_rodrigues(R) -> np.ndarray:
    """(3, 3) rotation -> (3,) axis * angle with the angle in [0, pi], as ``cv2.Rodrigues``."""
    R = np.asarray(R, dtype=np.float64)
    vee = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]])  # 2 sin(theta) axis
    cos = (np.trace(R) - 1.0) / 2.0
    theta = float(np.arctan2(np.linalg.norm(vee) / 2.0, cos))
    if theta < 1e-6:
        return vee / 2.0
    if theta < np.pi - 1e-3:
        return vee / (2.0 * np.sin(theta)) * theta
    # near pi the antisymmetric part vanishes: the axis is the dominant column of (R + R^T)/2 - cos I
    S = (R + R.T) / 2.0 - cos * np.eye(3)
    axis = S[:, int(np.argmax(np.diag(S)))]
    axis = axis / np.linalg.norm(axis)
    if axis @ vee < 0:
        axis = -axis
    return axis * theta


def quaternion_to_matrix(q) -> np.ndarray:
    """(qw, qx, qy, qz), normalised here -> (3, 3) rotation (Hamilton convention, as COLMAP)."""
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def matrix_to_quaternion(R) -> np.ndarray:
    """(3, 3) rotation -> (qw, qx, qy, qz) with qw >= 0."""
    r = matrix_to_rodrigues(R)
    theta = float(np.linalg.norm(r))
    axis = r / theta if theta > 0 else np.zeros(3)
    return np.concatenate([[np.cos(theta / 2)], np.sin(theta / 2) * axis])

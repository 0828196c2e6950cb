"""One calibrated camera and a set of them, in numpy, in the engine's OpenCV convention.

``x_cam = R_cam_world @ x_world + t_cam_world``; camera axes x right, y down, z forward;
``pixel = K @ distort(x_cam[:2] / x_cam[2])`` with pixel centres at integer coordinates (the
top-left pixel covers [-0.5, 0.5]^2) and OpenCV's distortion model (see ``distortion``).
Translations keep the units of the file they came from (Pose2Sim: metres).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.io.calibration.distortion import distort, undistort


@dataclass
class CameraCalibration:
    """``K`` (3, 3) ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]``; ``dist`` (k,) OpenCV coefficients
    ``k1, k2, p1, p2[, k3[, k4, k5, k6]]`` (zeros(5) when none); ``width`` x ``height``: the image
    size the calibration was made for, 0 x 0 when the file does not say (EasyMocap): the caller
    fills it from the images (``dataclasses.replace(cam, width=w, height=h)``)."""

    name: str
    K: np.ndarray
    dist: np.ndarray
    R_cam_world: np.ndarray
    t_cam_world: np.ndarray
    width: int
    height: int

    def __post_init__(self):
        self.K = np.asarray(self.K, dtype=np.float64)
        self.dist = np.asarray(self.dist, dtype=np.float64).reshape(-1)
        self.R_cam_world = np.asarray(self.R_cam_world, dtype=np.float64)
        self.t_cam_world = np.asarray(self.t_cam_world, dtype=np.float64).reshape(3)
        self.width, self.height = int(self.width), int(self.height)

    @property
    def size_known(self) -> bool:
        return self.width > 0 and self.height > 0

    def projection(self) -> np.ndarray:
        """(3, 4) ``K [R | t]`` (no distortion)."""
        return self.K @ np.concatenate([self.R_cam_world, self.t_cam_world[:, None]], axis=1)

    @property
    def center_world(self) -> np.ndarray:
        """(3,) camera centre in world coordinates, ``-R^T t``."""
        return -self.R_cam_world.T @ self.t_cam_world

    def project(self, points_world: np.ndarray, distort: bool = True) -> np.ndarray:
        """(P, 3) world points -> (P, 2) pixels. No culling: points at or behind the camera
        (z <= 0) give meaningless pixels; check ``(R @ x + t)[2] > 0`` where it matters."""
        x_cam = np.asarray(points_world, dtype=np.float64).reshape(-1, 3) @ self.R_cam_world.T + self.t_cam_world
        with np.errstate(all="ignore"):  # z = 0 gives inf / NaN pixels, as documented
            xy = x_cam[:, :2] / x_cam[:, 2:]
            return self._to_pixels(_distort(xy, self.dist) if distort else xy)

    def undistort_points(self, xy_px: np.ndarray) -> np.ndarray:
        """(P, 2) observed (distorted) pixels -> the pixels of an ideal pinhole camera with the
        same ``K``. NaN rows, and rows where the inverse does not converge, are NaN."""
        uv = np.asarray(xy_px, dtype=np.float64).reshape(-1, 2)
        fx, s, cx, fy, cy = self.K[0, 0], self.K[0, 1], self.K[0, 2], self.K[1, 1], self.K[1, 2]
        y = (uv[:, 1] - cy) / fy
        x = (uv[:, 0] - cx - s * y) / fx
        return self._to_pixels(undistort(np.stack([x, y], axis=-1), self.dist))

    def scaled(self, width: int, height: int) -> "CameraCalibration":
        """The same camera for its image resized to ``width`` x ``height``: rows of K scaled by
        ``sx = width / self.width``, ``sy = height / self.height`` and, pixel centres being at
        integer coordinates, ``cx' = (cx + 0.5) sx - 0.5`` (likewise cy)."""
        if not self.size_known:
            raise InputError(f"camera '{self.name}': image size unknown (0 x 0), cannot scale it to "
                             f"{width}x{height}; set width and height from the images first")
        if int(width) <= 0 or int(height) <= 0:
            raise InputError(f"camera '{self.name}': scaled size must be positive, got {width}x{height}")
        sx, sy = int(width) / self.width, int(height) / self.height
        K = self.K * np.array([[sx], [sy], [1.0]])
        K[0, 2] = (self.K[0, 2] + 0.5) * sx - 0.5
        K[1, 2] = (self.K[1, 2] + 0.5) * sy - 0.5
        return CameraCalibration(self.name, K, self.dist.copy(), self.R_cam_world.copy(),
                                 self.t_cam_world.copy(), int(width), int(height))

    def _to_pixels(self, xy: np.ndarray) -> np.ndarray:
        return xy @ self.K[:2, :2].T + self.K[:2, 2]


def _distort(xy: np.ndarray, dist: np.ndarray) -> np.ndarray:
    return distort(xy, dist) if np.any(dist) else xy


@dataclass
class Calibration:
    """The cameras of one calibration file; ``format`` is "toml", "easymocap", "colmap" or
    "json"; ``source`` the file read (intri.yml for EasyMocap, images.txt for COLMAP);
    ``notes``: what a user should know about how it was read (a file beside it ignored)."""

    cameras: list[CameraCalibration]
    source: Path
    format: str
    notes: list[str] = field(default_factory=list)

    def names(self) -> list[str]:
        return [c.name for c in self.cameras]

    def __len__(self) -> int:
        return len(self.cameras)

    def __getitem__(self, name: str) -> CameraCalibration:
        for cam in self.cameras:
            if cam.name == name:
                return cam
        raise InputError(f"{self.source}: no camera named {name!r}; cameras: {', '.join(self.names())}")

    def subset(self, names) -> "Calibration":
        """The cameras named, in the order given."""
        names = [names] if isinstance(names, str) else list(names)
        if len(set(names)) != len(names):
            raise InputError(f"{self.source}: camera names repeated in {names}")
        return Calibration([self[n] for n in names], self.source, self.format, list(self.notes))

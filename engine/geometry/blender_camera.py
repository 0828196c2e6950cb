"""Blender camera <-> OpenCV camera: the one place that knows both conventions.

Pure maths on Blender's camera settings (no bpy here): focal length in mm, sensor size and
fit, lens shift, render resolution and percentage, pixel aspect, and the camera object's
world matrix. Follows Blender's view plane (``BKE_camera_params_compute_viewplane``):

- the sensor fit decides which image side the sensor spans: AUTO takes the larger of
  ``width * pixel_aspect_x`` and ``height * pixel_aspect_y`` with ``sensor_width``;
  HORIZONTAL spans the width with ``sensor_width``; VERTICAL the height with ``sensor_height``;
- shift is in units of that spanned side; pixel aspect makes ``fy = fx * aspx / aspy``.

A Blender camera looks along its local -Z with +Y up; OpenCV along +Z with +Y down, so
``R_cam_world = diag(1, -1, -1) @ R_world_blendercam^T``. Perspective cameras only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from engine.errors import InputError

_FLIP = np.diag([1.0, -1.0, -1.0])


@dataclass
class BlenderCamera:
    """The Blender settings that determine a perspective camera's projection."""

    lens: float  # mm
    sensor_width: float = 36.0  # mm
    sensor_height: float = 24.0  # mm
    sensor_fit: str = "AUTO"  # AUTO | HORIZONTAL | VERTICAL
    shift_x: float = 0.0
    shift_y: float = 0.0
    resolution_x: int = 1920
    resolution_y: int = 1080
    resolution_percentage: int = 100
    pixel_aspect_x: float = 1.0
    pixel_aspect_y: float = 1.0
    matrix_world: tuple = tuple(map(tuple, np.eye(4)))  # 4x4, row-major (camera to world)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["matrix_world"] = [list(map(float, r)) for r in self.matrix_world]
        return d

    @property
    def image_size(self) -> tuple[int, int]:
        """Rendered (width, height) in pixels."""
        return (self.resolution_x * self.resolution_percentage // 100,
                self.resolution_y * self.resolution_percentage // 100)

    def _fit(self) -> tuple[str, float]:
        if self.sensor_fit not in ("AUTO", "HORIZONTAL", "VERTICAL"):
            raise InputError(f"sensor_fit: expected AUTO, HORIZONTAL or VERTICAL, got '{self.sensor_fit}'")
        w, h = self.image_size
        sensor = self.sensor_height if self.sensor_fit == "VERTICAL" else self.sensor_width
        if self.sensor_fit == "AUTO":
            fit = "HORIZONTAL" if self.pixel_aspect_x * w >= self.pixel_aspect_y * h else "VERTICAL"
        else:
            fit = self.sensor_fit
        return fit, sensor


def blender_to_opencv(cam: BlenderCamera) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """-> K (3, 3), R_cam_world (3, 3), t_cam_world (3,), (width, height)."""
    for field in ("lens", "sensor_width", "sensor_height", "pixel_aspect_x", "pixel_aspect_y"):
        v = getattr(cam, field)
        if not np.isfinite(v) or v <= 0:
            raise InputError(f"blender camera.{field}: must be finite and positive, got {v}")
    w, h = cam.image_size
    if w <= 0 or h <= 0:
        raise InputError(f"blender camera: render size must be positive, got {w}x{h}")
    fit, sensor = cam._fit()
    ycor = cam.pixel_aspect_y / cam.pixel_aspect_x
    viewfac = w if fit == "HORIZONTAL" else ycor * h
    fx = cam.lens * viewfac / sensor
    fy = fx / ycor
    cx = w / 2 - cam.shift_x * viewfac - 0.5
    cy = h / 2 + cam.shift_y * viewfac / ycor - 0.5
    K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
    R_cam_world, t_cam_world = world_matrix_to_extrinsics(np.asarray(cam.matrix_world, dtype=np.float64))
    return K, R_cam_world, t_cam_world, (w, h)


def world_matrix_to_extrinsics(matrix_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A Blender camera's 4x4 ``matrix_world`` -> OpenCV R_cam_world, t_cam_world. Scale in
    the matrix is ignored, as Blender's own projection does."""
    M = np.asarray(matrix_world, dtype=np.float64)
    if M.shape != (4, 4) or not np.isfinite(M).all():
        raise InputError(f"blender camera.matrix_world: expected a finite 4x4 matrix, got shape {M.shape}")
    R_world_bcam = M[:3, :3] / np.linalg.norm(M[:3, :3], axis=0, keepdims=True)
    if np.linalg.det(R_world_bcam) <= 0 or np.abs(R_world_bcam.T @ R_world_bcam - np.eye(3)).max() > 1e-5:
        raise InputError("blender camera.matrix_world: rotation is sheared or mirrored")
    R_cam_world = _FLIP @ R_world_bcam.T
    return R_cam_world, -R_cam_world @ M[:3, 3]


def opencv_to_blender(K: np.ndarray, R_cam_world: np.ndarray, t_cam_world: np.ndarray,
                      width: int, height: int, sensor_width: float = 36.0) -> BlenderCamera:
    """OpenCV camera -> Blender settings (HORIZONTAL fit, 100%, pixel aspect from fx/fy)."""
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3) or not np.isfinite(K).all():
        raise InputError(f"K: expected a finite 3x3 matrix, got {K}")
    if abs(K[0, 1]) > 1e-9:
        raise InputError(f"K: Blender cameras have no skew, got K[0, 1] = {K[0, 1]}")
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    if fx <= 0 or fy <= 0:
        raise InputError(f"K: focal lengths must be positive, got fx={fx}, fy={fy}")
    ycor = fx / fy  # = aspy / aspx; Blender wants both aspects >= 1
    aspx, aspy = (1.0, ycor) if ycor >= 1 else (1.0 / ycor, 1.0)
    R = np.asarray(R_cam_world, dtype=np.float64)
    M = np.eye(4)
    M[:3, :3] = (_FLIP @ R).T
    M[:3, 3] = -R.T @ np.asarray(t_cam_world, dtype=np.float64)
    return BlenderCamera(
        lens=fx * sensor_width / width, sensor_width=sensor_width, sensor_height=sensor_width * height / width,
        sensor_fit="HORIZONTAL", shift_x=(width / 2 - 0.5 - cx) / width,
        shift_y=(cy + 0.5 - height / 2) * ycor / width, resolution_x=int(width), resolution_y=int(height),
        resolution_percentage=100, pixel_aspect_x=aspx, pixel_aspect_y=aspy,
        matrix_world=tuple(map(tuple, M)),
    )

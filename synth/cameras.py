"""Random cameras around the subject: intrinsics (focal length, principal point, resolution)
and extrinsics (distance, height, azimuth, roll, aim), in Blender's terms and in OpenCV's.

The distance follows from the sampled focal length and framing (the share of the image the
subject spans), so that a long lens stands far away rather than cropping the subject. A
configurable share of views is framed tighter or aimed off-centre so that the subject is
partly outside the frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.errors import InputError
from engine.geometry.blender_camera import BlenderCamera, blender_to_opencv


@dataclass
class CameraConfig:
    views: int = 8
    width: int = 256
    height: int = 256
    focal_mm: tuple[float, float] = (24.0, 85.0)  # on a 36 mm wide sensor
    principal_jitter: float = 0.02  # lens shift, as a fraction of the image width
    framing: tuple[float, float] = (0.6, 0.9)  # subject extent / image extent
    height_m: tuple[float, float] = (0.4, 2.4)  # camera height above the ground
    azimuth_jitter_deg: float = 15.0  # around evenly spread azimuths
    roll_jitter_deg: float = 4.0
    aim_jitter: float = 0.05  # aim point jitter, as a fraction of the subject extent
    out_of_frame_share: float = 0.15  # views where the subject is partly outside the frame

    def check(self) -> None:
        if self.views < 1:
            raise InputError(f"cameras.views: must be >= 1, got {self.views}")
        if self.width < 8 or self.height < 8:
            raise InputError(f"cameras.width/height: must be >= 8 px, got {self.width}x{self.height}")
        if not 0 <= self.out_of_frame_share <= 1:
            raise InputError(f"cameras.out_of_frame_share: must be in [0, 1], got {self.out_of_frame_share}")
        for name in ("focal_mm", "framing", "height_m"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise InputError(f"cameras.{name}: expected 0 < low <= high, got {(lo, hi)}")


def look_at(position: np.ndarray, target: np.ndarray, roll: float) -> np.ndarray:
    """4x4 camera-to-world matrix of a Blender camera at ``position`` looking at ``target``
    (Blender cameras look along their local -Z with +Y up), rolled about the view axis."""
    forward = target - position
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    if np.linalg.norm(right) < 1e-6:  # looking straight up or down
        right = np.array([1.0, 0.0, 0.0])
    right = right / np.linalg.norm(right)
    up = np.cross(-forward, right)
    c, s = math.cos(roll), math.sin(roll)
    right, up = c * right + s * up, -s * right + c * up
    M = np.eye(4)
    M[:3, 0], M[:3, 1], M[:3, 2], M[:3, 3] = right, up, -forward, position
    return M


def sample_cameras(rng: np.random.Generator, cfg: CameraConfig, center: np.ndarray,
                   extent: float) -> list[dict]:
    """``center``: world point the cameras aim at (the subject's bounding-box centre);
    ``extent``: the subject's largest bounding-box side in metres."""
    cfg.check()
    n = cfg.views
    start = rng.uniform(0, 2 * math.pi)
    jitter = math.radians(cfg.azimuth_jitter_deg)
    out_views = set(np.flatnonzero(rng.random(n) < cfg.out_of_frame_share).tolist())
    cameras = []
    for i in range(n):
        lens = float(rng.uniform(*cfg.focal_mm))
        shift = rng.uniform(-cfg.principal_jitter, cfg.principal_jitter, size=2)
        framing = rng.uniform(*cfg.framing)
        aim = center + rng.normal(0, cfg.aim_jitter * extent, size=3)
        partly_out = i in out_views
        if partly_out:  # closer than the frame allows, aimed off the centre
            framing = rng.uniform(1.2, 1.8)
            aim = aim + rng.uniform(-0.35, 0.35, size=3) * extent * np.array([1.0, 1.0, 1.0])
        # The subject spans `framing` of the smaller image side at distance d:
        f_px = lens / 36.0 * cfg.width
        distance = f_px * extent / (framing * min(cfg.width, cfg.height))
        azimuth = start + 2 * math.pi * i / n + rng.uniform(-jitter, jitter)
        z = rng.uniform(*cfg.height_m)
        horizontal = math.sqrt(max(distance**2 - (z - aim[2]) ** 2, (0.5 * distance) ** 2))
        position = np.array([aim[0] + horizontal * math.cos(azimuth), aim[1] + horizontal * math.sin(azimuth), z])
        roll = math.radians(rng.uniform(-cfg.roll_jitter_deg, cfg.roll_jitter_deg))
        cam = BlenderCamera(lens=lens, sensor_width=36.0, sensor_height=36.0 * cfg.height / cfg.width,
                            sensor_fit="HORIZONTAL", shift_x=float(shift[0]), shift_y=float(shift[1]),
                            resolution_x=cfg.width, resolution_y=cfg.height,
                            matrix_world=tuple(map(tuple, look_at(position, aim, roll))))
        K, R, t, _ = blender_to_opencv(cam)
        cameras.append({
            "blender": cam.as_dict(), "K": K.tolist(), "R_cam_world": R.tolist(), "t_cam_world": t.tolist(),
            "width": cfg.width, "height": cfg.height, "partly_out_of_frame": partly_out,
        })
    return cameras

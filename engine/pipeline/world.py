"""The user's world: its units and up axis, found from the person, and the map between it
and the engine's frame (metres, Z up).

Units: the triangulated lengths of eight body segments (shoulders, hips, upper arms,
forearms, thighs, shanks, between the detector's landmarks) against the same segments of
the body model's average person (its landmark table on the default shape), the median
ratio, snapped to a common unit (m, dm, cm, mm, in, ft) when within a factor 1.45 of one, else kept
(arbitrary photogrammetry units). Up: the world axis nearest to the direction from the
ankles' midpoint to the shoulders' (a standing or sitting person); with the cameras' mean
up direction as the fallback when the person is not upright.

x_engine = R_engine_user @ x_user / units_per_metre; a camera's x_cam = R x_user + t becomes
R R_engine_user^T and t / units_per_metre (pixels are unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEGMENTS = (("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"), ("left_shoulder", "left_elbow"),
            ("right_shoulder", "right_elbow"), ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"),
            ("left_hip", "left_knee"), ("right_hip", "right_knee"), ("left_knee", "left_ankle"),
            ("right_knee", "right_ankle"))
UNITS = {"m": 1.0, "dm": 10.0, "cm": 100.0, "mm": 1000.0, "in": 1 / 0.0254, "ft": 1 / 0.3048}
SNAP = 1.45
AXES = {"+X": (1, 0, 0), "-X": (-1, 0, 0), "+Y": (0, 1, 0), "-Y": (0, -1, 0), "+Z": (0, 0, 1), "-Z": (0, 0, -1)}


@dataclass
class WorldFrame:
    units_per_metre: float
    unit: str  # "m", "mm", ... or "custom"
    up_axis: str  # "+Z", "-Y", ...
    up_angle_deg: float  # angle between the person's up and that axis
    source: str = "found"  # "found" from the person, "given" by the user, "assumed" (one camera: nothing to measure)

    @property
    def R_engine_user(self) -> np.ndarray:
        up = np.array(AXES[self.up_axis], dtype=np.float64)
        ex = next(e for e in np.eye(3) if abs(e @ up) < 0.5)
        return np.stack([ex, np.cross(up, ex), up])

    def points_to_engine(self, x: np.ndarray) -> np.ndarray:
        return x @ self.R_engine_user.T / self.units_per_metre

    def points_to_user(self, x: np.ndarray) -> np.ndarray:
        return x @ self.R_engine_user * self.units_per_metre

    def camera_to_engine(self, R_cam_world: np.ndarray, t_cam_world: np.ndarray):
        return R_cam_world @ self.R_engine_user.T, t_cam_world / self.units_per_metre

    def camera_to_user(self, R_cam_world: np.ndarray, t_cam_world: np.ndarray):
        return R_cam_world @ self.R_engine_user, t_cam_world * self.units_per_metre

    def record(self) -> dict:
        return {"world_units_per_metre": self.units_per_metre, "unit": self.unit, "up_axis": self.up_axis,
                "up_angle_deg": self.up_angle_deg, "world_source": self.source}


def find_world(points: np.ndarray, names: tuple[str, ...], reference: np.ndarray,
               camera_up: np.ndarray | None = None) -> WorldFrame:
    """points (T, L, 3): triangulated landmarks ``names`` of T instants, user frame (NaN where
    unknown); reference (L, 3): the body model's landmarks, metres."""
    index = {n: i for i, n in enumerate(names)}
    ratios = []
    for a, b in SEGMENTS:
        measured = np.linalg.norm(points[:, index[a]] - points[:, index[b]], axis=-1)
        expected = np.linalg.norm(reference[index[a]] - reference[index[b]])
        ratios += list(measured[np.isfinite(measured)] / expected)
    if not ratios:
        raise ValueError("too few triangulated landmarks to find the world's units")
    ratio = float(np.median(ratios))
    unit = min(UNITS, key=lambda u: abs(np.log(ratio / UNITS[u])))
    # Snapped when within a factor SNAP of a unit: children and tall adults stay "m" (the
    # body's shape explains their size); the units lie far enough apart (in/cm 2.54, ft/m
    # 3.28, 10 between metric ones) that windows of 1.45 never overlap.
    units = UNITS[unit] if abs(np.log(ratio / UNITS[unit])) < np.log(SNAP) else ratio
    unit = unit if units == UNITS[unit] else "custom"

    mid = lambda a, b: (points[:, index[a]] + points[:, index[b]]) / 2  # noqa: E731
    up = _nanmean(mid("left_shoulder", "right_shoulder") - mid("left_ankle", "right_ankle"))
    if not np.isfinite(up).all():
        up = _nanmean(mid("left_shoulder", "right_shoulder") - mid("left_hip", "right_hip"))
    best, angle = _nearest_axis(up)
    if (not np.isfinite(angle) or angle > 35.0) and camera_up is not None:
        best, angle = _nearest_axis(camera_up)
    return WorldFrame(float(units), unit, best, float(angle))


def _nanmean(x: np.ndarray) -> np.ndarray:
    ok = np.isfinite(x).all(-1)
    return x[ok].mean(0) if ok.any() else np.full(x.shape[-1], np.nan)


def _nearest_axis(v: np.ndarray) -> tuple[str, float]:
    if not np.isfinite(v).all() or np.linalg.norm(v) == 0:
        return "+Z", float("nan")
    v = v / np.linalg.norm(v)
    name = max(AXES, key=lambda k: float(np.dot(AXES[k], v)))
    return name, float(np.degrees(np.arccos(np.clip(np.dot(AXES[name], v), -1, 1))))

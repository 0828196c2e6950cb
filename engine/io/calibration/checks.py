"""Checks shared by the readers: each error names the file, the camera and the field."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.io.calibration.camera import Calibration, CameraCalibration
from engine.io.calibration.rotations import rodrigues_to_matrix

VECTOR3 = ((3,), (3, 1), (1, 3))
DIST_SIZES = (4, 5, 8)
POSE_FIELDS = {"toml": "rotation, translation", "easymocap": "R_/Rot_, T_", "colmap": "QW QX QY QZ, TX TY TZ",
               "json": "R_cam_world, t_cam_world"}
SAME_PLACE = 1e-7  # centres this close, relative to the largest coordinate, are one place (rounding)
COINCIDENT = 1e-3  # two centres closer than this fraction of the cameras' spread share one place


@dataclass(frozen=True)
class Where:
    """A place in a file, for error messages: the file and, when known, the camera."""

    file: Path
    camera: str | None = None

    def error(self, field: str, problem: str) -> InputError:
        camera = "" if self.camera is None else f"camera '{self.camera}', "
        return InputError(f"{self.file}: {camera}field '{field}': {problem}")

    def require(self, table: dict, key: str):
        if key not in table:
            raise self.error(key, "missing")
        return table[key]


def array(where: Where, field: str, raw, shapes, expected: str | None = None) -> np.ndarray:
    """``raw`` as a finite float64 array of one of ``shapes`` (``expected`` says them in words)."""
    try:
        a = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise where.error(field, f"expected numbers, got {str(raw)[:80]!r}") from None
    if a.shape not in shapes:
        expected = expected or f"shape {' or '.join(map(str, shapes))}"
        raise where.error(field, f"expected {expected}, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise where.error(field, f"{int((~np.isfinite(a)).sum())} non-finite value(s) (NaN or inf)")
    return a


def intrinsics(where: Where, field: str, raw) -> np.ndarray:
    """(3, 3) ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` with fx, fy > 0 (hence invertible)."""
    K = array(where, field, raw, ((3, 3),))
    lower = np.abs(K[[1, 2, 2], [0, 0, 1]]).max()
    if lower > 1e-9 or abs(K[2, 2] - 1.0) > 1e-9 or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise where.error(field, f"expected [[fx, s, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0, got {K.tolist()}")
    return K


def distortion(where: Where, field: str, raw) -> np.ndarray:
    """OpenCV coefficients (4, 5 or 8 of them, as a vector or a 1-row/column matrix); None: zeros(5)."""
    if raw is None:
        return np.zeros(5)
    shapes = [s for k in DIST_SIZES for s in ((k,), (1, k), (k, 1))] + [(0,)]
    d = array(where, field, raw, shapes, "4, 5 or 8 coefficients (k1, k2, p1, p2[, k3[, k4, k5, k6]])").reshape(-1)
    return d if d.size else np.zeros(5)


def rotation(where: Where, field: str, raw, rotvec: bool = False) -> np.ndarray:
    """(3, 3) rotation matrix; with ``rotvec`` a 3-vector is taken as a Rodrigues vector."""
    R = array(where, field, raw, ((3, 3),) + (VECTOR3 if rotvec else ()))
    if R.shape != (3, 3):
        return rodrigues_to_matrix(R.reshape(3))
    err = float(np.abs(R @ R.T - np.eye(3)).max())
    det = float(np.linalg.det(R))
    if err > 1e-4 or det < 0:
        raise where.error(field, f"not a rotation (|R R^T - I| = {err:.2g}, det = {det:.3g})")
    return R


def translation(where: Where, field: str, raw) -> np.ndarray:
    return array(where, field, raw, VECTOR3).reshape(3)


def image_size(where: Where, field: str, width, height) -> tuple[int, int]:
    """Whole, non-negative pixels; 0 x 0 means unknown."""
    size = array(where, field, [width, height], ((2,),))
    if (size != np.round(size)).any() or (size < 0).any() or ((size == 0).any() and size.any()):
        raise where.error(field, f"expected a width and height in whole pixels (both > 0), got {size.tolist()}")
    return int(size[0]), int(size[1])


def calibration(file: Path, fmt: str, cameras: list[CameraCalibration]) -> Calibration:
    """The cameras as a :class:`Calibration`: at least one, names unique."""
    if not cameras:
        raise InputError(f"{file}: no camera in this {fmt} calibration file")
    for name, count in Counter(c.name for c in cameras).items():
        if count > 1:
            raise Where(file, name).error("name", f"{count} cameras share this name; names must be unique")
    return Calibration(cameras, Path(file), fmt)


def check_baselines(calibration: Calibration) -> None:
    """Refuse cameras that share one centre, for the cameras a reconstruction uses (pass
    ``calibration.subset(used)``): two views from one place give no baseline to triangulate
    from, and a calibration whose cameras all sat at one pose crashed the fitter. All centres
    within rounding of each other (``SAME_PLACE``), or, with 3 or more cameras, two closer than
    ``COINCIDENT`` of the cameras' spread. One camera alone is fine. Not done when a file is
    read: the add-on shows such cameras, and a user may leave the duplicate out."""
    file, fmt, cameras = calibration.source, calibration.format, calibration.cameras
    if len(cameras) < 2:
        return
    centres = np.stack([c.center_world for c in cameras])
    apart = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    spread = float(apart.max())
    fields = POSE_FIELDS.get(fmt, "rotation, translation")
    if spread <= SAME_PLACE * float(np.abs(centres).max()):
        names = ", ".join(f"'{c.name}'" for c in cameras)
        centre = (np.round(centres[0], 6) + 0.0).tolist()
        raise InputError(f"{file}: cameras {names}, fields '{fields}': all share one centre {centre}: cameras at "
                         f"one place give no baseline to triangulate from; check the calibration (one camera's pose "
                         f"copied to all?)")
    if len(cameras) < 3:
        return
    close = [(i, j) for i in range(len(cameras)) for j in range(i + 1, len(cameras))
             if apart[i, j] < COINCIDENT * spread]
    if close:
        pairs = "; ".join(f"'{cameras[i].name}' and '{cameras[j].name}' {apart[i, j]:.3g} apart" for i, j in close)
        raise InputError(f"{file}: cameras {pairs}, fields '{fields}': these share one centre (the cameras span "
                         f"{spread:.3g}): cameras at one place give no baseline to triangulate from; check the "
                         f"calibration (one camera's pose copied onto another?)")

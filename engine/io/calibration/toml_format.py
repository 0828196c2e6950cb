"""Pose2Sim / anipose / FreeMoCap ``calibration.toml``: one table per camera::

    [cam_01]
    name = "cam_01"                 # optional: the table key otherwise
    size = [ 1920.0, 1080.0,]       # width, height in pixels
    matrix = [ [ fx, 0, cx,], [ 0, fy, cy,], [ 0, 0, 1,],]
    distortions = [ k1, k2, p1, p2,]   # OpenCV order, 4 or 5 values
    rotation = [ rx, ry, rz,]       # Rodrigues vector, world to camera
    translation = [ tx, ty, tz,]    # world to camera (Pose2Sim: metres)
    fisheye = false

Tables without camera fields (``[metadata]``) are skipped.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from engine.errors import InputError
from engine.io.calibration import checks
from engine.io.calibration.camera import Calibration, CameraCalibration

CAMERA_FIELDS = ("matrix", "size", "rotation", "translation", "distortions")


def parse_toml(path: Path) -> dict:
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise InputError(f"{path}: missing") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid TOML: {e}") from None
    except RecursionError:  # tomllib parses nested arrays recursively
        raise InputError(f"{path}: not valid TOML for this program: arrays or tables nested too deeply") from None


def camera_tables(data: dict) -> dict[str, dict]:
    """The tables that hold at least one camera field, by key."""
    return {k: v for k, v in data.items() if isinstance(v, dict) and any(f in v for f in CAMERA_FIELDS)}


def read_toml(path: Path) -> Calibration:
    path = Path(path)
    cameras = [_camera(path, key, table) for key, table in camera_tables(parse_toml(path)).items()]
    return checks.calibration(path, "toml", cameras)


def _camera(path: Path, key: str, table: dict) -> CameraCalibration:
    name = table.get("name", key)
    if not isinstance(name, (str, int)) or isinstance(name, bool):
        raise checks.Where(path, key).error("name", f"expected a string, got {name!r}")
    where = checks.Where(path, str(name))
    if table.get("fisheye", False):
        raise where.error("fisheye", "fisheye cameras are not supported (only the pinhole model "
                                     "with OpenCV distortion); recalibrate with fisheye = false")
    size = checks.array(where, "size", where.require(table, "size"), ((2,),))
    width, height = checks.image_size(where, "size", *size)
    return CameraCalibration(
        name=str(name),
        K=checks.intrinsics(where, "matrix", where.require(table, "matrix")),
        dist=checks.distortion(where, "distortions", table.get("distortions")),
        R_cam_world=checks.rotation(where, "rotation", where.require(table, "rotation"), rotvec=True),
        t_cam_world=checks.translation(where, "translation", where.require(table, "translation")),
        width=width,
        height=height,
    )

"""Pose2Sim / anipose / FreeMoCap ``calibration.toml``: one table per camera::

    [cam_01]
    name = "cam_01"                 # optional: the table key otherwise
    size = [ 1920.0, 1080.0,]       # width, height in pixels
    matrix = [ [ fx, 0, cx,], [ 0, fy, cy,], [ 0, 0, 1,],]
    distortions = [ k1, k2, p1, p2,]   # OpenCV order, 4 or 5 values
    rotation = [ rx, ry, rz,]       # Rodrigues vector, world to camera
    translation = [ tx, ty, tz,]    # world to camera (Pose2Sim: metres)
    fisheye = false

Tables without camera fields (``[metadata]``) are skipped. ``write_toml`` writes this layout
(as Pose2Sim does, ``[metadata]`` last), which Pose2Sim, anipose and FreeMoCap read too.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write_text
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


def write_toml(calibration: Calibration, path: str | Path, metadata: dict | None = None) -> None:
    """Write ``calibration`` as a Pose2Sim ``calibration.toml``, atomically (``engine.atomic``);
    ``metadata``: numbers, strings or booleans for its ``[metadata]`` table. Distortion is
    written as its first 4 coefficients when the others are zero (Pose2Sim's k1, k2, p1, p2)."""
    from engine.io.calibration.rotations import matrix_to_rodrigues

    path = Path(path)
    blocks = []
    for c in calibration.cameras:
        dist = c.dist if len(c.dist) > 4 and np.any(c.dist[4:]) else np.resize(c.dist, 4) * (np.arange(4) < len(c.dist))
        values = {"size": [float(c.width), float(c.height)], "matrix": c.K.tolist(), "distortions": dist.tolist(),
                  "rotation": matrix_to_rodrigues(c.R_cam_world).tolist(), "translation": c.t_cam_world.tolist()}
        bad = [k for k, v in values.items() if not np.isfinite(np.asarray(v, np.float64)).all()]
        if bad:
            raise InputError(f"{path}: camera {c.name}: cannot write non-finite values (NaN or inf) in {bad[0]}")
        lines = [f"[{_key(c.name)}]", f"name = {_string(c.name)}"]
        lines += [f"{k} = {_array(v)}" for k, v in values.items()] + ["fisheye = false"]
        blocks.append("\n".join(lines))
    meta = {"adjusted": False, "error": 0.0, **(metadata or {})}
    blocks.append("\n".join(["[metadata]"] + [f"{k} = {_scalar(v)}" for k, v in meta.items()]))
    atomic_write_text(path, "\n\n".join(blocks) + "\n")


def _key(name: str) -> str:
    return name if name.replace("_", "").replace("-", "").isalnum() and name.isascii() else _string(name)


def _string(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float, np.floating, np.integer)) and math.isfinite(float(v)):
        return repr(float(v)) if isinstance(v, (float, np.floating)) else str(int(v))
    return _string(str(v))


def _array(v) -> str:
    if isinstance(v, (list, tuple)):
        return "[ " + " ".join(_array(x) + "," for x in v) + "]"
    return repr(float(v))

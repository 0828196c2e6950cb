"""The project's camera JSON, and the cameras of a synthetic scene's ``scene.json``::

    {"schema_version": 1, "kind": "diffproxy.cameras",
     "cameras": [{"name": "cam01", "K": [[...]], "dist": [...], "R_cam_world": [[...]],
                  "t_cam_world": [...], "width": 1920, "height": 1080}, ...]}

``scene.json`` cameras have no name (nor dist): they are named ``view_00``, ``view_01``, ... as
the scene's images (``images/view_00.png``); ``dist`` absent means none.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.errors import InputError
from engine.atomic import atomic_write_text
from engine.io.calibration import checks
from engine.io.calibration.camera import Calibration, CameraCalibration
from engine.io.calibration.safe_json import load_json

SCHEMA_VERSION = 1
KIND = "diffproxy.cameras"


def read_json_calibration(path: Path) -> Calibration:
    path = Path(path)
    data = load_json(path)
    where = checks.Where(path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object with a 'cameras' list")
    if data.get("kind", KIND) != KIND:
        raise where.error("kind", f"{data.get('kind')!r} is not a camera file (expected {KIND!r})")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise where.error("schema_version", f"is {data.get('schema_version')!r}, this reader knows {SCHEMA_VERSION}")
    entries = where.require(data, "cameras")
    if not isinstance(entries, list):
        raise where.error("cameras", "expected a list")
    return checks.calibration(path, "json", [_camera(path, i, c) for i, c in enumerate(entries)])


def _camera(path: Path, index: int, entry) -> CameraCalibration:
    if not isinstance(entry, dict):
        raise checks.Where(path, f"cameras[{index}]").error("cameras", "expected an object")
    name = entry.get("name", f"view_{index:02d}")
    if not isinstance(name, str) or not name:
        raise checks.Where(path, f"cameras[{index}]").error("name", f"expected a non-empty string, got {name!r}")
    where = checks.Where(path, name)
    width, height = checks.image_size(where, "width, height", where.require(entry, "width"),
                                      where.require(entry, "height"))
    return CameraCalibration(
        name=name,
        K=checks.intrinsics(where, "K", where.require(entry, "K")),
        dist=checks.distortion(where, "dist", entry.get("dist")),
        R_cam_world=checks.rotation(where, "R_cam_world", where.require(entry, "R_cam_world")),
        t_cam_world=checks.translation(where, "t_cam_world", where.require(entry, "t_cam_world")),
        width=width,
        height=height,
    )


def write_calibration_json(calibration: Calibration, path: str | Path) -> None:
    """Write ``calibration`` in the project's JSON, atomically (``engine.atomic``): a reader
    never sees half a file."""
    path = Path(path)
    record = {"schema_version": SCHEMA_VERSION, "kind": KIND, "cameras": [
        {"name": c.name, "K": c.K.tolist(), "dist": c.dist.tolist(), "R_cam_world": c.R_cam_world.tolist(),
         "t_cam_world": c.t_cam_world.tolist(), "width": int(c.width), "height": int(c.height)}
        for c in calibration.cameras]}
    try:
        text = json.dumps(record, indent=1, allow_nan=False)
    except ValueError:
        raise InputError(f"{path}: cannot write non-finite camera values (NaN or inf) as JSON") from None
    atomic_write_text(path, text + "\n")

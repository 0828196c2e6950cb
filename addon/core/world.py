"""The user's world (a calibration's frame and units) -> Blender's world (Z up, metres).

Blender's world is the engine's frame (``engine.pipeline.world``, vendored): ``x_blender =
R_engine_user @ x_user / units_per_metre``, with ``R_engine_user`` turning the user's up axis
into +Z. The up axis and the units come from an explicit choice or a fit.json's ``world``
record; nothing is guessed here.
"""

from __future__ import annotations

import math

import numpy as np

from ..vendor.blender_camera import BlenderCamera, opencv_to_blender
from ..vendor.calibration import CameraCalibration
from ..vendor.errors import InputError
from ..vendor.world import AXES, WorldFrame

UP_AXES = tuple(AXES)  # "+X", "-X", "+Y", "-Y", "+Z", "-Z"


def world_frame(up_axis: str = "+Z", units_per_metre: float = 1.0) -> WorldFrame:
    if up_axis not in AXES:
        raise InputError(f"up axis: expected one of {', '.join(AXES)}, got {up_axis!r}")
    if not (isinstance(units_per_metre, (int, float)) and math.isfinite(units_per_metre) and units_per_metre > 0):
        raise InputError(f"units per metre: expected a positive number, got {units_per_metre!r}")
    unit = "m" if units_per_metre == 1.0 else "custom"
    return WorldFrame(float(units_per_metre), unit, up_axis, 0.0)


def world_from_record(record: dict, where: str) -> WorldFrame:
    """A fit.json's ``world`` record (``up_axis``, ``world_units_per_metre``)."""
    if not isinstance(record, dict):
        raise InputError(f"{where}: field 'world': expected an object with up_axis and world_units_per_metre")
    try:
        return world_frame(record.get("up_axis", "+Z"), record.get("world_units_per_metre", 1.0))
    except InputError as e:
        raise InputError(f"{where}: field 'world': {e}") from None


def points_to_blender(world: WorldFrame, points_user: np.ndarray) -> np.ndarray:
    return world.points_to_engine(np.asarray(points_user, dtype=np.float64))


def camera_to_blender(world: WorldFrame, cam: CameraCalibration, size: tuple[int, int] | None = None) -> BlenderCamera:
    """The Blender settings of ``cam`` in Blender's world, for images of ``size`` (width,
    height; default the calibrated size). A different size rescales the calibration as the
    engine does (``CameraCalibration.scaled``). Lens distortion is not representable: dropped."""
    if size is not None and tuple(size) != (cam.width, cam.height):
        cam = cam.scaled(*size) if cam.size_known else _with_size(cam, *size)
    if not cam.size_known:
        raise InputError(f"camera '{cam.name}': the calibration gives no image size and no footage was found to "
                         f"take it from")
    R, t = world.camera_to_engine(cam.R_cam_world, cam.t_cam_world)
    return opencv_to_blender(cam.K, R, t, cam.width, cam.height)


def _with_size(cam: CameraCalibration, width: int, height: int) -> CameraCalibration:
    return CameraCalibration(cam.name, cam.K, cam.dist, cam.R_cam_world, cam.t_cam_world, int(width), int(height))

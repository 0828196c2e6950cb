"""A folder that holds more than one candidate calibration: the readable ones are used, and a
file that is not a calibration this program reads (e.g. another program's ``cameras.json``
beside EasyMocap's yml files) is ignored with a note saying so. Two readable calibrations
must hold the same cameras, else both are named in the error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.io.calibration.camera import Calibration

Candidate = tuple[str, Path, Callable[[Path], Calibration]]  # (description, path, reader)
RTOL = 1e-4  # files of one calibration written by two programs agree to this (K, distortion, rotation)


def read_candidates(folder: Path, found: list[Candidate]) -> Calibration:
    """The calibration in ``folder`` from the candidates ``found`` there (at least one)."""
    if len(found) == 1:
        _, target, reader = found[0]
        return reader(target)
    readable, ignored = [], []
    for label, target, reader in found:
        try:
            readable.append((label, reader(target)))
        except InputError as e:
            ignored.append((label, str(e)))
    if not readable:
        raise InputError(f"{folder}: none of the {len(found)} calibrations found could be read: "
                         + "; ".join(error for _, error in ignored))
    readable.sort(key=lambda r: not all(c.size_known for c in r[1].cameras))  # image sizes known first
    label, calib = readable[0]
    notes = []
    for other_label, other in readable[1:]:
        difference = disagreement(calib, other)
        if difference:
            raise InputError(f"{folder}: two calibrations disagree: {label} and {other_label}: {difference}; "
                             f"remove one, or pass the file to use")
        notes.append(f"calibration: {label} used; {other_label} holds the same cameras")
    notes += [f"calibration: {other} ignored, not a calibration this program reads ({error}); {label} used"
              for other, error in ignored]
    calib.notes.extend(notes)
    return calib


def disagreement(a: Calibration, b: Calibration) -> str | None:
    """Where ``a`` and ``b`` differ (the first camera and field), or None when they hold the
    same cameras: names, intrinsics, distortion, pose and, where both know it, image size."""
    if sorted(a.names()) != sorted(b.names()):
        return f"cameras {', '.join(a.names())} against {', '.join(b.names())}"
    scale = max(1.0, *(float(np.abs(c.t_cam_world).max()) for c in a.cameras))
    for ca in a.cameras:
        cb = b[ca.name]
        pad = lambda d: np.pad(d, (0, 8 - d.size))  # noqa: E731  (4, 5 or 8 coefficients)
        fields = (("K", ca.K, cb.K, RTOL * float(np.abs(ca.K).max())),
                  ("distortion", pad(ca.dist), pad(cb.dist), RTOL), ("rotation", ca.R_cam_world, cb.R_cam_world, RTOL),
                  ("translation", ca.t_cam_world, cb.t_cam_world, RTOL * scale))
        for field, x, y, tolerance in fields:
            if np.abs(x - y).max() > tolerance:
                return (f"camera '{ca.name}' field '{field}' differs ({np.round(x, 6).tolist()} against "
                        f"{np.round(y, 6).tolist()})")
        if ca.size_known and cb.size_known and (ca.width, ca.height) != (cb.width, cb.height):
            return f"camera '{ca.name}' image size differs ({ca.width}x{ca.height} against {cb.width}x{cb.height})"
    return None

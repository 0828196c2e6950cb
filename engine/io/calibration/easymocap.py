"""EasyMocap ``intri.yml`` + ``extri.yml`` (OpenCV FileStorage YAML), side by side in one folder.

intri.yml: ``names`` (list of camera names), ``K_<name>`` (3x3), ``dist_<name>`` (1x5; ``D_<name>``
in some versions), optionally ``H_<name>`` / ``W_<name>`` (image size).
extri.yml: ``R_<name>`` (3x1 Rodrigues vector, or 3x3), ``Rot_<name>`` (3x3), ``T_<name>`` (3x1),
world to camera, OpenCV axes. ``R_`` is preferred, as EasyMocap itself does.

The image size is usually not in these files: width = height = 0 then, and the caller sets it
from the images (``dataclasses.replace(camera, width=w, height=h)``).
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import InputError
from engine.io.calibration import checks
from engine.io.calibration.camera import Calibration, CameraCalibration
from engine.io.calibration.opencv_yaml import parse_opencv_yaml

INTRI = ("intri.yml", "intri.yaml")
EXTRI = ("extri.yml", "extri.yaml")


def easymocap_files(folder: Path) -> tuple[Path | None, Path | None]:
    """The intri and extri files in ``folder`` (None where absent)."""
    find = lambda names: next((folder / n for n in names if (folder / n).is_file()), None)  # noqa: E731
    return find(INTRI), find(EXTRI)


def read_easymocap(path: Path) -> Calibration:
    """``path``: the folder, or either of the two files."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    intri_path, extri_path = easymocap_files(folder)
    if intri_path is None or extri_path is None:
        missing = "intri.yml" if intri_path is None else "extri.yml"
        raise InputError(f"{folder}: EasyMocap calibration needs intri.yml and extri.yml; {missing} is missing")
    intri, extri = parse_opencv_yaml(intri_path), parse_opencv_yaml(extri_path)
    names = _names(intri_path, intri) if "names" in intri else _names(extri_path, extri)
    cameras = [_camera(intri_path, intri, extri_path, extri, name) for name in names]
    return checks.calibration(intri_path, "easymocap", cameras)


def _names(path: Path, data: dict) -> list[str]:
    names = checks.Where(path).require(data, "names")
    if isinstance(names, str):
        names = [] if names in ("", "[]") else [names]
    if not isinstance(names, list):
        raise checks.Where(path).error("names", "expected a list of camera names")
    return [str(n) for n in names]


def _camera(intri_path: Path, intri: dict, extri_path: Path, extri: dict, name: str) -> CameraCalibration:
    wi, we = checks.Where(intri_path, name), checks.Where(extri_path, name)
    K = checks.intrinsics(wi, f"K_{name}", wi.require(intri, f"K_{name}"))
    dist_key = next((k for k in (f"dist_{name}", f"D_{name}") if k in intri), f"dist_{name}")
    dist = checks.distortion(wi, dist_key, intri.get(dist_key))
    rot_key = next((k for k in (f"R_{name}", f"Rot_{name}") if k in extri), None)
    if rot_key is None:
        raise we.error(f"R_{name}", f"missing (and no Rot_{name} either)")
    R = checks.rotation(we, rot_key, extri[rot_key], rotvec=rot_key.startswith("R_"))
    t = checks.translation(we, f"T_{name}", we.require(extri, f"T_{name}"))
    width, height = _size(intri_path, intri, extri_path, extri, name)
    return CameraCalibration(name, K, dist, R, t, width, height)


def _size(intri_path: Path, intri: dict, extri_path: Path, extri: dict, name: str) -> tuple[int, int]:
    """``W_<name>`` and ``H_<name>`` from either file; (0, 0) when neither has them."""
    for path, data in ((intri_path, intri), (extri_path, extri)):
        if f"W_{name}" in data and f"H_{name}" in data:
            return checks.image_size(checks.Where(path, name), f"W_{name}, H_{name}",
                                     _scalar(data[f"W_{name}"]), _scalar(data[f"H_{name}"]))
    return 0, 0


def _scalar(value):
    """A scalar written as text or as a 1x1 opencv-matrix."""
    return value.reshape(-1)[0] if hasattr(value, "size") and value.size == 1 else value

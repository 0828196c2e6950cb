"""Camera calibrations as users have them, read into one numpy type (:class:`CameraCalibration`,
OpenCV convention, see ``camera``). Standard library and numpy only: this runs inside Blender.

Formats: Pose2Sim / anipose / FreeMoCap ``.toml`` ("toml"), EasyMocap ``intri.yml`` +
``extri.yml`` ("easymocap"), a COLMAP text model ``cameras.txt`` + ``images.txt`` ("colmap"),
the project's camera JSON or a scene's ``scene.json`` ("json").
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.errors import InputError
from engine.io.calibration.camera import Calibration, CameraCalibration
from engine.io.calibration.checks import check_baselines
from engine.io.calibration.colmap import binary_model, binary_model_error, colmap_folder, read_colmap
from engine.io.calibration.easymocap import EXTRI, INTRI, easymocap_files, read_easymocap
from engine.io.calibration.folder import read_candidates
from engine.io.calibration.json_format import read_json_calibration, write_calibration_json
from engine.io.calibration.toml_format import camera_tables, parse_toml, read_toml

__all__ = ["Calibration", "CameraCalibration", "check_baselines", "find_calibrations", "read_calibration",
           "write_calibration_json"]

JSON_NAMES = ("cameras.json", "calibration.json")
LOOKED_FOR = ("Calib*.toml / calibration*.toml / a .toml with camera tables, intri.yml + extri.yml, "
              "COLMAP cameras.txt + images.txt (also under sparse/0), cameras.json / calibration.json")


def read_calibration(path: str | Path) -> Calibration:
    """The calibration in ``path``: a file, or a folder holding one (several readable ones must
    agree; files that are not calibrations this program reads are ignored, said in ``notes``)."""
    path = Path(path)
    if path.is_dir():
        found = find_calibrations(path)
        if not found:
            raise InputError(f"{path}: no camera calibration found (looked for {LOOKED_FOR})")
        return read_candidates(path, found)
    if not path.exists():
        raise InputError(f"{path}: missing")
    return _file_reader(path)(path)


def find_calibrations(folder: Path) -> list[tuple[str, Path, Callable[[Path], Calibration]]]:
    """(description, path, reader) of each calibration recognised in ``folder``."""
    folder = Path(folder)
    found = [(str(f), f, read_toml) for f in sorted(folder.glob("*.toml")) if _is_calibration_toml(f)]
    intri, extri = easymocap_files(folder)
    if intri or extri:
        found.append((f"{folder / INTRI[0]} + {EXTRI[0]}", folder, read_easymocap))
    if (model := colmap_folder(folder)) is not None:
        found.append((f"{model / 'cameras.txt'} + images.txt", model, read_colmap))
    elif (model := binary_model(folder)) is not None:
        found.append((f"{model / 'cameras.bin'} (binary COLMAP)", model, _raise_binary))
    found += [(str(folder / n), folder / n, read_json_calibration) for n in JSON_NAMES if (folder / n).is_file()]
    return found


def _is_calibration_toml(path: Path) -> bool:
    """Named Calib*.toml / calibration*.toml, or any TOML file with camera tables."""
    if path.name.lower().startswith("calib"):
        return True
    try:
        return bool(camera_tables(parse_toml(path)))
    except InputError:
        return False


def _file_reader(path: Path) -> Callable[[Path], Calibration]:
    suffix, name = path.suffix.lower(), path.name.lower()
    if suffix == ".toml":
        return read_toml
    if suffix == ".json":
        return read_json_calibration
    if name in INTRI + EXTRI:
        return read_easymocap
    if name in ("cameras.txt", "images.txt"):
        return read_colmap
    if name in ("cameras.bin", "images.bin"):
        return _raise_binary
    raise InputError(f"{path}: not a recognised calibration file (expected {LOOKED_FOR})")


def _raise_binary(path: Path) -> Calibration:
    raise binary_model_error(path if path.is_dir() else path.parent)

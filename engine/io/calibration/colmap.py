"""COLMAP text model: ``cameras.txt`` (``CAMERA_ID MODEL WIDTH HEIGHT PARAMS[]``) and
``images.txt`` (per image ``IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME``, then a line of 2D
points, possibly empty, or left out by some tools); ``#`` starts a comment line. Found in the
folder or its ``sparse/0``.

Every image is one camera of the result (its pose, and the intrinsics of its CAMERA_ID). The
pose is world to camera, OpenCV axes: ``x_cam = R(q) x_world + t``. COLMAP puts the centre of
the top-left pixel at (0.5, 0.5), the engine at (0, 0): ``cx = cx_colmap - 0.5`` (likewise cy).

Camera names, from the image NAMEs: the folder holding each image when every image lies in a
folder and those folder names all differ (``cam01/frame_000.png`` -> ``cam01``); else the file
name without extension when those all differ (``images/cam01.png`` -> ``cam01``); else the whole
NAME without extension (``cam01/frame_000``).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import numpy as np

from engine.errors import InputError
from engine.io.calibration import checks
from engine.io.calibration.camera import Calibration, CameraCalibration
from engine.io.calibration.rotations import quaternion_to_matrix

# model -> its PARAMS; the distortion-free ones give dist = zeros(5)
MODELS = {
    "SIMPLE_PINHOLE": ("f", "cx", "cy"),
    "PINHOLE": ("fx", "fy", "cx", "cy"),
    "SIMPLE_RADIAL": ("f", "cx", "cy", "k"),
    "RADIAL": ("f", "cx", "cy", "k1", "k2"),
    "OPENCV": ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2"),
    "FULL_OPENCV": ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6"),
}
SUBFOLDERS = (".", "sparse/0", "sparse")


def colmap_folder(folder: Path) -> Path | None:
    """The folder holding cameras.txt and images.txt: ``folder`` or its sparse/0 (or sparse)."""
    for sub in SUBFOLDERS:
        if (folder / sub / "cameras.txt").is_file() and (folder / sub / "images.txt").is_file():
            return folder / sub
    return None


def read_colmap(path: Path) -> Calibration:
    """``path``: the model folder (or a folder above it, see :func:`colmap_folder`), or one of its files."""
    path = Path(path)
    folder = colmap_folder(path) if path.is_dir() else path.parent
    if folder is None or not all((folder / f).is_file() for f in ("cameras.txt", "images.txt")):
        raise InputError(f"{path}: a COLMAP text model needs cameras.txt and images.txt side by side")
    intrinsics = _read_cameras(folder / "cameras.txt")
    images_path = folder / "images.txt"
    images = _read_images(images_path)
    names = view_names([img[1] for img in images])
    cameras = [_camera(images_path, view, intrinsics, *img) for view, img in zip(names, images)]
    return checks.calibration(images_path, "colmap", cameras)


def binary_model(folder: Path) -> Path | None:
    """The folder holding a binary COLMAP model (cameras.bin) without its text version, if any."""
    return next((folder / sub for sub in SUBFOLDERS if (folder / sub / "cameras.bin").is_file()
                 and not (folder / sub / "cameras.txt").is_file()), None)


def binary_model_error(folder: Path) -> InputError:
    return InputError(f"{folder}: a binary COLMAP model (cameras.bin, images.bin); convert it to text first: "
                      f"colmap model_converter --input_path {folder} --output_path {folder} --output_type TXT")


def view_names(image_names: list[str]) -> list[str]:
    """Camera names for COLMAP image NAMEs (the rule in the module docstring)."""
    paths = [PurePosixPath(n.replace("\\", "/")) for n in image_names]
    folders = [p.parent.name for p in paths]
    if all(folders) and len(set(folders)) == len(folders):
        return folders
    stems = [p.stem for p in paths]
    if len(set(stems)) == len(stems):
        return stems
    return [str(p.with_suffix("")) for p in paths]


def _lines(path: Path) -> list[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not a text file: {e}") from None
    return [(n, line) for n, line in enumerate(text.splitlines(), start=1) if not line.lstrip().startswith("#")]


def _read_cameras(path: Path) -> dict[str, tuple]:
    """CAMERA_ID -> (K, dist, width, height)."""
    cameras = {}
    for number, line in _lines(path):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) < 4:
            raise InputError(f"{path}: line {number}: expected 'CAMERA_ID MODEL WIDTH HEIGHT PARAMS[]'")
        where = checks.Where(path, f"CAMERA_ID {tokens[0]}")
        model, names = tokens[1], MODELS.get(tokens[1])
        if names is None:
            raise where.error("MODEL", f"{model} is not supported; supported models: {', '.join(MODELS)}")
        params = dict(zip(names, checks.array(where, "PARAMS", tokens[4:], ((len(names),),))))
        f = params.get("f")
        K = [[params.get("fx", f), 0.0, params["cx"] - 0.5], [0.0, params.get("fy", f), params["cy"] - 0.5], [0, 0, 1]]
        dist = [params.get(k, 0.0) for k in ("k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6")]
        dist[0] = params.get("k", dist[0])
        n_dist = 8 if model == "FULL_OPENCV" else 4 if model == "OPENCV" else 5
        cameras[tokens[0]] = (checks.intrinsics(where, "PARAMS", K), np.array(dist[:n_dist]),
                              *checks.image_size(where, "WIDTH, HEIGHT", tokens[2], tokens[3]))
    return cameras


def _read_images(path: Path) -> list[tuple[int, str, list[str], list[str], str]]:
    """(line, NAME, [QW..QZ], [TX..TZ], CAMERA_ID) per image. COLMAP writes two lines per image,
    the header and its POINTS2D (``X Y POINT3D_ID`` triples, empty when it has none); some tools
    leave the second line out: a line after a header that reads as a header and not as points
    is the next image. A line that is neither is an error naming the file and line."""
    lines, images, i = _lines(path), [], 0
    while i < len(lines):
        number, line = lines[i]
        if not line.strip():  # blank lines between entries or at the end
            i += 1
            continue
        tokens = _header(line)
        if tokens is None:
            raise InputError(f"{path}: line {number}: expected 'IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME' "
                             f"(numbers, then the image name), got {line.strip()[:80]!r}")
        images.append((number, tokens[9].strip(), tokens[1:5], tokens[5:8], tokens[8]))
        i += 1
        if i < len(lines):
            follower, text = lines[i]
            if not text.strip() or _is_points(text):
                i += 1  # this image's POINTS2D
            elif _header(text) is None:
                raise InputError(f"{path}: line {follower}: expected the POINTS2D of the image on line {number} "
                                 f"('X Y POINT3D_ID' triples, or an empty line) or the next image's "
                                 f"'IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME', got {text.strip()[:80]!r}")
    return images


def _header(line: str) -> list[str] | None:
    """The 10 fields of an image line (NAME may hold spaces), or None when it is not one."""
    tokens = line.split(None, 9)
    if len(tokens) < 10 or not _is_int(tokens[0]) or not _is_int(tokens[8]):
        return None
    return tokens if all(_is_float(t) for t in tokens[1:8]) else None


def _is_points(line: str) -> bool:
    """``X Y POINT3D_ID`` triples (POINT3D_ID -1 where the point has no 3D point)."""
    tokens = line.split()
    return (len(tokens) % 3 == 0 and all(_is_float(t) for t in tokens)
            and all(_is_int(t) for t in tokens[2::3]))


def _is_int(token: str) -> bool:
    return token.lstrip("+-").isdigit()


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _camera(path: Path, view: str, intrinsics: dict, line: int, name: str, q, t, camera_id: str) -> CameraCalibration:
    where = checks.Where(path, view)
    if camera_id not in intrinsics:
        raise where.error("CAMERA_ID", f"camera {camera_id} (line {line}, image {name}) is not in cameras.txt")
    q = checks.array(where, "QW QX QY QZ", q, ((4,),))
    if np.linalg.norm(q) < 1e-8:
        raise where.error("QW QX QY QZ", "zero quaternion")
    K, dist, width, height = intrinsics[camera_id]
    return CameraCalibration(view, K.copy(), dist.copy(), quaternion_to_matrix(q),
                             checks.translation(where, "TX TY TZ", t), width, height)

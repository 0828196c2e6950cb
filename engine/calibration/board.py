"""Intrinsics from photos (or a video) of a printed board, one camera at a time.

A board is given as text, the way ``--board`` takes it:

- ``checkerboard:COLSxROWS:SQUARE_MM``: COLS x ROWS *inner* corners (OpenCV's pattern size),
  squares SQUARE_MM wide;
- ``charuco:COLSxROWS:SQUARE_MM:MARKER_MM:DICT``: COLS x ROWS *squares* (as FreeMoCap and
  OpenCV's ``CharucoBoard`` count them), ArUco markers MARKER_MM wide from the dictionary
  DICT (``4X4_50``, ``DICT_5X5_100``, ...).

Corners are found with OpenCV (``findChessboardCorners`` then ``cornerSubPix``; ChArUco with
``aruco.CharucoDetector``), the camera is solved with ``calibrateCamera`` (k1, k2, p1, p2: the
4 coefficients Pose2Sim writes; k3 fixed at 0, which a few photos cannot pin down; with fewer
than ``FREE_CENTRE_PHOTOS`` photos the principal point is fixed at the image's centre too: on
the bundled capture, 6 photos put it 20-30 px off the reference's, which turned the cameras
found from the person by a degree more than the centre does). Photos
where the board is not found are rejected and named; so is a photo whose own reprojection
error is far above the others' (a blurred or mis-ordered detection), after which the camera
is solved again without it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv")
VIDEO_SAMPLES = 40          # frames read from a board video, evenly spread
MIN_PHOTOS = 3              # fewer photos with the board found cannot solve a camera
OUTLIER_FACTOR = 3.0        # a photo whose RMS is this many times the median (and over OUTLIER_MIN_PX) is dropped
OUTLIER_MIN_PX = 1.0
FREE_CENTRE_PHOTOS = 15     # with fewer photos, the principal point stays at the image's centre
BOARD_FORMS = "checkerboard:COLSxROWS:SQUARE_MM or charuco:COLSxROWS:SQUARE_MM:MARKER_MM:DICT"


@dataclass(frozen=True)
class Board:
    kind: str                   # "checkerboard" | "charuco"
    cols: int                   # checkerboard: inner corners across; charuco: squares across
    rows: int
    square_m: float
    marker_m: float = 0.0       # charuco only
    dictionary: str = ""        # charuco only: the cv2.aruco name, e.g. "DICT_4X4_50"

    @classmethod
    def parse(cls, text: str) -> "Board":
        """The board ``text`` describes (see the module docstring); errors quote it."""
        parts = str(text).strip().split(":")
        kind = parts[0].lower()
        want = {"checkerboard": 3, "chessboard": 3, "charuco": 5}.get(kind)
        if want is None or len(parts) != want:
            raise InputError(f"--board: {text!r} is not a board; expected {BOARD_FORMS} "
                             f"(e.g. checkerboard:4x7:60)")
        size = re.fullmatch(r"(\d+)[xX](\d+)", parts[1])
        if not size or min(int(size[1]), int(size[2])) < 2:
            raise InputError(f"--board: {parts[1]!r} in {text!r} is not COLSxROWS with both at least 2 (e.g. 4x7)")
        square, marker = _millimetres(parts[2], "SQUARE_MM", text), 0.0
        if kind != "charuco":
            return cls("checkerboard", int(size[1]), int(size[2]), square)
        marker = _millimetres(parts[3], "MARKER_MM", text)
        if marker >= square:
            raise InputError(f"--board: {text!r}: the marker ({parts[3]} mm) must be smaller than the square "
                             f"({parts[2]} mm)")
        return cls("charuco", int(size[1]), int(size[2]), square, marker, _dictionary(parts[4], text))

    @property
    def corner_count(self) -> int:
        return self.cols * self.rows if self.kind == "checkerboard" else (self.cols - 1) * (self.rows - 1)

    def object_points(self) -> np.ndarray:
        """(corner_count, 3) the corners on the board's plane (z = 0), metres, in OpenCV's order."""
        if self.kind == "charuco":  # OpenCV's own table: ids count along the rows
            return np.asarray(charuco_board(self).getChessboardCorners(), np.float32).reshape(-1, 3)
        grid = np.mgrid[0:self.cols, 0:self.rows].T.reshape(-1, 2) * self.square_m
        return np.concatenate([grid, np.zeros((len(grid), 1))], axis=1).astype(np.float32)

    def describe(self) -> str:
        if self.kind == "checkerboard":
            return f"checkerboard {self.cols}x{self.rows} inner corners, {self.square_m * 1000:g} mm squares"
        return (f"ChArUco {self.cols}x{self.rows} squares of {self.square_m * 1000:g} mm, markers "
                f"{self.marker_m * 1000:g} mm, {self.dictionary}")


def _millimetres(text: str, name: str, whole: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or value <= 0:
        raise InputError(f"--board: {name} {text!r} in {whole!r} is not a positive number of millimetres")
    return value / 1000.0


def _dictionary(text: str, whole: str) -> str:
    import cv2

    name = text.upper() if text.upper().startswith("DICT_") else "DICT_" + text.upper()
    if not hasattr(cv2.aruco, name):
        known = sorted(n[5:] for n in dir(cv2.aruco) if n.startswith("DICT_") and n == n.upper())
        raise InputError(f"--board: ArUco dictionary {text!r} in {whole!r} is unknown (known: {', '.join(known)})")
    return name


@dataclass
class BoardIntrinsics:
    """One camera solved from its board photos, at the photos' size (``width`` x ``height``)."""

    camera: str
    K: np.ndarray
    dist: np.ndarray            # k1, k2, p1, p2
    width: int
    height: int
    rms_px: float               # OpenCV's RMS reprojection error over the photos used
    used: list[str] = field(default_factory=list)          # photo (or video frame) names
    not_found: list[str] = field(default_factory=list)     # the board was not found there
    outliers: list[str] = field(default_factory=list)      # found, but far off the others: left out
    photo_rms_px: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict:
        return {"fx": float(self.K[0, 0]), "fy": float(self.K[1, 1]), "cx": float(self.K[0, 2]),
                "cy": float(self.K[1, 2]), "distortions": [float(d) for d in self.dist], "size": [self.width,
                self.height], "rms_px": self.rms_px, "photos_used": len(self.used), "not_found": self.not_found,
                "outliers": self.outliers, "photo_rms_px": self.photo_rms_px}


def board_sources(folder: Path, cameras: list[str]) -> dict[str, Path]:
    """Each camera's board photos: the folder (of images) or video in ``folder`` whose name
    contains the camera's name (Pose2Sim's ``int_cam01_img/``, ``cam01/``, ``cam01.mp4``). A name
    that contains two cameras' names goes to the longer one (``cam1`` vs ``cam10``). Cameras
    without an entry are left out (the caller says so); an error when nothing matches at all or
    when one camera has two entries."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"--board-images: {folder} is not a folder (expected one folder of photos or one video "
                         f"per camera, named after the camera, e.g. int_cam01_img/)")
    entries = [p for p in sorted(folder.iterdir()) if not p.name.startswith(".")
               and (p.is_dir() or p.suffix.lower() in VIDEO_SUFFIXES)]
    found: dict[str, list[Path]] = {}
    for p in entries:
        owners = [c for c in cameras if c in (p.stem if p.is_file() else p.name)]
        if owners:
            found.setdefault(max(owners, key=len), []).append(p)
    for camera, paths in found.items():
        if len(paths) > 1:
            raise InputError(f"--board-images: camera {camera} has {len(paths)} entries in {folder} "
                             f"({', '.join(p.name for p in paths)}); keep one folder or video per camera")
    if not found:
        raise InputError(f"--board-images: nothing in {folder} is named after a camera ({', '.join(cameras)}); "
                         f"expected e.g. int_{cameras[0]}_img/ or {cameras[0]}.mp4")
    return {c: found[c][0] for c in cameras if c in found}


def board_images(source: Path, samples: int = VIDEO_SAMPLES) -> Iterator[tuple[str, np.ndarray]]:
    """(name, grey uint8 image) of each photo in a folder (name order), or of ``samples`` frames
    evenly spread over a video (named ``<video>#<frame>``)."""
    import cv2

    source = Path(source)
    if source.is_dir():
        photos = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
                        and not p.name.startswith("."))
        if not photos:
            raise InputError(f"--board-images: {source} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        for p in photos:
            grey = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
            if grey is None:
                raise InputError(f"--board-images: {p}: unreadable image")
            yield p.name, grey
        return
    cap = cv2.VideoCapture(str(source))
    try:
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if not cap.isOpened() or count <= 0:
            raise InputError(f"--board-images: {source}: unreadable video")
        wanted = set(np.unique(np.linspace(0, count - 1, min(samples, count)).round().astype(int)).tolist())
        for index in range(max(wanted) + 1):
            ok, bgr = cap.read()
            if not ok:
                break
            if index in wanted:
                yield f"{source.name}#{index}", cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    finally:
        cap.release()


def find_corners(grey: np.ndarray, board: Board) -> tuple[np.ndarray, np.ndarray] | None:
    """(corners (M, 2) float32 sub-pixel, object points (M, 3)) of the board in ``grey``, or None."""
    import cv2

    if board.kind == "checkerboard":
        flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_FAST_CHECK
        found, corners = cv2.findChessboardCorners(grey, (board.cols, board.rows), flags)
        if not found:
            return None
        criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 1e-3)
        corners = cv2.cornerSubPix(grey, corners, (11, 11), (-1, -1), criteria)
        return corners.reshape(-1, 2), board.object_points()
    detector = cv2.aruco.CharucoDetector(charuco_board(board))
    corners, ids, _, _ = detector.detectBoard(grey)
    if ids is None or len(ids) < 6:  # fewer corners pin down little and may all lie on a line
        return None
    return corners.reshape(-1, 2).astype(np.float32), board.object_points()[ids.ravel()]


def charuco_board(board: Board):
    import cv2

    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, board.dictionary))
    return cv2.aruco.CharucoBoard((board.cols, board.rows), board.square_m, board.marker_m, dictionary)


def calibrate_intrinsics(camera: str, source: Path, board: Board) -> BoardIntrinsics:
    """Solve ``camera`` from the board photos in ``source`` (see ``board_images``)."""
    found, not_found, size = {}, [], None
    for name, grey in board_images(source):
        if size is None:
            size, first = grey.shape[::-1], name
        elif grey.shape[::-1] != size:
            raise InputError(f"--board-images: {Path(source) / name} is {grey.shape[1]}x{grey.shape[0]}, while "
                             f"{first} is {size[0]}x{size[1]}: camera {camera}'s photos must all have one size")
        corners = find_corners(grey, board)
        if corners is None:
            not_found.append(name)
        else:
            found[name] = corners
    if len(found) < MIN_PHOTOS:
        raise InputError(f"camera {camera}: the board ({board.describe()}) was found in {len(found)} of "
                         f"{len(found) + len(not_found)} photo(s) in {source}; at least {MIN_PHOTOS} are needed "
                         f"(check --board: inner corners for a checkerboard, squares for ChArUco)")
    result = _solve(camera, found, size)
    rms = np.array(list(result.photo_rms_px.values()))
    bad = [n for n, e in result.photo_rms_px.items()
           if e > max(OUTLIER_FACTOR * np.median(rms), OUTLIER_MIN_PX)]
    if bad and len(found) - len(bad) >= MIN_PHOTOS:
        result = _solve(camera, {n: c for n, c in found.items() if n not in bad}, size)
        result.outliers = bad
    result.not_found = not_found
    return result


def _solve(camera: str, found: dict[str, tuple[np.ndarray, np.ndarray]], size: tuple[int, int]) -> BoardIntrinsics:
    import cv2

    names = list(found)
    image_points = [found[n][0] for n in names]
    object_points = [found[n][1] for n in names]
    flags = cv2.CALIB_FIX_K3
    K0 = None
    if len(names) < FREE_CENTRE_PHOTOS:
        f0 = max(size)  # a start only: calibrateCamera refines it
        K0 = np.array([[f0, 0, (size[0] - 1) / 2], [0, f0, (size[1] - 1) / 2], [0, 0, 1]])
        flags |= cv2.CALIB_USE_INTRINSIC_GUESS | cv2.CALIB_FIX_PRINCIPAL_POINT
    rms, K, dist, rvecs, tvecs = cv2.calibrateCamera(object_points, image_points, size, K0, None, flags=flags)
    per_photo = {}
    for n, obj, img, r, t in zip(names, object_points, image_points, rvecs, tvecs):
        projected, _ = cv2.projectPoints(obj, r, t, K, dist)
        per_photo[n] = float(np.sqrt(np.mean(np.sum((projected.reshape(-1, 2) - img) ** 2, axis=1))))
    return BoardIntrinsics(camera, K, dist.ravel()[:4].copy(), int(size[0]), int(size[1]), float(rms), names,
                           photo_rms_px=per_photo)

"""``diffproxy calibrate``'s job: footage (and board photos) -> ``calibration.toml``, ``report.json``
and ``cameras_top.png`` in one folder.

1. open the footage as ``reconstruct`` does; with ``board_images``, each camera's intrinsics
   from its board photos (``board.py``), scaled to its footage's size; the others start from a
   default focal length (``DEFAULT_FOCAL``) refined in the bundle adjustment;
2. MediaPipe's landmarks in every frame of every camera (``tracks.py``, cached);
3. with ``sync``, each camera's first frame of the common time (``sync.py``);
4. the cameras from the person (``person.py``), made metric, Z up, on the floor (``frame.py``);
5. the files, each written atomically, ``calibration.toml`` last.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.io.calibration import Calibration, CameraCalibration
from engine.step_progress import Progress, no_progress

DEFAULT_FOCAL = 0.8      # focal length / the image's longer side without a board (about 64 degrees across it)
MIN_SPAN = 0.25          # landmarks spanning less than this fraction of an image's width or height: a warning
ASPECT_TOLERANCE = 0.01  # board photos and footage of one camera: the same aspect within this


@dataclass
class CalibrateOptions:
    board: str | None = None          # checkerboard:COLSxROWS:SQUARE_MM | charuco:...
    board_images: Path | None = None  # one folder (or video) per camera, named after it
    sync: bool = False
    height: float | None = None       # the person's height, metres
    pose_model: str = "full"
    cameras: list[str] | None = None  # the cameras to use (default: every camera with footage)

    def checked(self) -> "CalibrateOptions":
        if (self.board is None) != (self.board_images is None):
            given, missing = ("--board", "--board-images") if self.board else ("--board-images", "--board")
            raise InputError(f"{given} needs {missing} too (the board's kind and size, and its photos)")
        if self.height is not None and not (0.5 <= self.height <= 2.5):
            raise InputError(f"--height: {self.height} is not a person's height in metres (0.5 to 2.5)")
        return self


def calibrate_into(out: Path, footage: Path, options: CalibrateOptions | None = None,
                   progress: Progress = no_progress) -> dict:
    """Run the job (see the module docstring); -> the report (also written as report.json)."""
    from engine.calibration.board import Board, board_sources, calibrate_intrinsics
    from engine.calibration.tracks import detect_tracks, open_footage
    from engine.io.files import check_writable_folder

    options = (options or CalibrateOptions()).checked()
    out = Path(out)
    check_writable_folder(out, "--out")
    t0 = time.perf_counter()
    capture = open_footage(Path(footage), skip=out, cameras=options.cameras)
    notes = list(capture.notes)
    board = Board.parse(options.board) if options.board else None
    intrinsics = {}
    if board is not None:
        sources = board_sources(Path(options.board_images), capture.cameras)
        for camera in capture.cameras:
            if camera not in sources:
                notes.append(f"camera {camera}: no board photos in {options.board_images}: its focal length is "
                             f"found from the person")
                continue
            intrinsics[camera] = calibrate_intrinsics(camera, sources[camera], board)
            progress("board", len(intrinsics), len(sources))
    lenses(capture.cameras, capture.sizes, intrinsics)  # board photos that do not fit the footage: refused now
    t_board = time.perf_counter() - t0
    tracks = detect_tracks(capture, out / "detections", options.pose_model, progress)
    t_detect = time.perf_counter() - t0 - t_board
    starts = {c: 0 for c in tracks.cameras}
    sync_report = None
    if options.sync:
        from engine.calibration.sync import synchronise

        starts, sync_report = synchronise(tracks, lenses(tracks.cameras, tracks.size, intrinsics))
    result = solve(tracks, intrinsics, starts, options.height)
    result["notes"] = notes + result["notes"]
    result.update(seconds={"board": t_board, "detect": t_detect, "total": time.perf_counter() - t0},
                  frames={c: tracks.frames(c) for c in tracks.cameras}, fps=tracks.fps, start_frame=starts,
                  board=None if board is None else {"board": board.describe(), "cameras": {
                      c: r.summary() for c, r in intrinsics.items()}})
    if sync_report is not None:
        result["sync"] = sync_report
    _write(out, result)
    return result["report"]


def lenses(cameras: list[str], sizes: dict[str, tuple[int, int]], intrinsics: dict) -> dict[str, CameraCalibration]:
    """Each camera's lens at its footage's size: from the board (scaled), or the default guess."""
    cams = {}
    for c in cameras:
        w, h = sizes[c]
        if c in intrinsics:
            b = intrinsics[c]
            if abs((w / h) / (b.width / b.height) - 1) > ASPECT_TOLERANCE:
                raise InputError(f"camera {c}: its board photos are {b.width}x{b.height}, its footage {w}x{h}: the "
                                 f"aspect differs by more than {ASPECT_TOLERANCE:.0%}, so they are not one lens setting")
            cam = CameraCalibration(c, b.K, b.dist, np.eye(3), np.zeros(3), b.width, b.height).scaled(w, h)
        else:
            f = DEFAULT_FOCAL * max(w, h)
            cam = CameraCalibration(c, [[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1]], np.zeros(4),
                                    np.eye(3), np.zeros(3), w, h)
        cams[c] = cam
    return cams


def common_instants(tracks, starts: dict[str, int]) -> int:
    """How many instants every camera has, each starting at its ``starts`` frame."""
    return min(tracks.frames(c) - starts[c] for c in tracks.cameras)


def solve(tracks, intrinsics: dict, starts: dict[str, int], height: float | None) -> dict:
    """The cameras from the person's landmarks -> {"calibration", "report", "path", "notes"}."""
    from engine.calibration.frame import metric_frame, reference_segments
    from engine.calibration.person import solve_cameras
    from engine.detect.types import BODY_LANDMARKS

    names = tracks.cameras
    lens_of = lenses(names, tracks.size, intrinsics)
    T = common_instants(tracks, starts)
    if T < 1:
        raise InputError(f"the cameras share no instant with these start frames ({starts})")
    xy = np.stack([lens_of[c].undistort_points(tracks.xy[c][starts[c]:starts[c] + T].reshape(-1, 2)).reshape(T, -1, 2)
                   for c in names])
    score = np.stack([tracks.score[c][starts[c]:starts[c] + T] for c in names])
    seen = (score > 0).any(-1).sum(-1)  # frames where each camera found someone
    lonely = [c for c, n in zip(names, seen) if n == 0]
    if lonely:
        raise InputError(f"no person found in any frame of camera(s) {', '.join(lonely)}: leave them out of the footage "
                         f"folder, or check their videos")
    K = np.stack([lens_of[c].K for c in names])
    focal_free = [c not in intrinsics for c in names]
    sol = solve_cameras(xy, score, K, names, refine_focal=focal_free)
    notes = list(sol.notes)
    unplaced = [c for c, ok in zip(names, sol.placed) if not ok]
    if sol.placed.sum() < 2:
        raise InputError(f"only {int(sol.placed.sum())} camera(s) could be placed ({', '.join(unplaced)} could not): "
                         f"the person must be seen by two or more cameras in the same frames")
    segments, average = reference_segments()
    placed = np.flatnonzero(sol.placed)
    frame = metric_frame(sol.points, BODY_LANDMARKS, sol.R_cam_world[placed[0]], segments, average, height)
    cameras = []
    for i in placed:
        R, t = frame.camera(sol.R_cam_world[i], sol.t_cam_world[i])
        lens = lens_of[names[i]]
        cameras.append(CameraCalibration(names[i], sol.K[i], lens.dist, R, t, lens.width, lens.height))
    points = frame.points(sol.points)
    hips = (points[:, 23] + points[:, 24]) / 2
    report = {
        "cameras": {names[i]: _camera_report(names[i], sol, i, xy, score, lens_of, intrinsics, cameras) for i in placed},
        "not_placed": unplaced,
        "instants": T,
        "scale": {"source": "height" if height is not None else "average body", "body_height_m": frame.body_height_m,
                  "segments": frame.segments_used},
        "up_spread_deg": frame.up_angle_spread_deg,
        "observations_dropped": sol.dropped,
        "volume_m": _volume(points),
    }
    for c in unplaced:
        notes.append(f"camera {c} could not be placed: it shares too few landmarks with the others (left out of "
                     f"calibration.toml)")
    for c, r in report["cameras"].items():
        if min(r["landmark_span"]) < MIN_SPAN:
            notes.append(f"camera {c}: the person's landmarks span only {r['landmark_span'][0]:.0%} x "
                         f"{r['landmark_span'][1]:.0%} of the image: its pose is poorly constrained; have the person "
                         f"walk around the whole capture area")
    report["notes"] = notes
    return {"calibration": Calibration(cameras, Path("calibration.toml"), "toml"), "report": report,
            "path": hips[np.isfinite(hips).all(-1)], "notes": notes}


def _camera_report(name, sol, i, xy, score, lenses, intrinsics, cameras) -> dict:
    cam = next(c for c in cameras if c.name == name)
    lens = lenses[name]
    seen = (score[i] > 0.5) & np.isfinite(xy[i]).all(-1)
    pts = xy[i][seen]
    span = [float(np.ptp(pts[:, 0]) / lens.width), float(np.ptp(pts[:, 1]) / lens.height)] if len(pts) else [0.0, 0.0]
    return {"reprojection_rms_px": float(sol.rms_px[i]), "reprojection_median_px": float(sol.median_px[i]),
            "observations": int(sol.observations[i]), "focal_px": float(cam.K[0, 0]),
            "focal_source": "board" if name in intrinsics else "person", "landmark_span": span,
            "centre_m": cam.center_world.tolist(), "size": [lens.width, lens.height]}


def _volume(points: np.ndarray) -> dict:
    p = points.reshape(-1, 3)
    p = p[np.isfinite(p).all(-1)]
    lo, hi = np.percentile(p, 2, axis=0), np.percentile(p, 98, axis=0)
    return {"min": lo.tolist(), "max": hi.tolist(), "extent": (hi - lo).tolist()}


def _write(out: Path, result: dict) -> None:
    from engine.calibration.picture import draw_top_view
    from engine.io.calibration.toml_format import write_toml
    from engine.io.files import atomic_write_json, strict_json

    report = result["report"]
    report.update({k: result[k] for k in ("seconds", "frames", "fps", "start_frame", "board") if k in result})
    if "sync" in result:
        report["sync"] = result["sync"]
    report["notes"] = result["notes"]
    report["files"] = {"calibration": str(out / "calibration.toml"), "report": str(out / "report.json"),
                       "picture": str(out / "cameras_top.png")}
    draw_top_view(out / "cameras_top.png", result["calibration"], result["path"], report)
    atomic_write_json(out / "report.json", strict_json(report))
    write_toml(result["calibration"], out / "calibration.toml",
               {"made_by": "diffproxy calibrate", "units": "m", "up": "+Z"})

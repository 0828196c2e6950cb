"""The held-out camera error: how well a 3D result lines up in a camera it was not made from,
against an independent detector there (OpenPose BODY_25B: shoulders, elbows, wrists, knees,
ankles), as a share of the person's height in that image.

Two 3D results are scored the same way:
- ``body_errors``: the fitted body's landmarks (a fit folder reconstructed without the camera);
- ``triangulation_errors``: the baseline a user could build without us, the reference
  detector's own joints in the other cameras (the person consistent across them), lens
  distortion removed, triangulated (DLT weighted by confidence) and projected into the
  held-out camera with its distortion.
The body has to beat the baseline to be worth fitting.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.io.schema import FIT_NPZ, LANDMARKS

# MediaPipe landmark -> OpenPose BODY_25B index, the joints scored
SCORED = {"left_shoulder": 5, "right_shoulder": 6, "left_elbow": 7, "right_elbow": 8, "left_wrist": 9,
          "right_wrist": 10, "left_knee": 13, "right_knee": 14, "left_ankle": 15, "right_ankle": 16}
HEIGHT_POINTS = (18, 0, 15, 16, 21, 24)  # head top, nose, ankles, heels: the person's extent
MIN_CONFIDENCE = 0.3


def score_frame(points: np.ndarray, camera, frame: int, openpose_file: Path) -> dict | None:
    """points (len(SCORED), 3) world points in SCORED's order, projected into ``camera`` (its
    distortion, at its video's size) against the OpenPose person there nearest to them."""
    from engine.detect.openpose import read_openpose_json

    ops = list(SCORED.values())
    px = camera.project(points)
    people = [p for p in read_openpose_json(openpose_file) if (p[ops, 2] > MIN_CONFIDENCE).sum() >= 6]
    if not people or not np.isfinite(px).any():
        return None

    def distance(p):
        d = np.where(p[ops, 2] > MIN_CONFIDENCE, np.linalg.norm(p[ops, :2] - px, axis=1), np.nan)
        return np.nanmedian(d) if np.isfinite(d).any() else np.inf

    best = min(people, key=distance)
    ok = (best[ops, 2] > MIN_CONFIDENCE) & np.isfinite(px).all(1)
    if not ok.any():
        return None
    err = np.linalg.norm(best[ops, :2] - px, axis=1)[ok]
    ext = best[list(HEIGHT_POINTS)]
    ext = ext[ext[:, 2] > MIN_CONFIDENCE]
    height = float(ext[:, 1].max() - ext[:, 1].min())
    return {"frame": frame, "camera": camera.name, "median_px": float(np.median(err)),
            "median_pct": float(100 * np.median(err) / height), "height_px": height, "joints": int(ok.sum())}


def body_errors(fit_dir: Path, camera: str, calibration, names: tuple[str, ...], openpose_dir: Path) -> list[dict]:
    """Per frame of the fit in ``fit_dir``: its landmarks scored in ``camera``."""
    from engine.detect.openpose import list_openpose_files

    with np.load(Path(fit_dir) / FIT_NPZ) as z:
        frames = z["frames"].tolist()
        landmarks = z[LANDMARKS] if z[LANDMARKS].ndim == 3 else z[LANDMARKS][None]
    files = list_openpose_files(openpose_dir)[camera]
    idx = [names.index(n) for n in SCORED]
    rows = [score_frame(landmarks[t, idx], calibration[camera], f, files[f]) for t, f in enumerate(frames)
            if f in files]
    return [r for r in rows if r is not None]


def triangulation_errors(frames: list[int], camera: str, calibration, openpose_dir: Path) -> list[dict]:
    """Per frame: the OpenPose joints of the other cameras triangulated and scored in ``camera``."""
    from engine.detect.openpose import list_openpose_files, openpose_order, openpose_to_detection, read_openpose_json
    from engine.detect.types import BODY_INDEX
    from engine.geometry.triangulation import triangulate
    from engine.pipeline.keypoints import pick_consistent

    files = list_openpose_files(openpose_dir)
    others = [c for c in calibration.names() if c != camera and c in files]
    idx = [BODY_INDEX[n] for n in SCORED]
    rows = []
    for f in frames:
        if f not in files.get(camera, {}) or any(f not in files[c] for c in others):
            continue
        people = []
        for c in others:
            path = files[c][f]
            people.append([openpose_to_detection(k, openpose_order(len(k), path.parent))
                           for k in read_openpose_json(path)])
        picked = pick_consistent(people, [calibration[c].projection() for c in others])
        xy = np.full((len(others), len(idx), 2), np.nan)
        score = np.zeros((len(others), len(idx)))
        for v, (c, det) in enumerate(zip(others, picked)):
            if det is not None:
                xy[v] = calibration[c].undistort_points(det.body_xy[idx])
                score[v] = np.where(det.body_score[idx] > MIN_CONFIDENCE, det.body_score[idx], 0.0)
        X = triangulate(xy, score, np.stack([calibration[c].projection() for c in others]))
        row = score_frame(X, calibration[camera], f, files[camera][f])
        if row is not None:
            rows.append(row)
    return rows

"""Each camera's first frame of the common time, from the person (``--sync``).

Cameras started by hand begin at different instants. A camera's ``start_frame`` is the frame of
its footage that shows the first instant every camera has (0 for the camera that started last).

1. Coarse: each camera against a reference (the one with the most frames), at every lag up to
   ``MAX_LAG`` frames either way: the landmarks both see at that lag are matched, an essential
   matrix fitted to them (RANSAC, at most ``SAMPLE`` points) and their median epipolar
   (Sampson) distance in pixels kept; the lag with the smallest wins. Only the right lag makes
   the two views one rigid geometry.
2. Fine, ``ROUNDS`` times: the cameras solved from the person with the lags so far
   (``person.py``, every ``STRIDE``-th instant), then each camera's lags near its own
   (``REFINE`` frames either way; the reference's too) tried in turn: the landmarks
   triangulated by the other cameras, their median reprojection error in this one kept; the
   lag with the lowest wins. On the bundled capture cut at 0, 5, 12 and 3 frames, the coarse step is one frame off
   for three cameras and the reference camera's own refinement brings them right.

The landmarks' 2D speeds, cross-correlated, were tried first for step 1: on the bundled capture
(a person balancing, 1.7 s) their correlation peaked at wrong lags for all three cameras
(docs/calibrate.md), the person's motion there being slow beside the detector's jitter.
"""

from __future__ import annotations

import numpy as np

from engine.errors import InputError

MAX_LAG = 30        # frames either way the coarse search covers
REFINE = 2          # frames either way of the coarse lag the reprojection tries
ROUNDS = 2          # solve, refine every camera's lag in turn; twice
STRIDE = 2          # every STRIDE-th instant in the solve that the refinement holds fixed
SAMPLE = 400        # points at most per essential matrix in the coarse search (200: two frames off on the bundled capture)
MIN_MATCHES = 30    # landmarks two cameras must share at a lag for it to count
SEEN = 0.5          # MediaPipe visibility above which a landmark is used


def epipolar_error(uv_a: np.ndarray, uv_b: np.ndarray, K_a: np.ndarray, K_b: np.ndarray) -> float:
    """Median Sampson distance (pixels) of matched undistorted pixels to the essential matrix
    RANSAC fits them; inf when there are too few."""
    import cv2

    if len(uv_a) < MIN_MATCHES:
        return float("inf")
    if len(uv_a) > SAMPLE:
        pick = np.linspace(0, len(uv_a) - 1, SAMPLE).astype(int)
        uv_a, uv_b = uv_a[pick], uv_b[pick]
    f = float(np.mean([K_a[0, 0], K_b[0, 0]]))
    a = np.c_[(uv_a - K_a[:2, 2]) / np.diag(K_a)[:2], np.ones(len(uv_a))]
    b = np.c_[(uv_b - K_b[:2, 2]) / np.diag(K_b)[:2], np.ones(len(uv_b))]
    E, _ = cv2.findEssentialMat(a[:, :2], b[:, :2], np.eye(3), method=cv2.RANSAC, prob=0.99, threshold=3.0 / f,
                                maxIters=300)
    if E is None:
        return float("inf")
    E = E[:3]
    Ea, Eb = a @ E.T, b @ E
    sampson = np.sum(b * Ea, 1) ** 2 / (Ea[:, 0] ** 2 + Ea[:, 1] ** 2 + Eb[:, 0] ** 2 + Eb[:, 1] ** 2)
    return float(np.median(np.sqrt(sampson)) * f)


def lag_errors(xy_ref, score_ref, xy, score, K_ref, K, max_lag: int = MAX_LAG) -> dict[int, float]:
    """{lag d: epipolar error} with the camera's frame f matched to the reference's f + d."""
    out = {}
    for d in range(-max_lag, max_lag + 1):
        a0, b0 = max(d, 0), max(-d, 0)
        n = min(len(xy_ref) - a0, len(xy) - b0)
        if n <= 0:
            continue
        A, B = xy_ref[a0:a0 + n], xy[b0:b0 + n]
        ok = (score_ref[a0:a0 + n] > SEEN) & (score[b0:b0 + n] > SEEN) & np.isfinite(A).all(-1) & np.isfinite(B).all(-1)
        out[d] = epipolar_error(A[ok], B[ok], K_ref, K)
    return out


def synchronise(tracks, lenses: dict, max_lag: int = MAX_LAG) -> tuple[dict[str, int], dict]:
    """-> ({camera: start_frame}, a report of how each was found); lags searched up to ``max_lag``."""
    names = tracks.cameras
    ref = max(names, key=tracks.frames)
    und = {c: lenses[c].undistort_points(tracks.xy[c].reshape(-1, 2)).reshape(tracks.xy[c].shape) for c in names}
    # offset[c]: the reference's frame that c's frame 0 shows (c[f] ~ ref[f + offset])
    coarse, scan = {ref: 0}, {}
    for c in names:
        if c == ref:
            continue
        errors = lag_errors(und[ref], tracks.score[ref], und[c], tracks.score[c], lenses[ref].K, lenses[c].K, max_lag)
        coarse[c] = min(errors, key=lambda d: errors[d]) if errors else 0
        if not errors or not np.isfinite(errors[coarse[c]]):
            raise InputError(f"--sync: cameras {c} and {ref} never see the person at once (within {max_lag} frames "
                             f"either way): their start frames cannot be found")
        scan[c] = errors[coarse[c]]
    offsets, refine = dict(coarse), {}
    for _ in range(ROUNDS):
        cameras = _solve(tracks, lenses, _starts(offsets))
        if cameras is None:
            raise InputError(f"--sync: the cameras could not be placed from the person with the start frames found "
                             f"({_starts(offsets)}): the person must be seen by two or more cameras at once")
        for c in names:  # the reference too: its lag against the others is as uncertain as theirs
            trials = {d: _reprojection(tracks, lenses, cameras, _starts(dict(offsets, **{c: d})), c)
                      for d in range(offsets[c] - REFINE, offsets[c] + REFINE + 1)}
            offsets[c] = min(trials, key=lambda d: trials[d])
            refine[c] = {str(d): e for d, e in trials.items()}
    offsets = {c: d - offsets[ref] for c, d in offsets.items()}
    return _starts(offsets), {"reference": ref, "coarse_offset": coarse, "coarse_epipolar_px": scan,
                              "offset": offsets, "refine_median_px": refine}


def _starts(offsets: dict[str, int]) -> dict[str, int]:
    """The first common instant is the latest camera start: in the reference's frames,
    max(offset); camera c shows it at its frame max(offset) - offset[c]."""
    last = max(offsets.values())
    return {c: int(last - d) for c, d in offsets.items()}


def _observations(tracks, lenses: dict, starts: dict[str, int], stride: int = 1):
    names = tracks.cameras
    T = min(tracks.frames(c) - starts[c] for c in names)
    if T < 10:
        return None, None
    xy = np.stack([lenses[c].undistort_points(tracks.xy[c][starts[c]:starts[c] + T:stride].reshape(-1, 2))
                   .reshape(-1, 33, 2) for c in names])
    return xy, np.stack([tracks.score[c][starts[c]:starts[c] + T:stride] for c in names])


def _solve(tracks, lenses: dict, starts: dict[str, int]):
    """(K, R, t) of every camera from the person, given the start frames; None when not all are placed."""
    from engine.calibration.person import solve_cameras

    xy, score = _observations(tracks, lenses, starts, STRIDE)
    if xy is None:
        return None
    try:
        sol = solve_cameras(xy, score, np.stack([lenses[c].K for c in tracks.cameras]), tracks.cameras)
    except InputError:
        return None
    return (sol.K, sol.R_cam_world, sol.t_cam_world) if sol.placed.all() else None


def _reprojection(tracks, lenses: dict, cameras, starts: dict[str, int], camera: str) -> float:
    """The median reprojection error (px) in ``camera`` of the landmarks the other cameras
    ``(K, R, t)`` triangulate, the frames taken from ``starts``: leaving the camera out of the
    triangulation keeps the others from bending the points towards its mistimed views."""
    from engine.geometry.triangulation import triangulate

    xy, score = _observations(tracks, lenses, starts)
    if xy is None:
        return float("inf")
    K, R, t = cameras
    C, T, L = score.shape
    i = tracks.cameras.index(camera)
    others = [c for c in range(C) if c != i]
    P = np.stack([K[c] @ np.column_stack([R[c], t[c]]) for c in others])
    seen = (score > SEEN) & np.isfinite(xy).all(-1)
    X = triangulate(xy[others].reshape(len(others), T * L, 2), seen[others].reshape(len(others), T * L).astype(float), P)
    x = X @ R[i].T + t[i]
    uv = x[:, :2] / x[:, 2:] * np.diag(K[i])[:2] + K[i][:2, 2]
    e = np.linalg.norm(uv - xy[i].reshape(-1, 2), axis=-1)
    e = e[seen[i].ravel() & np.isfinite(e)]
    return float(np.median(e)) if len(e) >= MIN_MATCHES else float("inf")

"""Camera poses from the person alone: the landmarks every camera sees are the correspondences.

1. The observations: each view's landmarks with visibility above ``MIN_SCORE`` (lens distortion
   removed when a board gave it), one 3D point per (instant, landmark).
2. The first pair: the two cameras that see most points in common; their relative pose from the
   essential matrix (``cv2.findEssentialMat``, RANSAC, on normalised coordinates so each camera
   keeps its own K) and ``recoverPose``; the points they see triangulated.
3. The other cameras chained in, most shared points first: each one's pose from the points
   already triangulated (``solvePnPRansac``: the essential matrix against a placed camera gives
   the rotation, but only the points fix the length of its translation), then the points it
   adds triangulated (``engine.geometry.triangulation``).
4. A robust bundle adjustment (``scipy.optimize.least_squares``, soft-L1 loss, sparse
   Jacobian) over every camera but the first and every point, and over each camera's focal
   length when no board gave it; observations far off after it (a left/right mix-up of the
   detector, another person) are dropped and the adjustment runs again.

The result is in the first camera's frame, at an arbitrary scale: ``frame.py`` makes it metric
and puts the floor under it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.errors import InputError

MIN_SCORE = 0.8          # landmarks seen with MediaPipe's visibility above this are used
MIN_SHARED = 30          # points two cameras must share to relate them
RANSAC_PX = 4.0          # inlier threshold of the essential matrix and PnP, pixels
LOSS_SCALE_PX = 4.0      # soft-L1's scale: errors below it count as squares, above as lengths
OUTLIER_PX = 25.0        # observations further off than this (and OUTLIER_FACTOR x the median) are dropped
OUTLIER_FACTOR = 5.0


@dataclass
class PersonSolution:
    """Cameras ``R_cam_world`` (C, 3, 3), ``t_cam_world`` (C, 3), ``K`` (C, 3, 3) in the first
    placed camera's frame (arbitrary scale); ``points`` (T, L, 3), NaN where not triangulated;
    ``placed`` (C,) bool; per camera the reprojection RMS and median (px) and observation count."""

    R_cam_world: np.ndarray
    t_cam_world: np.ndarray
    K: np.ndarray
    points: np.ndarray
    placed: np.ndarray
    rms_px: np.ndarray
    median_px: np.ndarray
    observations: np.ndarray
    dropped: int = 0
    notes: list[str] = field(default_factory=list)


def solve_cameras(xy: np.ndarray, score: np.ndarray, K: np.ndarray, names: list[str],
                  refine_focal=False) -> PersonSolution:
    """``xy`` (C, T, L, 2) undistorted pixels of the same instants, ``score`` (C, T, L), ``K`` (C, 3, 3);
    ``refine_focal``: True, False, or one bool per camera (those whose focal length is unknown)."""
    C, T, L = score.shape
    refine_focal = np.broadcast_to(np.asarray(refine_focal, bool), (C,))
    seen = (score > MIN_SCORE) & np.isfinite(xy).all(-1)
    shared = np.array([[np.sum(seen[a] & seen[b]) for b in range(C)] for a in range(C)])
    np.fill_diagonal(shared, 0)
    a, b = np.unravel_index(np.argmax(shared), shared.shape)
    if shared[a, b] < MIN_SHARED:
        raise InputError(f"the person is seen by at most one camera at a time ({_pairs(shared, names)}): at least "
                         f"{MIN_SHARED} landmarks seen by two cameras in the same frames are needed")
    R = np.tile(np.eye(3), (C, 1, 1))
    t = np.zeros((C, 3))
    placed = np.zeros(C, bool)
    R[b], t[b] = _relative_pose(xy[a][seen[a] & seen[b]], xy[b][seen[a] & seen[b]], K[a], K[b])
    placed[[a, b]] = True
    points = _triangulate_all(xy, seen, K, R, t, placed)
    notes = []
    while not placed.all():
        have = np.isfinite(points).all(-1)
        counts = [np.sum(seen[c] & have) if not placed[c] else -1 for c in range(C)]
        c = int(np.argmax(counts))
        if counts[c] < MIN_SHARED:
            break
        ok = _place(xy[c][seen[c] & have], points[seen[c] & have], K[c])
        if ok is None:
            notes.append(f"camera {names[c]}: no pose fits the points the others see (PnP failed)")
            seen[c] = False
            continue
        R[c], t[c] = ok
        placed[c] = True
        points = _triangulate_all(xy, seen, K, R, t, placed)
    first = int(a)
    R, t, K, points, dropped, used = _adjust(xy, seen, K, R, t, placed, first, refine_focal)
    rms, median, count = _errors(xy, used, K, R, t, points, placed)
    return PersonSolution(R, t, K, points, placed, rms, median, count, dropped, notes)


def _pairs(shared: np.ndarray, names: list[str]) -> str:
    return ", ".join(f"{names[i]}+{names[j]}: {shared[i, j]}" for i in range(len(names))
                     for j in range(i + 1, len(names)))


def _normalised(uv: np.ndarray, K: np.ndarray) -> np.ndarray:
    return (uv - K[:2, 2]) / np.diag(K)[:2]


def _relative_pose(uv_a: np.ndarray, uv_b: np.ndarray, K_a: np.ndarray, K_b: np.ndarray):
    """R, t of camera b in camera a's frame (|t| = 1) from the essential matrix."""
    import cv2

    na, nb = _normalised(uv_a, K_a), _normalised(uv_b, K_b)
    threshold = RANSAC_PX / np.mean([K_a[0, 0], K_b[0, 0]])
    E, inliers = cv2.findEssentialMat(na, nb, np.eye(3), method=cv2.RANSAC, prob=0.999, threshold=threshold)
    if E is None:
        raise InputError("the essential matrix of the two cameras that share most landmarks could not be found")
    E = E[:3]  # several solutions: the first
    _, R, t, _ = cv2.recoverPose(E, na, nb, np.eye(3), mask=inliers)
    return R, t.ravel()


def _place(uv: np.ndarray, X: np.ndarray, K: np.ndarray):
    import cv2

    ok, rvec, tvec, inliers = cv2.solvePnPRansac(X.astype(np.float64), uv.astype(np.float64), K, None,
                                                 reprojectionError=RANSAC_PX * 2, iterationsCount=500,
                                                 flags=cv2.SOLVEPNP_EPNP)
    if not ok or inliers is None or len(inliers) < MIN_SHARED // 2:
        return None
    idx = inliers.ravel()
    ok, rvec, tvec = cv2.solvePnP(X[idx], uv[idx], K, None, rvec, tvec, useExtrinsicGuess=True,
                                  flags=cv2.SOLVEPNP_ITERATIVE)
    return cv2.Rodrigues(rvec)[0], tvec.ravel()


def _triangulate_all(xy, seen, K, R, t, placed) -> np.ndarray:
    from engine.geometry.triangulation import triangulate

    C, T, L = seen.shape
    cams = np.flatnonzero(placed)
    P = np.stack([K[c] @ np.column_stack([R[c], t[c]]) for c in cams])
    w = seen[cams].reshape(len(cams), T * L).astype(np.float64)
    X = triangulate(xy[cams].reshape(len(cams), T * L, 2), w, P).reshape(T, L, 3)
    depth_ok = np.ones((T, L), bool)
    for c in cams:  # a point behind a camera that sees it is a bad triangulation
        z = X @ R[c][2] + t[c][2]
        depth_ok &= ~seen[c] | ~np.isfinite(z) | (z > 0)
    X[~depth_ok] = np.nan
    return X


def _project(X: np.ndarray, R: np.ndarray, t: np.ndarray, K: np.ndarray) -> np.ndarray:
    x = X @ R.T + t
    return (x[..., :2] / x[..., 2:]) * np.diag(K)[:2] + K[:2, 2]


def _adjust(xy, seen, K, R, t, placed, first, refine_focal):
    """The robust bundle adjustment, twice: then without the observations far off."""
    points = _triangulate_all(xy, seen, K, R, t, placed)
    use = seen & placed[:, None, None] & np.isfinite(points).all(-1)[None]
    dropped = 0
    for round_ in range(2):
        R, t, K, points = _bundle(xy, use, K, R, t, points, placed, first, refine_focal)
        err = np.full(use.shape, np.nan)
        for c in np.flatnonzero(placed):
            err[c] = np.linalg.norm(_project(points, R[c], t[c], K[c]) - xy[c], axis=-1)
        limit = max(OUTLIER_PX, OUTLIER_FACTOR * np.nanmedian(err[use]))
        bad = use & ~(err < limit)
        if round_ == 1 or not bad.any():
            break
        use &= ~bad
        dropped += int(bad.sum())
        enough = use.sum(0) >= 2
        use &= enough[None]
    points[~(use.sum(0) >= 2)] = np.nan
    return R, t, K, points, dropped, use


def _bundle(xy, use, K, R, t, points, placed, first, refine_focal):
    import cv2
    from scipy.optimize import least_squares
    from scipy.sparse import lil_matrix

    cams = [c for c in np.flatnonzero(placed) if c != first]
    point_ids = np.flatnonzero(use.sum(0).ravel() >= 2)
    slot = -np.ones(use.shape[1] * use.shape[2], int)
    slot[point_ids] = np.arange(len(point_ids))
    obs_c, obs_tl = np.nonzero(use.reshape(len(use), -1) & (slot >= 0)[None])
    obs_p = slot[obs_tl]
    target = xy.reshape(len(xy), -1, 2)[obs_c, obs_tl]
    cam_slot = {c: i for i, c in enumerate(cams)}
    focal_cams = list(np.flatnonzero(placed & refine_focal))
    n_cam_params = 6 * len(cams) + len(focal_cams)

    def unpack(v):
        Rs, ts, Ks = R.copy(), t.copy(), K.copy()
        for c, i in cam_slot.items():
            Rs[c] = cv2.Rodrigues(v[6 * i:6 * i + 3])[0]
            ts[c] = v[6 * i + 3:6 * i + 6]
        for j, c in enumerate(focal_cams):
            f = K[c, 0, 0] * np.exp(v[6 * len(cams) + j])
            Ks[c, 0, 0], Ks[c, 1, 1] = f, f * K[c, 1, 1] / K[c, 0, 0]
        return Rs, ts, Ks, v[n_cam_params:].reshape(-1, 3)

    def residuals(v):
        Rs, ts, Ks, X = unpack(v)
        x = np.einsum("nij,nj->ni", Rs[obs_c], X[obs_p]) + ts[obs_c]
        uv = x[:, :2] / x[:, 2:] * np.stack([Ks[obs_c, 0, 0], Ks[obs_c, 1, 1]], 1) + Ks[obs_c, :2, 2]
        return (uv - target).ravel()

    v0 = [np.concatenate([cv2.Rodrigues(R[c])[0].ravel(), t[c]]) for c in cams]
    v0 = np.concatenate(v0 + [np.zeros(len(focal_cams)), points.reshape(-1, 3)[point_ids].ravel()])
    sparsity = lil_matrix((2 * len(obs_c), len(v0)), dtype=np.int8)
    rows = np.arange(len(obs_c))
    for k in range(3):
        for r in (2 * rows, 2 * rows + 1):
            sparsity[r, n_cam_params + 3 * obs_p + k] = 1
    for c, i in cam_slot.items():
        mine = np.flatnonzero(obs_c == c)
        for r in (2 * mine, 2 * mine + 1):
            for k in range(6):
                sparsity[r, 6 * i + k] = 1
    for j, c in enumerate(focal_cams):
        mine = np.flatnonzero(obs_c == c)
        for r in (2 * mine, 2 * mine + 1):
            sparsity[r, 6 * len(cams) + j] = 1
    fit = least_squares(residuals, v0, jac_sparsity=sparsity, loss="soft_l1", f_scale=LOSS_SCALE_PX,
                        x_scale="jac", method="trf", tr_solver="lsmr", max_nfev=60, ftol=1e-6, xtol=1e-8)
    Rs, ts, Ks, X = unpack(fit.x)
    out = np.full(points.shape, np.nan).reshape(-1, 3)
    out[point_ids] = X
    return Rs, ts, Ks, out.reshape(points.shape)


def _errors(xy, used, K, R, t, points, placed):
    """Per camera: RMS and median reprojection error (px) and count of the observations used."""
    C = len(K)
    rms, median, count = np.full(C, np.nan), np.full(C, np.nan), np.zeros(C, int)
    for c in np.flatnonzero(placed):
        ok = used[c] & np.isfinite(points).all(-1)
        if ok.any():
            e = np.linalg.norm(_project(points[ok], R[c], t[c], K[c]) - xy[c][ok], axis=-1)
            rms[c], median[c], count[c] = np.sqrt(np.mean(e ** 2)), np.median(e), ok.sum()
    return rms, median, count

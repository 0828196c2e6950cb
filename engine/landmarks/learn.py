"""Learn a body model's landmark table from renders whose bodies are known.

Body landmarks (MediaPipe Pose's 33): the detector runs on every rendered view; each
landmark is solved as a sparse, non-negative combination of the vertices around it, by
least squares over every scene and view where the detector calls it visible:

    the landmark X = sum_i w_i v_i (w >= 0, sum w = 1) of a scene's posed vertices projects
    onto the detection (x, y):  (x P_3 - P_1) . [X; 1] = 0,  (y P_3 - P_2) . [X; 1] = 0,

which is linear in w (each row divided by the point's depth, so residuals are pixels).
Candidates are the vertices nearest to the landmark's triangulations across scenes; wrong
detections (left/right swaps) are trimmed by re-solving without the worst rows; the k
largest weights are kept and solved again. The residual is reported in pixels.

Hand landmarks (21 per hand): MediaPipe's hand model marks joint centres (wrist, knuckles,
finger joints) and fingertips. Those are the body model's bone heads and fingertip
vertices, known exactly in every render, so each is solved from the ground truth joints
(the same non-negative combination, fitted in 3D) rather than from small, noisy hand
detections in full views.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.optimize import nnls

from engine.geometry.triangulation import triangulate
from engine.landmarks.table import LandmarkTable

log = logging.getLogger(__name__)

MIN_SCORE = 0.6  # MediaPipe visibility above which a detection is used
CANDIDATES = 96
KEEP = 8
FINGERS = ("thumb", "index", "middle", "ring", "pinky")


def hand_targets(joint_names: tuple[str, ...], side: str) -> list[tuple[str, str]]:
    """Anny's (MediaPipe hand landmark -> bone head or fingertip) for side "L" or "R", in
    MediaPipe's order: wrist, then per finger its 4 points (thumb: CMC, MCP, IP, tip;
    others: MCP, PIP, DIP, tip)."""
    out = [("wrist", f"wrist.{side}")]
    for k, finger in enumerate(FINGERS, start=1):
        points = ("cmc", "mcp", "ip") if finger == "thumb" else ("mcp", "pip", "dip")
        for j, point in enumerate(points, start=1):
            out.append((f"{finger}_{point}", f"finger{k}-{j}.{side}"))
        out.append((f"{finger}_tip", f"tip:{finger}"))
    missing = [b for _, b in out if not b.startswith("tip:") and b not in joint_names]
    if missing:
        raise ValueError(f"body model has no bones {missing} for the hand landmarks")
    return out


def solve_sparse(rows: np.ndarray, candidates: np.ndarray, keep: int = KEEP, unit_weight: float = 10.0):
    """min |rows @ w|^2 with w >= 0, sum w = 1 (as a heavily weighted row), then the ``keep``
    largest weights solved again. rows (R, C) -> (vertex ids (keep,), weights (keep,))."""
    def solve(A):
        lam = unit_weight * max(np.abs(A).max(), 1.0)
        w, _ = nnls(np.vstack([A, np.full((1, A.shape[1]), lam)]), np.r_[np.zeros(len(A)), lam], maxiter=2000)
        return w / max(w.sum(), 1e-12)

    w = solve(rows)
    top = np.argsort(-w)[:keep]
    w_top = solve(rows[:, top])
    return candidates[top], w_top


def _projection_rows(P: np.ndarray, xy: np.ndarray, verts: np.ndarray, X: np.ndarray) -> np.ndarray:
    """(2, C): the two linear constraints of one detection on the candidate weights, in px."""
    Vh = np.concatenate([verts, np.ones((len(verts), 1))], axis=1)  # (C, 4)
    depth = P[2] @ np.r_[X, 1.0]
    return np.stack([(xy[0] * P[2] - P[0]) @ Vh.T, (xy[1] * P[2] - P[1]) @ Vh.T]) / depth


def learn_detected(vertices: list[np.ndarray], projections: list[np.ndarray], xy: list[np.ndarray],
                   score: list[np.ndarray], trim_rounds: int = 3):
    """Body landmarks from detections. Per scene s: vertices (V, 3), projections (n, 3, 4),
    detections xy (n, L, 2) and scores (n, L). -> ids (L, k), weights (L, k), median
    residual px (L,), observations (L,)."""
    L = xy[0].shape[1]
    ids, weights = np.zeros((L, KEEP), np.int64), np.zeros((L, KEEP))
    residual, count = np.full(L, np.nan), np.zeros(L, np.int64)
    for l in range(L):
        obs, points = [], {}
        for s, (P, d, c) in enumerate(zip(projections, xy, score)):
            seen = (c[:, l] > MIN_SCORE) & np.isfinite(d[:, l]).all(-1)
            if seen.sum() >= 2:
                points[s] = triangulate(d[seen, l][:, None], np.ones((int(seen.sum()), 1)), P[seen])[0]
                obs += [(s, v) for v in np.nonzero(seen)[0]]
        if len(points) < 3:
            log.warning("landmark %d: seen in %d scenes, too few to learn", l, len(points))
            continue
        dist = np.median(np.stack([np.linalg.norm(vertices[s] - X, axis=1) for s, X in points.items()]), axis=0)
        cand = np.argsort(dist)[:CANDIDATES]
        rows = np.stack([_projection_rows(projections[s][v], xy[s][v, l], vertices[s][cand], points[s])
                         for s, v in obs])  # (O, 2, C)
        active = np.ones(len(obs), bool)
        for _ in range(trim_rounds):
            top, w = solve_sparse(rows[active].reshape(-1, len(cand)), np.arange(len(cand)))
            err = np.linalg.norm(rows[:, :, top] @ w, axis=1)
            limit = max(3.0 * np.median(err[active]), 3.0)
            if (active == (err < limit)).all():
                break
            active = err < limit
        ids[l], weights[l] = cand[top], w
        residual[l], count[l] = np.median(err[active]), int(active.sum())
    return ids, weights, residual, count


def learn_from_joints(vertices: list[np.ndarray], targets: list[np.ndarray]):
    """Points known in 3D in every scene (bone heads): targets[s] (L, 3) -> ids, weights,
    median residual in mm, observations."""
    L = targets[0].shape[0]
    ids, weights = np.zeros((L, KEEP), np.int64), np.zeros((L, KEEP))
    residual = np.zeros(L)
    for l in range(L):
        dist = np.median(np.stack([np.linalg.norm(V - T[l], axis=1) for V, T in zip(vertices, targets)]), axis=0)
        cand = np.argsort(dist)[:CANDIDATES // 2]
        # sum_i w_i (v_i - target) = 0 for each scene and axis: linear in w, with sum w = 1
        rows = np.concatenate([(V[cand] - T[l]).T for V, T in zip(vertices, targets)])  # (3S, C)
        top, w = solve_sparse(rows, cand)
        ids[l], weights[l] = top, w
        fitted = np.stack([w @ V[top] for V in vertices])
        residual[l] = 1000 * np.median(np.linalg.norm(fitted - np.stack([T[l] for T in targets]), axis=1))
    return ids, weights, residual, np.full(L, len(vertices))


def make_table(body: str, body_names: tuple[str, ...], hand_names: tuple[str, ...], detected, hands_left,
               hands_right) -> LandmarkTable:
    """One table from ``learn_detected``'s body result and ``learn_from_joints``' per hand."""
    names = body_names + tuple(f"left_hand_{n}" for n in hand_names) + tuple(f"right_hand_{n}" for n in hand_names)
    parts = (detected, hands_left, hands_right)
    return LandmarkTable(
        body=body, names=names,
        vertex_ids=np.concatenate([p[0] for p in parts]), weights=np.concatenate([p[1] for p in parts]),
        residual_px=np.concatenate([detected[2], np.full(2 * len(hand_names), np.nan)]),
        observations=np.concatenate([p[3] for p in parts]),
        source=("detections",) * len(body_names) + ("joints",) * (2 * len(hand_names)))

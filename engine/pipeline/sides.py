"""Which way each view sees the person: left/right decided jointly over all views.

A single-image detector (MediaPipe) labels a person seen from behind as if they faced the
camera: the person's left shoulder is called "right" in a back view. Per-landmark voting
(``consensus.agree``) cannot settle a capture with two front and two back views: the views
split 2 against 2 on every sided landmark, and the body comes out turned around, though its
landmarks reproject well.

Each view's labelling is one unknown, flipped or not. Every combination is scored by how well
the sided landmarks triangulate (a truncated reprojection cost, in shares of the person's
height in each view); a combination and its complement (every view flipped) triangulate
equally well, so the search keeps the best-seen view unflipped, and anatomy settles the
whole: the body's left, from its shoulders and hips, and its up, from hips to shoulders, give
its front (left x up, right-handed world), and the nose ahead of the ears and the toes ahead of
the heels must face it.
"""

from __future__ import annotations

import itertools

import numpy as np

from engine.detect.types import BODY_INDEX, BODY_LANDMARKS, SIDE_SWAP
from engine.geometry.camera import project_matrix
from engine.geometry.triangulation import triangulate

MIN_SCORE = 0.3
TRUNCATE = 0.08  # a landmark's reprojection error counts up to this share of the person's height
MARGIN = 0.85  # a labelling replaces the detector's only when its cost is below this share of it
FACING = 0.3  # the whole labelling is turned round when the body faces away from its front by this much
MAX_VIEWS = 10  # 2^(N-1) labellings are scored
SIDED = np.array([i for i, j in enumerate(SIDE_SWAP) if i != j and BODY_LANDMARKS[i] not in
                  ("left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb")])


def flip_views(xy: np.ndarray, score: np.ndarray, flipped, mirror: np.ndarray):
    """xy (N, L, 2), score (N, L) with the views in ``flipped`` relabelled left <-> right."""
    xy, score = xy.copy(), score.copy()
    for v in flipped:
        xy[v], score[v] = xy[v, mirror], score[v, mirror]
    return xy, score


def labelling_cost(xy: np.ndarray, score: np.ndarray, P: np.ndarray, height_px: np.ndarray) -> float:
    """The sided body landmarks triangulated from every view that sees them, and their
    reprojection error in each, as a share of the person's height there, truncated at
    ``TRUNCATE`` and squared, weighted by the detector's score; mean over observations."""
    idx = SIDED
    w = np.where(score[:, idx] > MIN_SCORE, score[:, idx], 0.0)
    X = triangulate(xy[:, idx], w, P)
    total = weight = 0.0
    for v in range(len(P)):
        seen = (w[v] > 0) & np.isfinite(X).all(1)
        if not seen.any():
            continue
        px, z = project_matrix(X[seen], P[v])
        err = np.linalg.norm(px - xy[v, idx][seen], axis=1) / height_px[v]
        err = np.where(z > 0, np.minimum(err, TRUNCATE), TRUNCATE)
        total += float((w[v][seen] * (err / TRUNCATE) ** 2).sum())
        weight += float(w[v][seen].sum())
    return total / weight if weight > 0 else np.inf


def facing(X: np.ndarray) -> float | None:
    """From the triangulated body landmarks X (33, 3): the agreement, in [-1, 1], of the face's
    and the feet's direction with the front that the body's left and up give; None when the
    torso or both cues are missing."""
    p = {n: X[BODY_INDEX[n]] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "nose",
                                        "left_ear", "right_ear", "left_heel", "right_heel",
                                        "left_foot_index", "right_foot_index")}
    torso = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
    if not all(np.isfinite(p[n]).all() for n in torso):
        return None
    left = p["left_shoulder"] - p["right_shoulder"] + p["left_hip"] - p["right_hip"]
    up = p["left_shoulder"] + p["right_shoulder"] - p["left_hip"] - p["right_hip"]
    up /= np.linalg.norm(up) + 1e-12
    front = np.cross(left, up)
    front /= np.linalg.norm(front) + 1e-12

    def cue(tip: str, base: tuple[str, ...]) -> float | None:
        a, b = p[tip], np.mean([p[n] for n in base], axis=0)
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            return None
        d = a - b
        d -= up * (d @ up)  # along the ground
        norm = np.linalg.norm(d)
        return float(d @ front / norm) if norm > 1e-9 else None

    face = cue("nose", ("left_ear", "right_ear"))
    feet = [c for c in (cue("left_foot_index", ("left_heel",)), cue("right_foot_index", ("right_heel",)))
            if c is not None]
    parts = ([face] if face is not None else []) + ([float(np.mean(feet))] if feet else [])
    return float(np.mean(parts)) if parts else None


def decide_sides(xy: np.ndarray, score: np.ndarray, P: np.ndarray, height_px: np.ndarray,
                 mirror: np.ndarray) -> tuple[list[int], dict]:
    """xy (N, L, 2), score (N, L) (the body's 33 landmarks first, in BODY_LANDMARKS order),
    projections P (N, 3, 4), the person's height per view (N,), mirror (L,) each landmark's
    left/right counterpart. -> the views to relabel, and what was measured (``cost_as_detected``,
    ``cost``, ``facing``)."""
    n = len(P)
    seen = [v for v in range(n) if (score[v, SIDED] > MIN_SCORE).sum() >= 6]
    info = {"cost_as_detected": None, "cost": None, "facing": None}
    if len(seen) < 2 or len(seen) > MAX_VIEWS:
        return [], info
    anchor = max(seen, key=lambda v: score[v, SIDED].sum())
    others = [v for v in seen if v != anchor]
    costs = {}
    for bits in itertools.product((False, True), repeat=len(others)):
        flipped = tuple(v for v, b in zip(others, bits) if b)
        costs[flipped] = labelling_cost(*flip_views(xy, score, flipped, mirror), P, height_px)
    best = min(costs, key=costs.get)
    info["cost_as_detected"], info["cost"] = costs[()], costs[best]
    if not costs[best] < MARGIN * costs[()]:
        best = ()
    # the whole: this labelling or its complement, by the body's anatomy
    fx, fs = flip_views(xy, score, best, mirror)
    w = np.where(fs[:, :33] > MIN_SCORE, fs[:, :33], 0.0)
    f = facing(triangulate(fx[:, :33], w, P))
    flipped = list(best)
    if f is not None and f < -FACING:
        flipped, f = [v for v in seen if v not in best], -f
    info["facing"] = f  # of the labelling returned
    return sorted(flipped), info

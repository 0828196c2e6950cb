"""Landmarks the views agree on. A single-image detector errs per landmark and per view: face
points hallucinated on the back of a head, one limb's left and right exchanged, a hand
landmark on the other hand. With three or more views these show: each landmark is
triangulated from every pair of views that see it, the pair that the most other views
agree with wins (within ``AGREE`` of the person's height in each view), and an observation
that disagrees is dropped, or taken with its mirror landmark's position when that one agrees
(a per-limb left/right swap). With two views nothing can be told apart and all is kept."""

from __future__ import annotations

import itertools

import numpy as np

from engine.geometry.camera import project_matrix
from engine.geometry.triangulation import triangulate

AGREE = 0.04  # share of the person's height in the view
MIN_SCORE = 0.3


def _errors(P: np.ndarray, X: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Pixel distance of the point X (3,) projected by each of P (N, 3, 4) to xy (N, 2); inf in
    a view it is not in front of."""
    px, z = zip(*(project_matrix(X, p) for p in P))
    err = np.linalg.norm(np.stack(px) - xy, axis=1)
    return np.where(np.array(z) > 0, err, np.inf)


def agree(xy: np.ndarray, score: np.ndarray, P: np.ndarray, height_px: np.ndarray, mirror: np.ndarray):
    """xy (N, L, 2), score (N, L), projections P (N, 3, 4), person height per view (N,),
    mirror (L,) each landmark's left/right counterpart. -> xy, score with disagreeing
    observations dropped (score 0) or swapped, and how many of each."""
    xy, score = xy.copy(), score.copy()
    n, L = score.shape
    dropped = swapped = 0
    if n < 3:
        return xy, score, dropped, swapped
    limit = AGREE * height_px
    orig_xy, orig_score = xy.copy(), score.copy()
    for l in range(L):
        seen = np.nonzero(orig_score[:, l] > MIN_SCORE)[0]
        if len(seen) < 3:
            continue
        best, best_count = None, 1
        for a, b in itertools.combinations(seen, 2):
            X = triangulate(orig_xy[[a, b], l][:, None], np.ones((2, 1)), P[[a, b]])[0]
            if not np.isfinite(X).all():
                continue
            count = int((_errors(P[seen], X, orig_xy[seen, l]) < limit[seen]).sum())
            if count > best_count:
                best, best_count = X, count
        if best is None or best_count < 2:
            continue
        err = _errors(P, best, orig_xy[:, l])
        m = mirror[l]
        err_mirror = _errors(P, best, orig_xy[:, m])
        for v in seen:
            if err[v] < limit[v]:
                continue
            if orig_score[v, m] > MIN_SCORE and err_mirror[v] < limit[v]:
                xy[v, l], score[v, l] = orig_xy[v, m], orig_score[v, m]
                swapped += 1
            else:
                score[v, l] = 0.0
                dropped += 1
    return xy, score, dropped, swapped

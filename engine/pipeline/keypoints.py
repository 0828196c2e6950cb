"""Precomputed 2D keypoints with several people per view: the combination of one person per
view that agrees best across views (triangulation), as ``engine.detect.multiview`` does for
the detector's own detections."""

from __future__ import annotations

import itertools

import numpy as np

MAX_COMBINATIONS = 256


def pick_consistent(people: list[list], projections: list[np.ndarray]) -> list:
    """people[v]: Detections in view v -> one Detection or None per view."""
    from engine.detect.multiview import consistent_views, view_error

    P = np.asarray(projections, np.float64)
    options = [list(p) or [None] for p in people]
    # the most people in frame first, so that a cap keeps the likely combinations
    combos = itertools.islice(itertools.product(*options), MAX_COMBINATIONS)
    best, best_key = [None] * len(people), (0, 0.0)
    for combo in combos:
        views, X, dets = consistent_views(list(combo), P)
        if X is None:
            continue
        err = float(np.mean([view_error(dets[v], P[v], X) for v in views]))
        key = (len(views), -err)
        if key > best_key:
            best_key = key
            best = [dets[v] if v in views else None for v in range(len(people))]
    if best_key[0] == 0:  # no two views agree: the largest person per view
        best = [max(p, key=lambda d: d.height) if p else None for p in people]
    return best

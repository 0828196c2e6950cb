"""Detect the same person in every view of a calibrated capture.

A single-image detector picks one person per image, and in a view with bystanders it may pick
the wrong one. :func:`detect_views` keeps the largest set of views whose detections agree in 3D
(RANSAC over views: every pair of views proposes a triangulation, the views that reproject it
within ``AGREE_FRACTION`` of their person's box height join it) and re-detects in the other
views inside the box where the agreed person projects (turned a quarter either way when the
upright crop gives no one who agrees: a person bent over); views still without the person are
tried once more with the detector's low confidence, kept if more views then agree. A view
whose detection agrees only with left and right exchanged (the detector took the person's back
for their front) is kept, swapped.

Projections are (3, 4) pixel projection matrices ``P = K [R | t]`` (world to pixel, OpenCV
pixel centres at integers). Lens distortion is ignored here: the detections are in distorted
pixels while P is a pinhole model, which costs a few pixels, well inside the tolerance.
"""

from __future__ import annotations

import inspect
from itertools import combinations

import numpy as np

from engine.detect.types import BODY_INDEX, Detection
from engine.errors import InputError
from engine.geometry.camera import project_matrix
from engine.geometry.triangulation import triangulate  # noqa: F401  (engine.detect re-exports it)

RELIABLE = tuple(BODY_INDEX[f"{s}_{j}"] for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
                 for s in ("left", "right"))
MIN_SCORE = 0.5          # landmarks scoring above this take part in the consistency check
AGREE_FRACTION = 0.05    # median reprojection error below this fraction of the box height: agrees
ROI_ENLARGE = 1.25       # the projected person's box is scaled by this about its centre
MIN_POINTS = 4           # a view with fewer reliable landmarks cannot agree
# Changes when detect_views gives other detections for the same images (a cache key includes it):
# 2 = re-detection in turned crops; 3 = between as many agreeing views, the surer detections,
# and a second try at low confidence in the views still without the person
POLICY = 3


def view_error(det: Detection, P: np.ndarray, X: np.ndarray) -> float:
    """Median reprojection error of the reliable landmarks over the person's extent in the view
    (the box's longer side: a person lying across the image is as large as one standing; inf
    when fewer than ``MIN_POINTS`` landmarks can be compared)."""
    idx = np.array(RELIABLE)
    err = np.linalg.norm(project_matrix(X[idx], P, cull=True)[0] - det.body_xy[idx], axis=1)
    ok = np.isfinite(err) & (det.body_score[idx] > MIN_SCORE)
    if ok.sum() < MIN_POINTS or not det.extent > 0:
        return np.inf
    return float(np.median(err[ok])) / det.extent


def _triangulate_views(dets, P, views) -> np.ndarray:
    xy = np.stack([dets[v].body_xy for v in views])
    sc = np.stack([dets[v].body_score for v in views])
    return triangulate(xy, np.where(sc > MIN_SCORE, sc, 0.0), P[list(views)])


def _agreeing(det: Detection, P: np.ndarray, X: np.ndarray) -> tuple[Detection, float]:
    """``det`` or its side-swapped copy, whichever reprojects ``X`` better, and its error."""
    swapped = det.swapped_sides()
    e, e_swapped = view_error(det, P, X), view_error(swapped, P, X)
    return (det, e) if e <= e_swapped else (swapped, e_swapped)


def consistent_views(dets: list[Detection | None], P: np.ndarray
                     ) -> tuple[list[int], np.ndarray | None, list[Detection | None]]:
    """Largest set of views whose detections agree, the (33, 3) landmarks triangulated from them
    (NaN where fewer than 2 of them see a landmark), and the detections with left and right
    swapped in the views that agree only so (single-image detectors confuse a person's front
    and back); ([], None, dets) when no two views agree."""
    found = [v for v, d in enumerate(dets) if d is not None]
    best, best_key, best_X, best_dets = [], (0, 0.0, 0.0), None, list(dets)
    for i, j in combinations(found, 2):
        for first_j in (dets[j], dets[j].swapped_sides()):
            use, inliers = {v: dets[v] for v in found}, [i, j]
            use[j] = first_j
            for _ in range(4):
                X = _triangulate_views(use, P, inliers)
                errs = {}
                for v in found:
                    use[v], errs[v] = _agreeing(dets[v], P[v], X)
                new = [v for v in found if errs[v] < AGREE_FRACTION]
                if new == inliers or len(new) < 2:
                    break
                inliers = new
            if len(new) < 2 or not all(errs[v] < AGREE_FRACTION for v in inliers):
                continue
            # more views first; between as many, the surer detections (two poor detections of a
            # person seen from behind can agree with each other as well as two good ones)
            key = (len(inliers), float(sum(dets[v].body_score[list(RELIABLE)].mean() for v in inliers)),
                   -float(np.mean([errs[v] for v in inliers])))
            if key > best_key:
                best, best_key, best_X = inliers, key, X
                best_dets = [use[v] if v in inliers else d for v, d in enumerate(dets)]
    return best, best_X, best_dets


def detect_views(detector, images: list[np.ndarray], projections: list[np.ndarray] | None
                 ) -> list[Detection | None]:
    """One detection per view of the same person, None where that person is not found.

    ``detector(image, roi=None) -> Detection | None`` (e.g. a ``MediaPipeDetector``);
    ``projections``: one (3, 4) pixel projection matrix per image, or None (then, as with a
    single view, every image's detection is returned unchecked). When no two views agree,
    even after the second try, the detections are returned unchecked too (there is no 3D
    person to check them against).
    """
    P = None if projections is None else np.asarray(projections, np.float64)
    if P is not None and P.shape != (len(images), 3, 4):
        raise InputError(f"projections: expected {len(images)} (3, 4) matrices, one per image, "
                         f"got shape {P.shape}")
    dets = [detector(img) for img in images]
    if P is None or len(images) < 2:
        return dets
    views, X, out = consistent_views(dets, P)
    if X is None:
        return _second_try(detector, images, P, dets, agreeing=0, outside=())
    outside = []
    for v, img in enumerate(images):
        if v in views:
            continue
        out[v] = None
        uv, _ = project_matrix(X, P[v], cull=True)
        uv = uv[np.isfinite(uv).all(axis=1)]
        H, W = img.shape[:2]
        if len(uv) < MIN_POINTS:
            continue
        lo, hi = uv.min(axis=0), uv.max(axis=0)
        c, half = 0.5 * (lo + hi), 0.5 * ROI_ENLARGE * (hi - lo)
        roi = np.concatenate([np.maximum(c - half, 0), np.minimum(c + half, [W - 1, H - 1])])
        if roi[2] - roi[0] < 16 or roi[3] - roi[1] < 16:
            outside.append(v)
            continue   # the person projects outside this image
        out[v] = _redetect(detector, img, roi, P[v], X)
    return _second_try(detector, images, P, out, sum(d is not None for d in out), outside)


def _second_try(detector, images: list[np.ndarray], P: np.ndarray, out: list[Detection | None], agreeing: int,
                outside) -> list[Detection | None]:
    """The views without the person (``out``'s None, but those the agreed person projects
    outside of), searched again with the detector's low confidence (a crouching person with
    hair over the face, which the pose detector doubts); kept when more views then agree than
    the ``agreeing`` ones of ``out``, which is returned otherwise."""
    missing = [v for v, d in enumerate(out) if d is None and v not in outside]
    if not missing or "low_confidence" not in inspect.signature(detector).parameters:
        return out
    dets = list(out)
    for v in missing:
        dets[v] = detector(images[v], low_confidence=True)
    if all(dets[v] is None for v in missing):
        return out
    views, _, agreed = consistent_views(dets, P)
    if len(views) <= agreeing:
        return out
    return [d if v in views else None for v, d in enumerate(agreed)]


def _redetect(detector, image: np.ndarray, roi: np.ndarray, P: np.ndarray, X: np.ndarray) -> Detection | None:
    """The person inside ``roi``, where the agreed landmarks X project: the crop upright, then,
    for a detector that can turn it (``quarter_turns``), turned a quarter either way (a person
    bent over, crouched or lying is found as if upright); the first detection that agrees."""
    turns = (0, 1, 3) if "quarter_turns" in inspect.signature(detector).parameters else (0,)
    for k in turns:
        det = detector(image, roi=roi, quarter_turns=k) if k else detector(image, roi=roi)
        if det is not None:
            det, err = _agreeing(det, P, X)
            if err < AGREE_FRACTION:
                return det
    return None

"""One person detected in one image: 33 body landmarks, 21 per hand, a person mask.

Conventions (every detector in ``engine.detect`` fills a :class:`Detection` this way):

- pixel coordinates of the full image as given to the detector (distorted, not undistorted),
  OpenCV convention: pixel centres at integers, x right, y down;
- body landmarks in MediaPipe Pose's order (:data:`BODY_LANDMARKS`), hand landmarks in
  MediaPipe Hands' order (:data:`HAND_LANDMARKS`);
- "left"/"right" are the person's own sides, never the image's;
- a landmark that is not known has score 0 (and NaN coordinates for hands and for
  detectors, such as OpenPose, that have no point for that slot).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import InputError, check_shape

BODY_LANDMARKS: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)

HAND_LANDMARKS: tuple[str, ...] = (
    "wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_finger_mcp", "index_finger_pip", "index_finger_dip", "index_finger_tip",
    "middle_finger_mcp", "middle_finger_pip", "middle_finger_dip", "middle_finger_tip",
    "ring_finger_mcp", "ring_finger_pip", "ring_finger_dip", "ring_finger_tip",
    "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
)

BODY_INDEX = {name: i for i, name in enumerate(BODY_LANDMARKS)}


def _other_side(name: str) -> str:
    return name.replace("left", "@").replace("right", "left").replace("@", "right")


# BODY_LANDMARKS index of each landmark's mirror (left <-> right): body_xy[SIDE_SWAP] swaps sides
SIDE_SWAP = np.array([BODY_INDEX[_other_side(n)] for n in BODY_LANDMARKS])


@dataclass
class Detection:
    """One person in one image (see the module docstring for the conventions).

    body_xy (33, 2), body_score (33,) in [0, 1] (MediaPipe's visibility; 0 where unknown);
    hands_xy (2, 21, 2) as [person's LEFT hand, person's RIGHT hand], NaN where not found;
    hands_score (2, 21), 0 where not found; mask (H, W) uint8 0..255 person probability at
    the image's full resolution, or None; box (4,) x0, y0, x1, y1 of the landmarks.
    """

    body_xy: np.ndarray
    body_score: np.ndarray
    hands_xy: np.ndarray
    hands_score: np.ndarray
    mask: np.ndarray | None
    box: np.ndarray

    def __post_init__(self):
        self.body_xy = np.asarray(self.body_xy, dtype=np.float64)
        self.body_score = np.asarray(self.body_score, dtype=np.float64)
        self.hands_xy = np.asarray(self.hands_xy, dtype=np.float64)
        self.hands_score = np.asarray(self.hands_score, dtype=np.float64)
        self.box = np.asarray(self.box, dtype=np.float64)
        check_shape("Detection.body_xy", self.body_xy, (len(BODY_LANDMARKS), 2))
        check_shape("Detection.body_score", self.body_score, (len(BODY_LANDMARKS),))
        check_shape("Detection.hands_xy", self.hands_xy, (2, len(HAND_LANDMARKS), 2))
        check_shape("Detection.hands_score", self.hands_score, (2, len(HAND_LANDMARKS)))
        check_shape("Detection.box", self.box, (4,))
        if self.mask is not None:
            if not isinstance(self.mask, np.ndarray) or self.mask.dtype != np.uint8 or self.mask.ndim != 2:
                raise InputError("Detection.mask: expected an (H, W) uint8 array or None, got "
                                 f"{getattr(self.mask, 'dtype', type(self.mask).__name__)} "
                                 f"{getattr(self.mask, 'shape', '')}")

    @property
    def height(self) -> float:
        """Height of the landmarks' box in pixels (the person's size in this view)."""
        return float(self.box[3] - self.box[1])

    @property
    def extent(self) -> float:
        """The longer side of the landmarks' box in pixels: the person's size in this view
        whichever way they lie (``height`` is that of a person standing upright)."""
        return float(max(self.box[2] - self.box[0], self.box[3] - self.box[1]))

    def swapped_sides(self) -> Detection:
        """The same detection with the person's left and right exchanged (body and hands): what a
        detector that mistook the person's front for their back would have said."""
        return Detection(self.body_xy[SIDE_SWAP], self.body_score[SIDE_SWAP], self.hands_xy[::-1],
                         self.hands_score[::-1], self.mask, self.box)

    def to_npz_dict(self) -> dict[str, np.ndarray]:
        """Arrays for ``np.savez``; a missing mask is stored as an empty (0, 0) array."""
        mask = np.zeros((0, 0), np.uint8) if self.mask is None else self.mask
        return {"body_xy": self.body_xy, "body_score": self.body_score, "hands_xy": self.hands_xy,
                "hands_score": self.hands_score, "mask": mask, "box": self.box}

    @classmethod
    def from_npz_dict(cls, d, name: str = "detection") -> Detection:
        """Inverse of :meth:`to_npz_dict` (a dict or an ``np.load`` result); ``name`` is used in errors."""
        fields = ("body_xy", "body_score", "hands_xy", "hands_score", "box")
        missing = [k for k in fields if k not in d]
        if missing:
            raise InputError(f"{name}: missing arrays {missing} (expected {list(fields) + ['mask']})")
        mask = np.asarray(d["mask"]) if "mask" in d else None
        mask = None if mask is None or mask.size == 0 else mask.astype(np.uint8, copy=False)
        return cls(**{k: np.asarray(d[k]) for k in fields}, mask=mask)


def landmark_box(xy: np.ndarray, score: np.ndarray, min_score: float = 0.5) -> np.ndarray:
    """(4,) box of the points scoring above ``min_score`` (all finite points when fewer than 2 do)."""
    ok = np.isfinite(xy).all(axis=1)
    sel = ok & (score > min_score)
    if sel.sum() < 2:
        sel = ok
    if not sel.any():
        return np.full(4, np.nan)
    return np.concatenate([xy[sel].min(axis=0), xy[sel].max(axis=0)])


MARGIN = 1.25  # a person's crop is the landmarks' box enlarged by this (engine.pipeline.proxies, engine.diffusion.data)


def person_box(xy: np.ndarray, score: np.ndarray, margin: float = MARGIN) -> np.ndarray | None:
    """(4,) the square crop around a person's body landmarks (x0, y0, x1, y1, image pixels):
    their box (``landmark_box``) enlarged by ``margin``; None when fewer than 2 were found."""
    if (score > 0).sum() < 2:
        return None
    x0, y0, x1, y1 = landmark_box(xy, score)
    side = margin * max(x1 - x0, y1 - y0, 16.0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])


def empty_hands() -> tuple[np.ndarray, np.ndarray]:
    """(2, 21, 2) NaN coordinates and (2, 21) zero scores: no hand found."""
    return np.full((2, len(HAND_LANDMARKS), 2), np.nan), np.zeros((2, len(HAND_LANDMARKS)))

"""MediaPipe (legacy ``mp.solutions``, the models inside the mediapipe 0.10.21 wheel) on one image.

- Body: Pose (pose detection + a landmark model: ``model="full"``, ``pose_landmark_full``,
  MediaPipe's ``model_complexity=1``; or ``"heavy"``, ``pose_landmark_heavy``, complexity 2,
  shipped with DiffProxy and handed to MediaPipe by ``engine.detect.pose_models``), static image
  mode, one person (the one the pose detector scores highest), optional segmentation mask.
- Hands: MediaPipe Hands on full frames misses small hands, so each hand is searched in a
  square crop around the pose's wrist, rotated so that wrist -> knuckles points up and resampled
  to 256 px. A few crop sizes are tried in turn (8, 4.5 and 11 times the wrist-to-knuckle
  distance, at least 96 px: on the pose2sim example, larger crops let the palm detector find
  more hands than the 2.5-3x crops of the first design). A hand is accepted only if its wrist
  lands within 1.5 wrist-to-knuckle distances of the pose's wrist, and nearer to it than to the
  other pose wrist. Which hand it is comes from the pose wrist it was cropped around, never
  from MediaPipe's handedness label (that one assumes a mirrored image).
- Hand scores: the solution API exposes neither the palm score nor the hand-presence score
  (an accepted hand passed palm >= 0.3 and presence >= 0.5). The score given to its 21
  landmarks is its agreement with the pose: 1 - e / 3 with e its wrist's distance from the
  pose wrist in wrist-to-knuckle units (1 on the pose wrist, 0.5 at the acceptance limit).

Coordinates follow ``engine.detect.types``: MediaPipe's normalised x in [0, 1] spans the image
edge to edge, so pixel x = x_norm * W - 0.5 (pixel centres at integers).
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from engine.detect.pose_models import (HEAVY_SHA256, MODEL_COMPLEXITY, check_pose_model, mediapipe_resources,
                                       pose_model_resources)
from engine.detect.quiet import native_logs_quieted
from engine.detect.types import BODY_INDEX, Detection, empty_hands, landmark_box
from engine.errors import InputError

HAND_CROP_PX = 256
HAND_CROP_FACTORS = (8.0, 4.5, 11.0)   # crop side / wrist-to-knuckle distance, tried in turn
HAND_MIN_SIDE = 96.0
HAND_MAX_WRIST_ERROR = 1.5            # accepted hand wrist to pose wrist, in wrist-to-knuckle units
LOW_POSE_CONFIDENCE = 0.2            # the second try's pose detection threshold (a person MediaPipe doubts)
ROI_MARGIN = 0.1                      # roi crops are widened by this fraction of their size per side
_SIDES = (("left_wrist", "left_index", "left_pinky"), ("right_wrist", "right_index", "right_pinky"))


class MediaPipeDetector:
    """``detector(image_rgb, roi=None) -> Detection | None`` (None: no person).

    Builds the MediaPipe graphs once; ``close()`` or use as a context manager to free them.
    MediaPipe's own log lines are dropped unless ``engine.detect.quiet.native_logs_shown()``.
    ``last_timings`` holds the seconds of each stage ("pose" (with the mask), "hands") of the
    last call. ``model``: BlazePose's landmark model, "full" or "heavy" (about twice the time).
    """

    def __init__(self, hands: bool = True, mask: bool = True, min_pose_confidence: float = 0.5,
                 model: str = "full", low_pose_confidence: float = LOW_POSE_CONFIDENCE):
        check_pose_model(model, "model")
        self._resources = pose_model_resources(model)
        import mediapipe as mp

        self.mask, self.model, self.low_pose_confidence = mask, model, low_pose_confidence
        self._pose_low = None  # the pose graph at low_pose_confidence, built on its first use
        with native_logs_quieted(), mediapipe_resources(self._resources):
            self._pose = self._pose_graph(min_pose_confidence)
            self._hands = mp.solutions.hands.Hands(
                static_image_mode=True, max_num_hands=1, model_complexity=1,
                min_detection_confidence=0.3) if hands else None
            # the graphs open their calculators (and log) in their own threads after this;
            # one call on a blank image waits for that inside the quiet window
            for graph in (self._pose, self._hands):
                if graph is not None:
                    graph.process(np.zeros((64, 64, 3), np.uint8))
        self.last_timings: dict[str, float] = {}
        # what a cached detection was made with (engine.pipeline.detection_cache keys on it)
        # (the second try's threshold is in the key since it came: caches made before are re-made)
        self.signature = {"detector": "mediapipe", "version": mp.__version__,
                          "model_complexity": MODEL_COMPLEXITY[model], "hands": hands,
                          "mask": mask, "min_pose_confidence": min_pose_confidence,
                          "low_pose_confidence": low_pose_confidence,
                          "hand_crops": list(HAND_CROP_FACTORS), "hand_min_side": HAND_MIN_SIDE}
        if model != "full":
            self.signature.update(pose_model=model, pose_landmark_sha256=HEAVY_SHA256)

    def _pose_graph(self, min_confidence: float):
        import mediapipe as mp

        return mp.solutions.pose.Pose(static_image_mode=True, model_complexity=MODEL_COMPLEXITY[self.model],
                                      enable_segmentation=self.mask, min_detection_confidence=min_confidence)

    def close(self) -> None:
        with native_logs_quieted():
            for graph in (self._pose, self._pose_low, self._hands):
                if graph is not None:
                    graph.close()
        self._pose = self._pose_low = self._hands = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __call__(self, image_rgb: np.ndarray, roi: np.ndarray | None = None,
                 quarter_turns: int = 0, low_confidence: bool = False) -> Detection | None:
        """Detect the person in ``image_rgb`` ((H, W, 3) uint8 RGB), inside ``roi`` (x0, y0, x1, y1
        in image pixels; it is widened by ``ROI_MARGIN`` per side and clipped to the image) when
        given. ``quarter_turns``: the crop is shown to MediaPipe turned by that many quarter turns
        counter-clockwise (a person bent over or lying is found upright). ``low_confidence``: the
        pose detector accepts a person from ``low_pose_confidence`` (a second try where the first
        found no one: the caller checks what it finds against other views). Landmarks are in
        full-image pixels; the mask is zero outside the roi."""
        if self._pose is None:
            raise InputError("MediaPipeDetector: called after close()")
        if not (isinstance(image_rgb, np.ndarray) and image_rgb.dtype == np.uint8
                and image_rgb.ndim == 3 and image_rgb.shape[2] == 3):
            raise InputError("image_rgb: expected an (H, W, 3) uint8 RGB array, got "
                             f"{getattr(image_rgb, 'dtype', type(image_rgb).__name__)} "
                             f"{getattr(image_rgb, 'shape', '')}")
        with native_logs_quieted():  # MediaPipe logs on a graph's first process()
            if low_confidence and self._pose_low is None:
                with mediapipe_resources(self._resources):
                    self._pose_low = self._pose_graph(self.low_pose_confidence)
                    self._pose_low.process(np.zeros((64, 64, 3), np.uint8))  # opens its calculators here
            pose = self._pose_low if low_confidence else self._pose
            return self._detect(pose, image_rgb, roi, int(quarter_turns) % 4)

    def _detect(self, pose, image_rgb: np.ndarray, roi: np.ndarray | None, turns: int = 0) -> Detection | None:
        H, W = image_rgb.shape[:2]
        x0, y0, x1, y1 = _roi_pixels(roi, W, H)
        t0 = time.perf_counter()
        crop = np.ascontiguousarray(np.rot90(image_rgb[y0:y1, x0:x1], turns))
        res = pose.process(crop)
        if res.pose_landmarks is None:
            self.last_timings = {"pose": time.perf_counter() - t0, "hands": 0.0}
            return None
        lm = np.array([[p.x, p.y, p.visibility] for p in res.pose_landmarks.landmark])
        turned = lm[:, :2] * [crop.shape[1], crop.shape[0]] - 0.5
        body_xy = unturn_points(turned, turns, x1 - x0, y1 - y0) + [x0, y0]
        body_score = np.clip(lm[:, 2], 0.0, 1.0)
        mask = None
        if self.mask and res.segmentation_mask is not None:
            mask = np.zeros((H, W), np.uint8)
            seg = np.rot90(res.segmentation_mask, -turns)
            mask[y0:y1, x0:x1] = np.clip(seg * 255.0 + 0.5, 0, 255).astype(np.uint8)
        t1 = time.perf_counter()
        hands_xy, hands_score = empty_hands()
        if self._hands is not None:
            for h in range(2):
                found = self._find_hand(image_rgb, body_xy, h)
                if found is not None:
                    hands_xy[h], hands_score[h] = found[0], found[1]
        self.last_timings = {"pose": t1 - t0, "hands": time.perf_counter() - t1}
        return Detection(body_xy, body_score, hands_xy, hands_score, mask,
                         landmark_box(body_xy, body_score))

    def _find_hand(self, image: np.ndarray, body_xy: np.ndarray, h: int):
        """(21, 2) landmarks and their score for the person's hand ``h`` (0 left, 1 right), or None."""
        wrist, index, pinky = (body_xy[BODY_INDEX[n]] for n in _SIDES[h])
        other_wrist = body_xy[BODY_INDEX[_SIDES[1 - h][0]]]
        knuckles = 0.5 * (index + pinky)
        dist = max(float(np.linalg.norm(knuckles - wrist)), HAND_MIN_SIDE / max(HAND_CROP_FACTORS))
        centre = wrist + 0.5 * (knuckles - wrist)
        up = knuckles - wrist
        angle = float(np.degrees(np.arctan2(up[0], -up[1]))) if np.linalg.norm(up) > 1e-6 else 0.0
        for factor in HAND_CROP_FACTORS:
            side = max(factor * dist, HAND_MIN_SIDE)
            M = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, HAND_CROP_PX / side)
            M[:, 2] += HAND_CROP_PX / 2 - 0.5 - centre
            crop = cv2.warpAffine(image, M, (HAND_CROP_PX, HAND_CROP_PX), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE)
            res = self._hands.process(crop)
            if not res.multi_hand_landmarks:
                continue
            uv = np.array([[p.x, p.y] for p in res.multi_hand_landmarks[0].landmark]) * HAND_CROP_PX - 0.5
            Mi = cv2.invertAffineTransform(M)
            xy = uv @ Mi[:, :2].T + Mi[:, 2]
            err = float(np.linalg.norm(xy[0] - wrist))
            if err <= HAND_MAX_WRIST_ERROR * dist and err < np.linalg.norm(xy[0] - other_wrist):
                return xy, 1.0 - err / dist / (2 * HAND_MAX_WRIST_ERROR)
        return None


def unturn_points(xy: np.ndarray, turns: int, w: int, h: int) -> np.ndarray:
    """Pixels (N, 2) of a (h, w) crop turned ``turns`` quarter turns counter-clockwise
    (``np.rot90``) -> pixels of the crop itself."""
    x, y = xy[:, 0], xy[:, 1]
    for j in reversed(range(turns % 4)):  # undo the last turn: the image before it had j turns
        width = w if j % 2 == 0 else h
        x, y = width - 1 - y, x
    return np.stack([x, y], axis=1)


def _roi_pixels(roi, W: int, H: int) -> tuple[int, int, int, int]:
    """Integer crop (x0, y0, x1, y1) of ``roi`` widened by ROI_MARGIN and clipped; the image if None."""
    if roi is None:
        return 0, 0, W, H
    r = np.asarray(roi, dtype=np.float64)
    if r.shape != (4,) or not np.isfinite(r).all() or r[2] <= r[0] or r[3] <= r[1]:
        raise InputError(f"roi: expected finite (x0, y0, x1, y1) with x1 > x0 and y1 > y0, got {roi!r}")
    m = ROI_MARGIN * (r[2:] - r[:2])
    x0, y0 = np.floor(np.maximum(r[:2] - m, 0)).astype(int)
    x1, y1 = np.ceil(np.minimum(r[2:] + m, [W, H])).astype(int)
    if x1 - x0 < 16 or y1 - y0 < 16:
        raise InputError(f"roi: {roi!r} leaves less than 16 x 16 pixels inside the {W} x {H} image")
    return int(x0), int(y0), int(x1), int(y1)

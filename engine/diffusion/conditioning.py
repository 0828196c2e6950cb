"""What MediaPipe sees in a view, as image channels for the generator's adapter (the
paper's pose prior, from a detector that runs the same way on renders and on footage).

A view's evidence is kept in its source image's pixels (``ViewEvidence``: body and hand
landmarks with their scores, the person mask) and rasterised into the frame of a crop only
when the crop is known (``evidence_maps``), so that training's crop jitter and hand crops,
and inference's person crops, all see landmarks where the pixels are.

Channels (``EVIDENCE_CHANNELS``), each in [0, 1] at the model's resolution:
one per limb group of :data:`LIMB_GROUPS` (a Gaussian ridge along each segment, height the
smaller score of its two landmarks; the person's left and right in channels of their own,
so that the generator can tell a front view from a back view), one per hand (its 20 bones),
and the person mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.detect.types import BODY_INDEX, Detection
from engine.errors import InputError

_SIDE = {
    "head": [("nose", "{s}_eye"), ("{s}_eye", "{s}_ear"), ("nose", "mouth_{s}")],
    "torso": [("{s}_shoulder", "{s}_hip")],
    "upper_arm": [("{s}_shoulder", "{s}_elbow")],
    "forearm": [("{s}_elbow", "{s}_wrist")],
    "palm": [("{s}_wrist", "{s}_index"), ("{s}_wrist", "{s}_pinky"), ("{s}_wrist", "{s}_thumb"),
             ("{s}_index", "{s}_pinky")],
    "thigh": [("{s}_hip", "{s}_knee")],
    "shin": [("{s}_knee", "{s}_ankle")],
    "foot": [("{s}_ankle", "{s}_heel"), ("{s}_heel", "{s}_foot_index"), ("{s}_ankle", "{s}_foot_index")],
}
LIMB_GROUPS: dict[str, list[tuple[str, str]]] = {
    "shoulders": [("left_shoulder", "right_shoulder")],
    "hips": [("left_hip", "right_hip")],
    **{f"{name}_{s}": [(a.format(s=s), b.format(s=s)) for a, b in pairs]
       for name, pairs in _SIDE.items() for s in ("left", "right")},
}
# MediaPipe Hands' bones: wrist to each finger's base, then along each finger
HAND_BONES = [(0, 1), (1, 2), (2, 3), (3, 4)] + [(0, b) for b in (5, 9, 13, 17)] + \
    [(b + i, b + i + 1) for b in (5, 9, 13, 17) for i in range(3)]
EVIDENCE_CHANNELS = len(LIMB_GROUPS) + 2 + 1
SIGMA = 1.0 / 64  # the ridges' width, as a fraction of the crop's side (2 px at 128 px)


@dataclass
class ViewEvidence:
    """Per view, in its source image's pixels: body (V, 33, 3) x, y, score; hands (V, 2, 21, 3)
    (person's left, right); mask (V, H, W) uint8 person probability. A view where nothing was
    detected has zero scores and an empty mask."""

    body: np.ndarray
    hands: np.ndarray
    mask: np.ndarray

    def __post_init__(self):
        V = len(self.body)
        for name, arr, shape in (("body", self.body, (V, 33, 3)), ("hands", self.hands, (V, 2, 21, 3))):
            if arr.shape != shape:
                raise InputError(f"ViewEvidence.{name}: expected {shape}, got {arr.shape}")
        if self.mask.ndim != 3 or len(self.mask) != V or self.mask.dtype != np.uint8:
            raise InputError(f"ViewEvidence.mask: expected ({V}, H, W) uint8, got {self.mask.dtype} {self.mask.shape}")

    @classmethod
    def from_detections(cls, detections: list[Detection | None], height: int, width: int) -> "ViewEvidence":
        V = len(detections)
        body, hands = np.zeros((V, 33, 3), np.float32), np.zeros((V, 2, 21, 3), np.float32)
        mask = np.zeros((V, height, width), np.uint8)
        for v, det in enumerate(detections):
            if det is None:
                continue
            body[v, :, :2], body[v, :, 2] = np.nan_to_num(det.body_xy), det.body_score
            hands[v, ..., :2], hands[v, ..., 2] = np.nan_to_num(det.hands_xy), det.hands_score
            if det.mask is not None:
                if det.mask.shape != (height, width):
                    raise InputError(f"detection {v}: mask is {det.mask.shape[::-1]}, the image {width}x{height}")
                mask[v] = det.mask
        return cls(body, hands, mask)

    def subset(self, rows) -> "ViewEvidence":
        rows = np.asarray(rows)
        return ViewEvidence(self.body[rows], self.hands[rows], self.mask[rows])


def detect_evidence(images: list[np.ndarray], projections: list[np.ndarray] | None, detector=None) -> ViewEvidence:
    """MediaPipe's evidence in calibrated views (``engine.detect.detect_views``, as the
    reconstruct pipeline detects: the person the views agree on, sides put right; by default
    with BlazePose full, the shipped generator's training evidence); images
    (H, W, 3) uint8 RGB, projections (3, 4) pixel matrices (None: views unchecked)."""
    from engine.detect import MediaPipeDetector, detect_views

    own = detector is None
    detector = MediaPipeDetector() if own else detector
    try:
        detections = detect_views(detector, images, projections)
    finally:
        if own:
            detector.close()
    return ViewEvidence.from_detections(detections, *images[0].shape[:2])


def _segments() -> tuple[np.ndarray, np.ndarray]:
    """Body segments as landmark index pairs (N, 2) and the channel of each (N,)."""
    pairs, channel = [], []
    for c, group in enumerate(LIMB_GROUPS.values()):
        for a, b in group:
            pairs.append((BODY_INDEX[a], BODY_INDEX[b]))
            channel.append(c)
    return np.array(pairs), np.array(channel)


_BODY_SEGMENTS, _BODY_CHANNEL = _segments()


def to_crop(xy: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """(V, ..., 2) source pixels -> pixels of the crops ``boxes`` (V, 4) resampled to ``size``
    (``engine.geometry.crop``'s convention)."""
    boxes = boxes.to(xy.dtype).reshape(len(boxes), *([1] * (xy.dim() - 2)), 4)
    scale = size / (boxes[..., 2:4] - boxes[..., 0:2])
    return (xy + 0.5 - boxes[..., 0:2]) * scale - 0.5


def _ridges(a: torch.Tensor, b: torch.Tensor, weight: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    """Segments a, b (V, N, 2) in crop pixels, weight (V, N) -> (V, N, S, S) Gaussian ridges."""
    g = torch.arange(size, dtype=a.dtype)
    p = torch.stack(torch.meshgrid(g, g, indexing="xy"), dim=-1).reshape(1, 1, -1, 2)  # (1, 1, S*S, 2) x, y
    d = (b - a)[:, :, None]
    t = (((p - a[:, :, None]) * d).sum(-1) / (d * d).sum(-1).clamp(min=1e-6)).clamp(0, 1)
    dist2 = ((p - a[:, :, None] - t[..., None] * d) ** 2).sum(-1)
    out = torch.exp(-dist2 / (2 * sigma ** 2)) * weight[:, :, None]
    return out.reshape(*weight.shape, size, size)


def evidence_maps(evidence: ViewEvidence, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """(V, EVIDENCE_CHANNELS, S, S) float32 in [0, 1]: the evidence of each view rasterised in
    the frame of its crop ``boxes`` (V, 4) (source pixels, edges) resampled to ``size``."""
    from engine.geometry.crop import crop_images

    V = len(evidence.body)
    if boxes.shape != (V, 4):
        raise InputError(f"boxes: expected ({V}, 4), got {tuple(boxes.shape)}")
    sigma = SIGMA * size
    body = torch.as_tensor(np.asarray(evidence.body, np.float32))
    xy = to_crop(body[..., :2], boxes, size)
    score = body[..., 2]
    i, j = torch.as_tensor(_BODY_SEGMENTS[:, 0]), torch.as_tensor(_BODY_SEGMENTS[:, 1])
    limbs = _ridges(xy[:, i], xy[:, j], torch.minimum(score[:, i], score[:, j]), size, sigma)
    channel = torch.as_tensor(_BODY_CHANNEL)
    groups = torch.stack([limbs[:, channel == c].amax(dim=1) for c in range(len(LIMB_GROUPS))], dim=1)
    hands = torch.as_tensor(np.asarray(evidence.hands, np.float32))
    hxy = to_crop(hands[..., :2].flatten(1, 2), boxes, size).reshape(V, 2, 21, 2)
    hs = hands[..., 2]
    bones = torch.as_tensor(HAND_BONES)
    hand_maps = torch.stack([_ridges(hxy[:, h, bones[:, 0]], hxy[:, h, bones[:, 1]],
                                     torch.minimum(hs[:, h, bones[:, 0]], hs[:, h, bones[:, 1]]),
                                     size, sigma).amax(dim=1) for h in range(2)], dim=1)
    mask = torch.as_tensor(np.asarray(evidence.mask))[:, None].float() / 255
    mask = crop_images(mask, boxes.float(), size, "bilinear")
    return torch.cat([groups, hand_maps, mask], dim=1).clamp(0, 1)

"""The body-part ids every proxy uses, and the fixed palette that encodes ``seg`` as RGB.

Id 0 is background. Ids 1-22 are the body parts of the SMPL-X part segmentation (its
names); ids 23-46 split each hand into 12 parts: two palm halves (radial: thumb, index and
middle side; ulnar: ring and pinky side) and two segments per finger (proximal phalanx;
middle + distal phalanges). The ids never change: a new part gets a new id at the end.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from engine.errors import InputError

BODY_PARTS = (
    "head", "neck", "hips", "spine", "spine1", "spine2",
    "leftShoulder", "rightShoulder", "leftArm", "rightArm", "leftForeArm", "rightForeArm",
    "leftUpLeg", "rightUpLeg", "leftLeg", "rightLeg", "leftFoot", "rightFoot",
    "leftToeBase", "rightToeBase", "leftEye", "rightEye",
)
FINGERS = ("Thumb", "Index", "Middle", "Ring", "Pinky")
HAND_PARTS = tuple(
    f"{side}Hand{part}"
    for side in ("left", "right")
    for part in ("PalmRadial", "PalmUlnar", *(f"{f}{seg}" for f in FINGERS for seg in ("Proximal", "Distal")))
)
PART_NAMES = ("background", *BODY_PARTS, *HAND_PARTS)
PART_ID = {name: i for i, name in enumerate(PART_NAMES)}
NUM_PARTS = len(PART_NAMES)  # including background


def _make_palette() -> np.ndarray:
    """Farthest-point picks on a 4-level RGB grid, black for background: deterministic, and
    every two colours are at least 85 apart, so decoding survives compression noise."""
    levels = (0, 85, 170, 255)
    grid = np.array(list(itertools.product(levels, repeat=3)), dtype=np.float64)
    chosen = [0]  # black
    dist = np.linalg.norm(grid - grid[0], axis=1)
    while len(chosen) < NUM_PARTS:
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(grid - grid[nxt], axis=1))
    return grid[chosen].astype(np.uint8)


PALETTE = _make_palette()  # (NUM_PARTS, 3) uint8


def check_part_ids(name: str, seg: torch.Tensor | np.ndarray) -> None:
    seg_t = torch.as_tensor(seg)
    if seg_t.dtype.is_floating_point or seg_t.dtype == torch.bool:
        raise InputError(f"{name}: part ids must be integers, got {seg_t.dtype}")
    if seg_t.numel() and (seg_t.min() < 0 or seg_t.max() >= NUM_PARTS):
        bad = seg_t[(seg_t < 0) | (seg_t >= NUM_PARTS)].unique()[:5].tolist()
        raise InputError(f"{name}: unknown part id(s) {bad}; valid ids are 0..{NUM_PARTS - 1}")


def seg_to_rgb(seg: np.ndarray) -> np.ndarray:
    """(H, W) part ids -> (H, W, 3) uint8 palette image."""
    check_part_ids("seg", seg)
    return PALETTE[np.asarray(seg)]


def rgb_to_seg(rgb: np.ndarray, max_distance: float = 42.0) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) image -> (part ids, valid): the nearest palette colour; ``valid`` is False
    where the pixel is farther than ``max_distance`` from every colour (id set to 0)."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise InputError(f"rgb: expected shape (H, W, 3), got {rgb.shape}")
    diff = rgb.reshape(-1, 1, 3).astype(np.float32) - PALETTE[None].astype(np.float32)
    d2 = np.einsum("npc,npc->np", diff, diff)
    seg = d2.argmin(axis=1)
    valid = d2[np.arange(len(seg)), seg] <= max_distance**2
    seg = np.where(valid, seg, 0).astype(np.uint8)
    return seg.reshape(rgb.shape[:2]), valid.reshape(rgb.shape[:2])

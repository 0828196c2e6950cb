"""Training batches from a packed set, a pure function of (seed, step), so that a resumed run
sees exactly the batches the interrupted one would have, and loader workers need no shared
state.

Each batch holds ``batch_size`` scenes with the same number of views V (drawn per step):
1-8 full-body views of the scene in random order (``min_views``..``max_views``), plus up
to ``hand_crops`` hand crops as extra views (the paper's slot scheme: the crops are views
whose intrinsics were changed, extrinsics kept). Augmentation: crop jitter of body views
(zoom and shift, intrinsics follow; half of them framed around the detected person, as the
reconstruct pipeline frames footage), jitter of the hand boxes, and colour (brightness,
contrast, channel gains) of the RGB. MediaPipe's evidence, found once in the full renders
when packing, is rasterised in each crop's frame, as the sampler does with a photo's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.proxy.hands import hand_boxes
from engine.diffusion.conditioning import evidence_maps
from engine.diffusion.packed import PackedScenes
from engine.geometry.crop import crop_images, crop_intrinsics, crop_proxies, square_boxes


PERSON_CROPS = 0.5  # share of body views cropped around the detected person, as at inference


@dataclass
class BatchSpec:
    image_size: int
    batch_size: int = 1
    min_views: int = 1
    max_views: int = 4
    hand_crops: int = 0
    augment: bool = True
    seed: int = 0
    evidence: bool = False  # add MediaPipe's evidence maps of each crop (``evidence``)


class TrainBatches(torch.utils.data.Dataset):
    """``batches[step]`` -> dict of rgb (B, V, 3, S, S) in [-1, 1], seg (B, V, S, S) uint8,
    uv (B, V, S, S, 2), K / R_cam_world / t_cam_world (B, V, ...) float64, scene (B,) long; with
    ``spec.evidence`` also evidence (B, V, EVIDENCE_CHANNELS, S, S), rasterised in each crop."""

    def __init__(self, packed_folder, scenes: list[int], spec: BatchSpec, length: int):
        self.folder, self.scenes, self.spec, self.length = packed_folder, list(scenes), spec, length
        self._packed: PackedScenes | None = None  # opened lazily, once per worker

    def __len__(self) -> int:
        return self.length

    @property
    def packed(self) -> PackedScenes:
        if self._packed is None:
            self._packed = PackedScenes.open(self.folder)
        return self._packed

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        spec = self.spec
        rng = np.random.default_rng([spec.seed, step])
        picks = rng.choice(self.scenes, size=spec.batch_size, replace=len(self.scenes) < spec.batch_size)
        most = min(spec.max_views, min(self.packed.views(s).stop - self.packed.views(s).start for s in picks))
        body = int(rng.integers(min(spec.min_views, most), most + 1))
        hands = int(rng.integers(0, spec.hand_crops + 1)) if spec.hand_crops else 0
        items = [self._scene(int(s), body, hands, rng) for s in picks]
        return {k: torch.stack([it[k] for it in items]) for k in items[0]}

    def _scene(self, scene: int, body: int, hands: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        p, spec, S = self.packed, self.spec, self.spec.image_size
        rows = np.arange(p.views(scene).start, p.views(scene).stop)
        H, W = p.seg.shape[1:]
        views = list(rng.permutation(rows)[:body])
        boxes = [_person_box(p.evidence.body[v], W, H, rng) if spec.augment and rng.random() < PERSON_CROPS
                 else _body_box(W, H, rng if spec.augment else None) for v in views]
        if hands:
            found = hand_boxes(torch.as_tensor(np.asarray(p.seg[rows])))
            for k in range(hands):
                if found:
                    v, _, box = found[int(rng.integers(len(found)))]
                    views.append(rows[v])
                    boxes.append(_jitter_hand(box, rng) if spec.augment else box)
                else:  # no hand in sight: another body view fills the slot
                    views.append(rows[int(rng.integers(len(rows)))])
                    boxes.append(_body_box(W, H, rng if spec.augment else None))
        order = np.asarray(views)
        box_t = torch.stack(boxes).to(torch.float32)
        rgb = torch.as_tensor(np.asarray(p.rgb[order])).permute(0, 3, 1, 2).float() / 255
        rgb = crop_images(rgb, box_t, S, "bilinear")
        if spec.augment:
            rgb = _colour_jitter(rgb, rng)
        seg, uv = crop_proxies(torch.as_tensor(np.asarray(p.seg[order])),
                               torch.as_tensor(np.asarray(p.uv[order], dtype=np.float32)), box_t, S)
        K = torch.as_tensor(p.cameras["K"][order])
        out = {"rgb": rgb * 2 - 1, "seg": seg, "uv": uv, "K": crop_intrinsics(K, box_t.double(), S),
               "R_cam_world": torch.as_tensor(p.cameras["R_cam_world"][order]),
               "t_cam_world": torch.as_tensor(p.cameras["t_cam_world"][order]), "scene": torch.tensor(scene)}
        if spec.evidence:
            out["evidence"] = evidence_maps(p.evidence.subset(order), box_t, S)
        return out


def _body_box(W: int, H: int, rng: np.random.Generator | None) -> torch.Tensor:
    """The whole image in a square (as at inference); with ``rng``, zoomed by up to 15% and
    shifted by up to 8%."""
    box = square_boxes(1, W, H)[0]
    if rng is None:
        return box
    side = float(box[2] - box[0]) * rng.uniform(0.85, 1.15)
    cx, cy = W / 2 + rng.uniform(-0.08, 0.08) * W, H / 2 + rng.uniform(-0.08, 0.08) * H
    return torch.tensor([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])


def _person_box(body: np.ndarray, W: int, H: int, rng: np.random.Generator) -> torch.Tensor:
    """The crop the reconstruct pipeline makes (``engine.pipeline.proxies``): a square around the
    detected landmarks, enlarged by its margin, here jittered (side x[0.9, 1.2], centre +-8%);
    the whole image when nothing was detected."""
    from engine.detect.types import person_box

    box = person_box(body[:, :2], body[:, 2])
    if box is None:
        return _body_box(W, H, rng)
    side = float(box[2] - box[0]) * rng.uniform(0.9, 1.2)
    cx = float(box[0] + box[2]) / 2 + rng.uniform(-0.08, 0.08) * side
    cy = float(box[1] + box[3]) / 2 + rng.uniform(-0.08, 0.08) * side
    return torch.tensor([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])


def _jitter_hand(box: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    side = float(box[2] - box[0]) * rng.uniform(0.9, 1.25)
    cx = float(box[0] + box[2]) / 2 + rng.uniform(-0.1, 0.1) * side
    cy = float(box[1] + box[3]) / 2 + rng.uniform(-0.1, 0.1) * side
    return torch.tensor([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])


def _colour_jitter(rgb: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """(V, 3, S, S) in [0, 1]: brightness x[0.8, 1.2], contrast x[0.8, 1.2], gains x[0.9, 1.1] per view."""
    V = rgb.shape[0]
    bright = torch.as_tensor(rng.uniform(0.8, 1.2, (V, 1, 1, 1)), dtype=rgb.dtype)
    contrast = torch.as_tensor(rng.uniform(0.8, 1.2, (V, 1, 1, 1)), dtype=rgb.dtype)
    gains = torch.as_tensor(rng.uniform(0.9, 1.1, (V, 3, 1, 1)), dtype=rgb.dtype)
    mean = rgb.mean(dim=(1, 2, 3), keepdim=True)
    return (((rgb - mean) * contrast + mean) * bright * gains).clamp(0, 1)

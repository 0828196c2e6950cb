"""How good a predicted proxy is against the exact one of the same pixels.

- ``seg_miou``: the mean intersection over union of the body parts, pooled over views. The
  22 body parts count one class each and each hand one class (its 12 parts merged), so
  that a hand a few pixels wide does not weigh like a thigh; a class counts where it
  appears in the prediction or the truth.
- ``surface_error_mm``: on pixels that both call body, the median distance between the 3D
  surface point the predicted ``(part, u, v)`` denotes and the one the exact proxy denotes,
  both on the ground-truth body. ``surface_valid`` is the share of those pixels whose
  predicted (part, u, v) lies on the part's UV chart at all (the others have no point).
"""

from __future__ import annotations

import torch

from engine.proxy.lookup import UVLookup, surface_points
from engine.proxy.parts import BODY_PARTS, HAND_PARTS, PART_ID


def _coarse_classes() -> torch.Tensor:
    """part id -> class: 0 background, 1..22 body parts, 23 left hand, 24 right hand."""
    table = torch.zeros(1 + len(BODY_PARTS) + len(HAND_PARTS), dtype=torch.long)
    for i, name in enumerate(BODY_PARTS):
        table[PART_ID[name]] = i + 1
    for name in HAND_PARTS:
        table[PART_ID[name]] = len(BODY_PARTS) + (1 if name.startswith("left") else 2)
    return table


_CLASSES = _coarse_classes()


def seg_miou(pred: torch.Tensor, gt: torch.Tensor) -> float:
    """pred, gt (..., H, W) part ids -> mean IoU over the classes present in either."""
    p, g = _CLASSES[pred.long()], _CLASSES[gt.long()]
    n = int(_CLASSES.max()) + 1
    ious = []
    for c in range(1, n):
        inter = ((p == c) & (g == c)).sum()
        union = ((p == c) | (g == c)).sum()
        if union > 0:
            ious.append(float(inter) / float(union))
    return sum(ious) / len(ious) if ious else float("nan")


def surface_error(pred_seg: torch.Tensor, pred_uv: torch.Tensor, gt_seg: torch.Tensor, gt_uv: torch.Tensor,
                  vertices: torch.Tensor, faces: torch.Tensor, lookup: UVLookup) -> tuple[float, float]:
    """-> (median surface-point error in mm, share of pixels with a valid predicted point)."""
    both = (pred_seg > 0) & (gt_seg > 0)
    if not both.any():
        return float("nan"), 0.0
    pred = lookup.query(pred_seg[both].long(), pred_uv[both].double())
    true = lookup.query(gt_seg[both].long(), gt_uv[both].double())
    ok = pred.valid & true.valid
    if not ok.any():
        return float("nan"), 0.0
    verts = vertices.double()[None]
    a = surface_points(verts, faces, pred.face[ok], pred.bary[ok])[0]
    b = surface_points(verts, faces, true.face[ok], true.bary[ok])[0]
    return float((a - b).norm(dim=-1).median()) * 1000, float(pred.valid[true.valid].float().mean())

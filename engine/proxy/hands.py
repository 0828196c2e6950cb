"""Hand crops (the paper's hand refinement): find each hand in a view's part map and frame
it in a square box, so that a crop with adjusted intrinsics (``engine.geometry.crop``)
shows it at the model's full resolution. Training uses the ground-truth parts; inference
the first pass's; the oracle evaluation casts exact proxies into the crops
(``engine.proxy.oracle_crops``)."""

from __future__ import annotations

import torch

from engine.proxy.parts import HAND_PARTS, PART_ID

HANDS = {side: [PART_ID[n] for n in HAND_PARTS if n.startswith(side)] for side in ("left", "right")}


def hand_boxes(seg: torch.Tensor, min_area: float = 1e-4, margin: float = 1.6, min_side: float = 0.125
               ) -> list[tuple[int, str, torch.Tensor]]:
    """seg (V, H, W) part ids -> [(view, side, box (4,) float)]: a square box of ``margin``
    times the hand's larger extent, and at least ``min_side`` of the view's larger side,
    around every hand that covers at least ``min_area`` of the view, largest first. Sizes are
    relative to the view, so a part map at the source resolution (training) and one at the
    model's (inference) frame a hand alike."""
    found = []
    H, W = seg.shape[-2:]
    min_pixels, min_side = max(1, round(min_area * H * W)), min_side * max(H, W)
    for v in range(seg.shape[0]):
        for side, ids in HANDS.items():
            mask = torch.isin(seg[v], torch.tensor(ids, device=seg.device))
            count = int(mask.sum())
            if count < min_pixels:
                continue
            ys, xs = torch.nonzero(mask, as_tuple=True)
            x0, x1, y0, y1 = xs.min().item(), xs.max().item() + 1, ys.min().item(), ys.max().item() + 1
            half = max(margin * max(x1 - x0, y1 - y0), min_side) / 2
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            found.append((count, v, side, torch.tensor([cx - half, cy - half, cx + half, cy + half])))
    found.sort(key=lambda f: -f[0])
    return [(v, side, box) for _, v, side, box in found]

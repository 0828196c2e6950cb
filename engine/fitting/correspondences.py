"""Proxy pixels -> correspondences: (view, pixel) <-> (face, barycentric) on the body.

Each foreground pixel's ``(part, u, v)`` names a surface point through the body's UV lookup.
Pixels are subsampled per view and part (at most ``max_per_part`` each, uniformly at random
within the part), so the fitting's cost does not grow with the image size and small parts
(fingers) keep their say next to the torso.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engine.errors import InputError, check_finite, check_shape
from engine.proxy.lookup import UVLookup
from engine.proxy.parts import NUM_PARTS, check_part_ids


@dataclass
class Correspondences:
    view: torch.Tensor  # (N,) long
    xy_px: torch.Tensor  # (N, 2) pixel centres, OpenCV convention
    part: torch.Tensor  # (N,) long
    face: torch.Tensor  # (N,) long
    bary: torch.Tensor  # (N, 3)
    weight: torch.Tensor  # (N,)

    def __len__(self) -> int:
        return self.view.shape[0]

    def select(self, keep: torch.Tensor) -> "Correspondences":
        """The correspondences where the mask (or index) ``keep`` says."""
        return Correspondences(self.view[keep], self.xy_px[keep], self.part[keep], self.face[keep], self.bary[keep],
                               self.weight[keep])


def proxy_correspondences(seg: torch.Tensor, uv: torch.Tensor, lookup: UVLookup, weight: torch.Tensor | None = None,
                          max_per_part: int = 64, seed: int = 0) -> Correspondences:
    """seg (V, H, W) part ids, uv (V, H, W, 2), weight (V, H, W) or None for 1 -> correspondences.

    Pixels with zero weight, and pixels whose (part, u, v) names no face of that part, are
    dropped."""
    check_shape("seg", seg, ("V", "H", "W"))
    check_shape("uv", uv, (*seg.shape, 2))
    check_part_ids("seg", seg)
    check_finite("uv", uv)
    if weight is None:
        weight = torch.ones(seg.shape, dtype=uv.dtype, device=uv.device)
    check_shape("weight", weight, tuple(seg.shape))
    check_finite("weight", weight)
    if (weight < 0).any() or (weight > 1).any():
        raise InputError("weight: values must lie in [0, 1]")
    if max_per_part < 1:
        raise InputError(f"max_per_part: must be at least 1, got {max_per_part}")

    view, y, x = torch.nonzero((seg > 0) & (weight > 0), as_tuple=True)
    if len(view) == 0:
        raise InputError(f"seg: no foreground pixels with positive weight in any of the {seg.shape[0]} views")
    part = seg[view, y, x].long()
    keep = _subsample(view * NUM_PARTS + part, max_per_part, seed)
    view, y, x, part = view[keep], y[keep], x[keep], part[keep]
    found = lookup.query(part, uv[view, y, x])
    ok = found.valid
    xy = torch.stack([x, y], dim=-1).to(uv.dtype)
    return Correspondences(view=view[ok], xy_px=xy[ok], part=part[ok], face=found.face[ok],
                           bary=found.bary[ok], weight=weight[view, y, x][ok])


def _subsample(group: torch.Tensor, max_per_group: int, seed: int) -> torch.Tensor:
    """Indices of at most ``max_per_group`` random members of every group."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.rand(len(group), generator=g, dtype=torch.float64)
    order = torch.argsort(group.cpu().double() + noise)  # groups in order, shuffled inside
    sorted_group = group.cpu()[order]
    first = torch.searchsorted(sorted_group, sorted_group, right=False)
    rank = torch.arange(len(order)) - first
    return order[rank < max_per_group].to(group.device)

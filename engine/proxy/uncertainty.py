"""Test-time scaling: K proxy samples per view -> one proxy with per-pixel weights.

Exactly the paper's rules (DiffProxy, "Test-time scaling with uncertainty"):

- ``uv``: the per-pixel median over the K samples; ``U_uv``: the variance over the samples,
  averaged over the two channels;
- ``seg``: the majority vote (ties go to the smaller part id); ``U_seg = 1`` when the top
  label has K/2 votes or fewer, else ``2 (1 - n_max / K)``;
- ``weight = (1 - U_uv) (1 - U_seg)``, and 0 where the vote says background.

The median and variance run over all K samples, as the paper states; a sample that voted
for another part therefore also widens ``U_uv``. One function serves the fitting's oracle
evaluation (simulated samples) and the diffusion sampler.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engine.errors import InputError, check_finite, check_shape
from engine.proxy.parts import NUM_PARTS, check_part_ids


@dataclass
class AggregatedProxy:
    seg: torch.Tensor  # (..., H, W) long part ids
    uv: torch.Tensor  # (..., H, W, 2) float in [0, 1]
    weight: torch.Tensor  # (..., H, W) float in [0, 1]
    u_seg: torch.Tensor  # (..., H, W)
    u_uv: torch.Tensor  # (..., H, W)


def aggregate_samples(seg: torch.Tensor, uv: torch.Tensor) -> AggregatedProxy:
    """seg (K, ..., H, W) integer part ids and uv (K, ..., H, W, 2) of K samples -> one proxy.

    Any leading dimensions after K (views, scenes) are kept."""
    if seg.dim() < 3:
        raise InputError(f"seg: expected (K, ..., H, W) samples, got shape {tuple(seg.shape)}")
    check_shape("uv", uv, (*seg.shape, 2))
    check_part_ids("seg", seg)
    check_finite("uv", uv)
    K = seg.shape[0]
    votes = torch.nn.functional.one_hot(seg.long(), NUM_PARTS).sum(dim=0)  # (..., H, W, P)
    n_max, label = votes.max(dim=-1)  # max returns the first (smallest id) on ties
    n_max = n_max.to(uv.dtype)
    u_seg = torch.where(n_max <= K / 2, torch.ones_like(n_max), 2 * (1 - n_max / K))
    # contiguous: torch 2.13's median along a stride-0 (expanded) dimension returns wrong values
    uv_median = uv.contiguous().median(dim=0).values
    u_uv = uv.var(dim=0, unbiased=False).mean(dim=-1)
    weight = ((1 - u_uv) * (1 - u_seg)).clamp(0, 1)
    weight = torch.where(label == 0, torch.zeros_like(weight), weight)
    return AggregatedProxy(seg=label, uv=uv_median, weight=weight, u_seg=u_seg, u_uv=u_uv)

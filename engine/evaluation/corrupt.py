"""Simulated proxy samples for the oracle evaluation: exact proxies made noisy, K times.

Stands in for K samples of the proxy generator (``PAPER.md``, "Test-time scaling"), so the
uncertainty aggregation and the fitting's weighting can be measured without a trained model:

- **pixel noise, different in every sample**: in each sample, a fraction ``fraction`` of
  every view's foreground pixels, drawn afresh, gets a wrong part (uniform over the other
  body parts, never background) and a uniform random UV in [0, 1]^2;
- **one occluding blob per view, the same in all K samples**: an ellipse centred on a
  random foreground pixel (semi-axes 0.25-0.5 of the radius of a disk as large as the
  view's silhouette, random orientation) turns to background. An occluder is part of the
  image, so every sample of that view sees it; a blob that moved between samples would be
  just more pixel noise, removed by the vote, and would not test what it is there for:
  fitting with parts of the body missing from some views.

Everything is drawn from one ``torch.Generator`` (or an int seed), in a fixed order, so the
result is a pure function of the inputs and the seed.
"""

from __future__ import annotations

import math

import torch

from engine.errors import InputError, check_finite, check_shape
from engine.proxy.parts import NUM_PARTS, check_part_ids

BLOB_AXES = (0.25, 0.5)  # semi-axes, as shares of the silhouette's equivalent-disk radius


def corrupt_proxies(seg: torch.Tensor, uv: torch.Tensor, fraction: float, samples: int,
                    generator: torch.Generator | int = 0, blob: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """seg (N, H, W) part ids and uv (N, H, W, 2) of N views -> K noisy samples:
    seg_k (K, N, H, W) (seg's dtype) and uv_k (K, N, H, W, 2)."""
    seg, uv = torch.as_tensor(seg), torch.as_tensor(uv)
    check_shape("seg", seg, ("N", "H", "W"))
    check_shape("uv", uv, (*seg.shape, 2))
    check_part_ids("seg", seg)
    check_finite("uv", uv)
    if not 0.0 <= float(fraction) <= 1.0:
        raise InputError(f"fraction: must lie in [0, 1], got {fraction}")
    if int(samples) < 1:
        raise InputError(f"samples: must be at least 1, got {samples}")
    g = generator if isinstance(generator, torch.Generator) else torch.Generator().manual_seed(int(generator))

    seg, uv = seg.clone(), uv.clone()
    if blob:
        hidden = occluding_blobs(seg > 0, g)
        seg[hidden] = 0
        uv[hidden] = 0
    foreground = seg > 0
    seg_k = seg.expand(samples, *seg.shape).clone()
    uv_k = uv.expand(samples, *uv.shape).clone()
    for k in range(samples):
        wrong = foreground & (torch.rand(seg.shape, generator=g) < fraction)
        n = int(wrong.sum())
        # a uniform part among the NUM_PARTS - 2 others: shift 1..NUM_PARTS-2 steps around 1..NUM_PARTS-1
        shift = torch.randint(1, NUM_PARTS - 1, (n,), generator=g)
        true = seg[wrong].long()
        seg_k[k][wrong] = ((true - 1 + shift) % (NUM_PARTS - 1) + 1).to(seg.dtype)
        uv_k[k][wrong] = torch.rand((n, 2), generator=g).to(uv.dtype)
    return seg_k, uv_k


def occluding_blobs(foreground: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """foreground (N, H, W) bool -> (N, H, W) bool: one random ellipse per view that has
    foreground pixels, centred on one of them (no blob in an empty view)."""
    n_views, h, w = foreground.shape
    ys = torch.arange(h, dtype=torch.float64)[:, None]
    xs = torch.arange(w, dtype=torch.float64)[None, :]
    hidden = torch.zeros_like(foreground)
    for v in range(n_views):
        pixels = foreground[v].nonzero()
        # draw for every view, empty or not, so one view's content does not shift the others' draws
        pick, angle, axes = torch.rand(4, generator=generator, dtype=torch.float64).split([1, 1, 2])
        axes = BLOB_AXES[0] + (BLOB_AXES[1] - BLOB_AXES[0]) * axes
        if len(pixels) == 0:
            continue
        cy, cx = pixels[min(int(pick * len(pixels)), len(pixels) - 1)].double()
        radius = math.sqrt(len(pixels) / math.pi)
        a, b = (axes * radius).clamp(min=1.0)
        c, s = torch.cos(angle * math.pi), torch.sin(angle * math.pi)
        dx, dy = xs - cx, ys - cy
        hidden[v] = ((c * dx + s * dy) / a) ** 2 + ((-s * dx + c * dy) / b) ** 2 <= 1
    return hidden

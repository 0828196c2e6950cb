"""Proxy views: the dense proxies of N views of one person with their cameras, what the
fitting from proxies takes (``engine.fitting.fit``) and the sampler and the scene files give."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engine.errors import InputError, check_finite, check_shape
from engine.geometry.camera import Cameras
from engine.proxy.parts import check_part_ids


@dataclass
class ProxyViews:
    """N views of one person: seg (N, H, W) part ids, uv (N, H, W, 2) in [0, 1], weight
    (N, H, W) in [0, 1] or None (all 1), and the N calibrated cameras (image size W x H).
    The last ``hand_views`` of them are hand crops (the hand refinement's): the fit uses
    them in its hand stage only, where the body is already in place."""

    seg: torch.Tensor
    uv: torch.Tensor
    cameras: Cameras
    weight: torch.Tensor | None = None
    hand_views: int = 0

    def __post_init__(self):
        check_shape("seg", self.seg, ("N", "H", "W"))
        check_shape("uv", self.uv, (*self.seg.shape, 2))
        check_part_ids("seg", self.seg)
        check_finite("uv", self.uv)
        if self.weight is not None:
            check_shape("weight", self.weight, tuple(self.seg.shape))
            check_finite("weight", self.weight)
        n, h, w = self.seg.shape
        if len(self.cameras) != n:
            raise InputError(f"cameras: {len(self.cameras)} cameras for {n} proxy views")
        if not 0 <= self.hand_views < n:
            raise InputError(f"hand_views: {self.hand_views} hand crops among {n} views; at least one must be a "
                             f"body view")
        wrong = [(i, s) for i, s in enumerate(self.cameras.sizes) if s != (w, h)]
        if wrong:
            raise InputError(f"cameras: image size {', '.join(f'{a}x{b} (view {i})' for i, (a, b) in wrong)} "
                             f"does not match the proxies' {w}x{h}")
        if not (self.seg > 0).any():
            raise InputError(f"seg: no foreground pixels in any of the {n} views")

    def __len__(self) -> int:
        return self.seg.shape[0]

    @property
    def body_views(self) -> int:
        return len(self) - self.hand_views

    def subset(self, index) -> "ProxyViews":
        """The views ``index``: its body views first, then its hand crops."""
        index = [i for i in index if i < self.body_views] + [i for i in index if i >= self.body_views]
        return ProxyViews(self.seg[index], self.uv[index], self.cameras.subset(index),
                          None if self.weight is None else self.weight[index],
                          sum(i >= self.body_views for i in index))

"""What the multi-view attention needs to know about the views being denoised: their
cameras, and from them, at each feature resolution, the Plücker ray of every token and
which tokens may attend to which (the epipolar band).

Token order, per scene: modality (seg, uv), then view, then row-major cells. A token
attends to every token of its own view (both modalities: cross-modality attention, and its
own stream: self-attention) and to the tokens of the same modality in the other views
whose cells lie within ``band`` cells of its epipolar line there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from engine.geometry.camera import Cameras
from engine.geometry.epipolar import pairwise_fundamental, point_line_distance
from engine.geometry.rays import pixel_centers, plucker_rays

MODALITIES = ("seg", "uv")


def epipolar_mask(cameras: Cameras, stride: int, band: float = 2.0) -> torch.Tensor:
    """(V*L, V*L) bool, L = cells per view at ``stride``: True where a cell of view a may
    attend to a cell of view b (a == b: always; otherwise the cell centre of b lies within
    ``band`` half cell diagonals of the epipolar line of the centre of the cell of a: with
    band 2, one half diagonal for each cell's quantisation, so a 3D point's two cells see
    each other both ways)."""
    V = len(cameras)
    xy = pixel_centers(cameras.height, cameras.width, stride, dtype=cameras.K.dtype, device=cameras.K.device)
    xy = xy.reshape(-1, 2)
    L = xy.shape[0]
    F = pairwise_fundamental(cameras)  # [b, a]
    limit = band * stride * math.sqrt(0.5) + 1e-6  # half a cell diagonal per band unit
    mask = torch.zeros(V, L, V, L, dtype=torch.bool, device=xy.device)
    for a in range(V):
        for b in range(V):
            if a == b:
                mask[a, :, b, :] = True
            else:
                mask[a, :, b, :] = point_line_distance(F[b, a], xy, xy) <= limit
    return mask.reshape(V * L, V * L)


@dataclass
class ViewBatch:
    """B scenes of V views each (the same V; the cameras of one scene share an image size)."""

    cameras: list[Cameras]
    band: float = 2.0
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def num_scenes(self) -> int:
        return len(self.cameras)

    @property
    def num_views(self) -> int:
        return len(self.cameras[0])

    @property
    def image_size(self) -> tuple[int, int]:
        return self.cameras[0].height, self.cameras[0].width

    def stride_of(self, tokens: int) -> int:
        H, W = self.image_size
        stride = round(math.sqrt(H * W / tokens))
        if (H // stride) * (W // stride) != tokens:
            raise ValueError(f"{tokens} tokens per view do not tile a {W}x{H} image")
        return stride

    def _per_scene(self, kind: str, tokens: int, device, dtype, build) -> torch.Tensor:
        """``build(cameras, stride)`` for every scene, stacked, cached per resolution."""
        key = (kind, tokens, device, dtype)
        if key not in self._cache:
            stride = self.stride_of(tokens)
            per_scene = [build(cams.to(dtype=torch.float64), stride) for cams in self.cameras]
            self._cache[key] = torch.stack(per_scene).to(device=device, dtype=dtype)
        return self._cache[key]

    def attention_mask(self, tokens: int, device, dtype) -> torch.Tensor:
        """(B, 1, T, T) additive mask over the T = 2 * V * tokens tokens of each scene."""
        V, L = self.num_views, tokens
        same_view = torch.block_diag(*[torch.ones(L, L, dtype=torch.bool)] * V)

        def scene_bias(cams: Cameras, stride: int) -> torch.Tensor:
            views = epipolar_mask(cams, stride, self.band).cpu()
            allowed = torch.cat([torch.cat([views, same_view], 1), torch.cat([same_view, views], 1)])
            return torch.zeros(allowed.shape).masked_fill(~allowed, float("-inf"))[None]

        return self._per_scene("mask", tokens, device, dtype, scene_bias)

    def rays(self, tokens: int, device, dtype) -> torch.Tensor:
        """(B, 2 * V * tokens, 6) Plücker rays of the tokens (both modalities share them)."""
        def scene_rays(cams: Cameras, stride: int) -> torch.Tensor:
            r = plucker_rays(cams, stride).flatten(2).transpose(1, 2).reshape(-1, 6)  # (V * L, 6)
            return torch.cat([r, r])

        return self._per_scene("rays", tokens, device, dtype, scene_rays)

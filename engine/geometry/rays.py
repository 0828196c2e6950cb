"""Plücker ray embeddings: every pixel (or feature cell) carries the ray it sees.

A ray with unit direction d through the camera centre o is (d, m) with moment m = o x d;
the six numbers are independent of the point chosen on the ray, which is why attention
across views can compare them.
"""

from __future__ import annotations

import torch

from engine.geometry.camera import Cameras, pixel_rays


def pixel_centers(height: int, width: int, stride: int = 1, dtype=torch.float32, device=None) -> torch.Tensor:
    """(H', W', 2) pixel coordinates of the cell centres of a feature map that is ``stride``
    times coarser than the image: cell (i, j) covers pixels [j*s, (j+1)*s) x [i*s, (i+1)*s),
    so its centre is ``(j + 0.5) * s - 0.5`` in the pixel-centre convention."""
    h, w = height // stride, width // stride
    ys = (torch.arange(h, dtype=dtype, device=device) + 0.5) * stride - 0.5
    xs = (torch.arange(w, dtype=dtype, device=device) + 0.5) * stride - 0.5
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=-1)


def plucker_rays(cameras: Cameras, stride: int = 1) -> torch.Tensor:
    """(N, 6, H', W') Plücker coordinates (direction, moment) per cell, in world frame; the
    cameras share one image size (``Cameras.width``/``height`` name the views that differ)."""
    K = cameras.K
    xy = pixel_centers(cameras.height, cameras.width, stride, dtype=K.dtype, device=K.device)
    h, w = xy.shape[:2]
    d = pixel_rays(K, cameras.R_cam_world, xy.reshape(1, -1, 2).expand(len(cameras), -1, -1))
    o = cameras.centers_world[:, None, :].expand_as(d)
    rays = torch.cat([d, torch.cross(o, d, dim=-1)], dim=-1)  # (N, P, 6)
    return rays.permute(0, 2, 1).reshape(len(cameras), 6, h, w)

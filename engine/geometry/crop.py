"""Crops and resizes of views with their intrinsics: only K changes (focal length and
principal point), the extrinsics stay. Used to bring rendered views to the diffusion
model's resolution, for crop augmentation, and for hand crops.

A box is ``(x0, y0, x1, y1)`` in pixel edges (the image spans ``[0, W] x [0, H]``); it is
resampled to ``size x size`` pixels. In the pixel-centre convention (pixel i has centre i),
a point at x in the image lands at ``(x + 0.5 - x0) * size / (x1 - x0) - 0.5`` in the crop.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.errors import InputError
from engine.geometry.camera import Cameras


def _check_boxes(boxes: torch.Tensor, n: int) -> None:
    if boxes.shape != (n, 4):
        raise InputError(f"boxes: expected ({n}, 4), got {tuple(boxes.shape)}")
    if not torch.isfinite(boxes).all() or ((boxes[:, 2] - boxes[:, 0]) <= 0).any() or \
            ((boxes[:, 3] - boxes[:, 1]) <= 0).any():
        raise InputError("boxes: need finite (x0, y0, x1, y1) with x1 > x0 and y1 > y0")


def crop_intrinsics(K: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """(N, 3, 3) intrinsics of the crops ``boxes`` (N, 4) resampled to ``size`` pixels."""
    _check_boxes(boxes, K.shape[0])
    boxes = boxes.to(K.dtype)
    sx = size / (boxes[:, 2] - boxes[:, 0])
    sy = size / (boxes[:, 3] - boxes[:, 1])
    A = torch.zeros_like(K)
    A[:, 0, 0], A[:, 0, 2] = sx, (0.5 - boxes[:, 0]) * sx - 0.5
    A[:, 1, 1], A[:, 1, 2] = sy, (0.5 - boxes[:, 1]) * sy - 0.5
    A[:, 2, 2] = 1
    return A @ K


def crop_cameras(cameras: Cameras, boxes: torch.Tensor, size: int) -> Cameras:
    return Cameras(crop_intrinsics(cameras.K, boxes, size), cameras.R_cam_world, cameras.t_cam_world, size, size)


def square_boxes(n: int, width: int, height: int) -> torch.Tensor:
    """(n, 4) the image framed in a centred square (padded where it is not square)."""
    side, cx, cy = max(width, height), width / 2, height / 2
    return torch.tensor([[cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]]).expand(n, 4).clone()


def crop_images(images: torch.Tensor, boxes: torch.Tensor, size: int, mode: str = "bilinear") -> torch.Tensor:
    """(N, C, H, W) -> (N, C, size, size) sampled at the crop's pixel centres; outside the
    image: 0. ``mode`` "nearest" for labels and UVs (no blending of part ids)."""
    N, _, H, W = images.shape
    _check_boxes(boxes, N)
    boxes = boxes.to(torch.float32)
    t = (torch.arange(size, dtype=torch.float32, device=boxes.device) + 0.5) / size  # crop pixel centres, in [0, 1] of the box
    x = boxes[:, 0:1] + t * (boxes[:, 2:3] - boxes[:, 0:1])  # image coordinates in edge units
    y = boxes[:, 1:2] + t * (boxes[:, 3:4] - boxes[:, 1:2])
    gx, gy = x / W * 2 - 1, y / H * 2 - 1  # grid_sample, align_corners=False
    grid = torch.stack([gx[:, None, :].expand(N, size, size), gy[:, :, None].expand(N, size, size)], dim=-1)
    out = F.grid_sample(images.float(), grid.to(images.device), mode=mode, padding_mode="zeros", align_corners=False)
    if not images.dtype.is_floating_point:
        out = out.round()
    return out.to(images.dtype)


def crop_proxies(seg: torch.Tensor, uv: torch.Tensor, boxes: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """seg (N, H, W) part ids and uv (N, H, W, 2) -> the crops (N, S, S), (N, S, S, 2), nearest
    sampled (part ids are never blended); outside the image: background."""
    seg = crop_images(seg[:, None], boxes, size, "nearest")[:, 0]
    uv = crop_images(uv.permute(0, 3, 1, 2), boxes, size, "nearest").permute(0, 2, 3, 1)
    return seg, uv

"""Epipolar geometry between two calibrated views.

``F`` maps a pixel of view a to its epipolar line in view b: ``x_b^T F x_a = 0`` for
homogeneous pixels of the same 3D point.
"""

from __future__ import annotations

import torch

from engine.geometry.camera import Cameras


def skew(v: torch.Tensor) -> torch.Tensor:
    """(..., 3) -> (..., 3, 3) cross-product matrices: ``skew(a) @ b = a x b``."""
    z = torch.zeros_like(v[..., 0])
    return torch.stack([
        torch.stack([z, -v[..., 2], v[..., 1]], dim=-1),
        torch.stack([v[..., 2], z, -v[..., 0]], dim=-1),
        torch.stack([-v[..., 1], v[..., 0], z], dim=-1),
    ], dim=-2)


def fundamental_matrix(K_a, R_a, t_a, K_b, R_b, t_b) -> torch.Tensor:
    """Fundamental matrix from view a to view b; batched over leading dimensions."""
    R_ba = R_b @ R_a.transpose(-1, -2)
    t_ba = t_b - (R_ba @ t_a[..., None])[..., 0]
    E = skew(t_ba) @ R_ba
    return torch.linalg.inv(K_b).transpose(-1, -2) @ E @ torch.linalg.inv(K_a)


def pairwise_fundamental(cameras: Cameras) -> torch.Tensor:
    """(N, N, 3, 3): entry [b, a] maps pixels of view a to epipolar lines in view b."""
    n = len(cameras)
    K, R, t = cameras.K, cameras.R_cam_world, cameras.t_cam_world
    a = torch.arange(n).repeat(n)
    b = torch.arange(n).repeat_interleave(n)
    return fundamental_matrix(K[a], R[a], t[a], K[b], R[b], t[b]).reshape(n, n, 3, 3)


def epipolar_lines(F: torch.Tensor, xy_a: torch.Tensor) -> torch.Tensor:
    """Lines (..., P, 3) in view b, normalised so that ``l[0]^2 + l[1]^2 = 1``, of pixels
    xy_a (..., P, 2) of view a."""
    ones = torch.ones_like(xy_a[..., :1])
    lines = torch.einsum("...ij,...pj->...pi", F, torch.cat([xy_a, ones], dim=-1))
    return lines / lines[..., :2].norm(dim=-1, keepdim=True).clamp(min=1e-12)


def point_line_distance(F: torch.Tensor, xy_a: torch.Tensor, xy_b: torch.Tensor) -> torch.Tensor:
    """Pixel distance (..., P, Q) from every pixel xy_b (..., Q, 2) of view b to the epipolar
    line of every pixel xy_a (..., P, 2) of view a."""
    lines = epipolar_lines(F, xy_a)
    ones = torch.ones_like(xy_b[..., :1])
    return torch.einsum("...pi,...qi->...pq", lines, torch.cat([xy_b, ones], dim=-1)).abs()

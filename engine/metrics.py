"""Body reconstruction errors in millimetres: MPJPE, PA-MPJPE, MPVPE, PA-MPVPE.

Inputs are in metres, batched (B, N, 3). "PA" first aligns the prediction to the ground
truth with the best similarity transform (rotation, translation, scale; Umeyama via
``roma.rigid_points_registration``).
"""

from __future__ import annotations

import roma
import torch

from engine.errors import InputError, check_finite, check_shape


def _check(pred: torch.Tensor, gt: torch.Tensor) -> None:
    check_shape("pred", pred, (None, None, 3))
    check_shape("gt", gt, tuple(pred.shape))
    if pred.shape[1] < 3:
        raise InputError(f"pred: need at least 3 points per body, got {pred.shape[1]}")
    check_finite("pred", pred)
    check_finite("gt", gt)


def procrustes_align(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """pred (B, N, 3) aligned onto gt by the least-squares similarity transform."""
    _check(pred, gt)
    R, t, s = roma.rigid_points_registration(pred, gt, compute_scaling=True)
    return s[:, None, None] * torch.einsum("bij,bnj->bni", R, pred) + t[:, None, :]


def mean_point_error_mm(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """(B,) mean Euclidean distance between corresponding points, in mm."""
    _check(pred, gt)
    return (pred - gt).norm(dim=-1).mean(dim=-1) * 1000.0


def mpjpe(pred_joints, gt_joints):
    return mean_point_error_mm(pred_joints, gt_joints)


def pa_mpjpe(pred_joints, gt_joints):
    return mean_point_error_mm(procrustes_align(pred_joints, gt_joints), gt_joints)


def mpvpe(pred_vertices, gt_vertices):
    return mean_point_error_mm(pred_vertices, gt_vertices)


def pa_mpvpe(pred_vertices, gt_vertices):
    return mean_point_error_mm(procrustes_align(pred_vertices, gt_vertices), gt_vertices)


def pa_region_errors_mm(pred_vertices: torch.Tensor, gt_vertices: torch.Tensor,
                        regions: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """PA-MPVPE's vertex errors split by region: the whole mesh aligned once (as for
    PA-MPVPE), then the mean error (B,) of each region's vertices (a (N,) bool mask), in mm.
    The regions' means, weighted by their vertex counts, give PA-MPVPE back."""
    aligned = procrustes_align(pred_vertices, gt_vertices)
    err = (aligned - gt_vertices).norm(dim=-1) * 1000.0
    out = {}
    for name, mask in regions.items():
        check_shape(f"regions[{name!r}]", mask, (pred_vertices.shape[1],))
        out[name] = err[:, mask].mean(dim=-1)
    return out

"""The landmark schedule's 3D stage: the body posed onto the landmarks triangulated across
views, before the image-space stages.

Why: a landmark far (in the image) from where the body starts has almost no pull on a robust
2D loss, so a 2D fit started from the rest pose keeps straight legs under a crouching person
whose knees every view shows folded; and a view in which folded and straight legs project
alike (a front view) holds them straight. In 3D, the triangulated knee lies where it lies:
the pull does not depend on which view sees what.

The triangulation is robust per landmark: each view's reprojection error (in % of the
person's height in that view) is checked and the worst view beyond ``OUTLIER_PCT`` dropped,
again, until the rest agree or fewer than two are left (then the landmark is not used).
A view whose left and right are swapped, or one that found the wrong wrist, is dropped for
the landmarks it gets wrong.
"""

from __future__ import annotations

import torch

from engine.geometry.camera import Cameras
from engine.geometry.triangulation import triangulate

OUTLIER_PCT = 6.0  # a view's landmark further than this from the others' triangulation is dropped
MIN_SCORE = 0.3  # views with a lower landmark score take no part


def robust_triangulation(xy: torch.Tensor, score: torch.Tensor, cams: Cameras,
                         height_px: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """xy (N, L, 2), score (N, L), height_px (N,) -> points (L, 3), their weights (L,): the
    mean score of the views kept, 0 where fewer than two views agree, and which observations
    were dropped (N, L) (seen with a score over ``MIN_SCORE``, out of agreement)."""
    use = score > MIN_SCORE
    scale = (100.0 / height_px)[:, None]
    X = None
    for _ in range(max(len(cams) - 2, 1)):
        X = triangulate_landmarks(xy, score * use, cams)
        px, depth = cams.project(X.nan_to_num(0.0))
        err = (px - xy).norm(dim=-1) * scale  # (N, L) % of height
        err = torch.where(use & (depth > 0), err, torch.where(use, torch.full_like(err, 1e9), torch.zeros_like(err)))
        worst, view = err.max(0)
        drop = worst > OUTLIER_PCT
        if not drop.any():
            break
        use = use.clone()
        use[view[drop], drop.nonzero()[:, 0]] = False
    X = triangulate_landmarks(xy, score * use, cams)
    n = use.sum(0)
    weight = torch.where(n >= 2, (score * use).sum(0) / n.clamp(min=1), torch.zeros_like(n, dtype=score.dtype))
    weight = torch.where(torch.isfinite(X).all(-1), weight, torch.zeros_like(weight))
    return X.nan_to_num(0.0), weight, (score > MIN_SCORE) & ~use


def lift_loss(marks: torch.Tensor, X: torch.Tensor, weight: torch.Tensor, height_m: float) -> torch.Tensor:
    """The weighted mean square 3D distance of the body's landmarks ``marks`` (L, 3) to the
    triangulated ``X`` (L, 3), in % of a body's height ``height_m``. Not robust: the
    triangulation dropped the views that disagree, and a robust loss would let a limb that
    starts far from its landmarks (straight legs under a crouching person) stay there."""
    sq = (marks - X).square().sum(-1) * (100.0 / height_m) ** 2
    return (sq * weight).sum() / weight.sum().clamp(min=1e-9)


def triangulate_landmarks(xy: torch.Tensor, score: torch.Tensor, cams: Cameras) -> torch.Tensor:
    """``engine.geometry.triangulation`` on tensors, each view weighted by its landmark's score
    (those over 0.3): xy (N, L, 2), score (N, L) -> (L, 3), NaN where < 2 views."""
    P = cams.K @ torch.cat([cams.R_cam_world, cams.t_cam_world[..., None]], dim=2)
    w = score * (score > 0.3)
    X = triangulate(xy.detach().double().cpu().numpy(), w.detach().double().cpu().numpy(),
                    P.detach().double().cpu().numpy())
    return torch.as_tensor(X, dtype=xy.dtype, device=xy.device)

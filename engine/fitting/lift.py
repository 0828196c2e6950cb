"""The landmark schedule's 3D stage: the body posed onto the landmarks triangulated across
views, before the image-space stages.

Why: a landmark far (in the image) from where the body starts has almost no pull on a robust
2D loss, so a 2D fit started from the rest pose keeps straight legs under a crouching person
whose knees every view shows folded; and a view in which folded and straight legs project
alike (a front view) holds them straight. In 3D, the triangulated knee lies where it lies:
the pull does not depend on which view sees what.

The triangulation is robust per landmark: each view's reprojection error (in % of the
person's height in that view) is checked and the worst view beyond ``OUTLIER_PCT`` dropped,
again, until the rest agree; two views that disagree leave the landmark out (which one is
wrong cannot be told). A view whose left and right are swapped, or one that found the wrong
wrist, is dropped for the landmarks it gets wrong. A point whose rays barely cross (two
cameras facing each other) weighs less (``ray_spread``).
"""

from __future__ import annotations

import torch

from engine.geometry.camera import Cameras
from engine.geometry.triangulation import triangulate

OUTLIER_PCT = 6.0  # a view's landmark further than this from the others' triangulation is dropped
MIN_SCORE = 0.3  # views with a lower landmark score take no part
WIDE_DEG = 30.0  # rays meeting at a smaller angle (or nearer 180 degrees) place a point poorly: less weight


def robust_triangulation(xy: torch.Tensor, score: torch.Tensor, cams: Cameras,
                         height_px: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """xy (N, L, 2), score (N, L), height_px (N,) -> points (L, 3) and their weights (L,): the
    mean score of the views kept, times how well their rays cross (``ray_spread``); 0 where
    fewer than two views agree (two that disagree: which is wrong cannot be told)."""
    use = score > MIN_SCORE
    scale = (100.0 / height_px)[:, None]
    for _ in range(len(cams) - 1):
        n = use.sum(0)
        X = triangulate_landmarks(xy, score * use, cams)
        px, depth = cams.project(X.nan_to_num(0.0))
        err = (px - xy).norm(dim=-1) * scale  # (N, L) % of height
        err = torch.where(depth > 0, err, torch.full_like(err, 1e9))
        err = torch.where(use & (n >= 2), err, torch.zeros_like(err))  # a landmark one view sees: nothing to check
        worst, view = err.max(0)
        bad = (worst > OUTLIER_PCT).nonzero()[:, 0]
        if not len(bad):
            break
        use = use.clone()
        many = n[bad] >= 3
        use[view[bad[many]], bad[many]] = False  # the others may agree without it
        use[:, bad[~many]] = False  # a pair that disagrees: neither
    n = use.sum(0)
    X = triangulate_landmarks(xy, score * use, cams)
    weight = torch.where(n >= 2, (score * use).sum(0) / n.clamp(min=1), torch.zeros_like(n, dtype=score.dtype))
    weight = torch.where(torch.isfinite(X).all(-1), weight, torch.zeros_like(weight))
    X = X.nan_to_num(0.0)
    return X, weight * ray_spread(X, use, cams)


def ray_spread(X: torch.Tensor, use: torch.Tensor, cams: Cameras) -> torch.Tensor:
    """(L,) in [0, 1]: the sine of the widest angle between the rays of the views ``use`` (N, L)
    through the points X (L, 3), over that of ``WIDE_DEG`` (1 from there). Two cameras facing
    each other across the person see a point along one line: its depth along it is unknown,
    however well the two agree."""
    centres = -(cams.R_cam_world.transpose(-1, -2) @ cams.t_cam_world[..., None])[..., 0]  # (N, 3)
    rays = torch.nn.functional.normalize(X[None] - centres[:, None], dim=-1)  # (N, L, 3)
    sines = torch.linalg.cross(rays[:, None], rays[None], dim=-1).norm(dim=-1)  # (N, N, L)
    both = use[:, None] & use[None]
    widest = torch.where(both, sines, torch.zeros_like(sines)).amax(dim=(0, 1))
    return (widest / torch.sin(torch.deg2rad(torch.tensor(WIDE_DEG, dtype=X.dtype)))).clamp(max=1.0)


def lift_loss(marks: torch.Tensor, X: torch.Tensor, weight: torch.Tensor, height_m: float) -> torch.Tensor:
    """The weighted mean square 3D distance of the body's landmarks ``marks`` (L, 3) to the
    triangulated ``X`` (L, 3), in % of a body's height ``height_m``. Not robust: the
    triangulation dropped the views that disagree, and a robust loss would let a limb that
    starts far from its landmarks (straight legs under a crouching person) stay there."""
    sq = (marks - X).square().sum(-1) * (100.0 / height_m) ** 2
    return (sq * weight).sum() / weight.sum().clamp(min=1e-9)


def triangulate_landmarks(xy: torch.Tensor, score: torch.Tensor, cams: Cameras) -> torch.Tensor:
    """``engine.geometry.triangulation`` on tensors, each view weighted by its landmark's score
    (those over ``MIN_SCORE``): xy (N, L, 2), score (N, L) -> (L, 3), NaN where < 2 views."""
    P = cams.K @ torch.cat([cams.R_cam_world, cams.t_cam_world[..., None]], dim=2)
    w = score * (score > MIN_SCORE)
    X = triangulate(xy.detach().double().cpu().numpy(), w.detach().double().cpu().numpy(),
                    P.detach().double().cpu().numpy())
    return torch.as_tensor(X, dtype=xy.dtype, device=xy.device)

"""The proxy schedule of ``fit.py``: a body fitted to dense multi-view proxies alone, coarse
to fine.

1. placement without a guess (``init.py``): rotation, translation, scale of the rest-pose
   template from its torso correspondences;
2. body: placement + pose of every bone but the hands' + shape, by L-BFGS at two wide
   robust scales, then by Levenberg-Marquardt (``refine.py``, analytic Jacobian) at the
   final one;
3. hands: everything, fingers included (Levenberg-Marquardt), with the hand crops when the
   views have some (``ProxyViews.hand_views``). A crop magnifies its hand up to 8x; its
   residuals are measured in pixels of the body views' focal length, so that a crop pixel
   does not outweigh a view pixel 64-fold, and the stages before see the body views only.

Each stage minimises the robust (Geman-McClure), weighted reprojection error of the proxy
surface points plus the priors (``priors.py``: pose regulariser, the body model's joint
limits, finger coupling, VPoser for SMPL-X with the user's weights), and ends when the loss
drops by less than ``rel_tol``. With ``refine_cameras`` the stages 2-3 also correct each
camera's rotation, position and focal length, held near the calibration.
"""

from __future__ import annotations

import time
from dataclasses import replace

import torch

from engine.body.base import BodyModel
from engine.fitting.correspondences import Correspondences
from engine.fitting.init import TORSO_PARTS, initial_placement
from engine.fitting.jacobian import SkinnedPoints
from engine.fitting.objective import CameraDelta, reprojection
from engine.fitting.observations import Observations
from engine.fitting.optim import lbfgs
from engine.fitting.priors import Priors
from engine.fitting.refine import lm_stage
from engine.fitting.types import FitOptions, FitResult
from engine.fitting.variables import Variables
from engine.geometry.camera import Cameras
from engine.proxy import surface_points
from engine.proxy.parts import PART_ID


def fit_proxies(observations: Observations, body: BodyModel, opt: FitOptions, t_start: float) -> FitResult:
    """``body`` in ``opt.dtype``; ``t_start``: when the fit began (``timings``)."""
    dtype, device = opt.dtype, body.faces.device
    every, cams, body_views = observations.proxy_correspondences(opt.max_per_part, opt.seed, dtype, device)
    priors = Priors(body, opt, len(cams) > 1, dtype, device)
    cams, every, zoom = body_view_pixels(cams, every, body_views)
    corr = every.select(every.view < body_views)
    if len(corr) < 10:
        raise ValueError(f"only {len(corr)} proxy pixels of the body views map onto the body: too few to fit")
    timings = {"correspondences_s": time.perf_counter() - t_start}

    t0 = time.perf_counter()
    with torch.no_grad():
        rest = body(body.neutral_params(1).to(dtype=dtype, device=device))
        template = surface_points(rest.vertices, body.faces, corr.face, corr.bary)[0]
    torso = torch.isin(corr.part, torch.tensor([PART_ID[p] for p in TORSO_PARTS], device=device))
    R, t, s, how = initial_placement(template, corr, torso, cams.subset(list(range(body_views))),
                                     iters=opt.global_iters)
    timings["init_s"] = time.perf_counter() - t0

    var = Variables(body, R, t, s, dtype, device)
    cam_delta = CameraDelta(len(cams), dtype, device) if opt.refine_cameras else None
    losses: dict[str, list[float]] = {}
    body_points = SkinnedPoints(body, corr.face, corr.bary)

    def body_objective(sigma: float) -> torch.Tensor:
        """The L-BFGS stages' loss: the body without the hands (so no finger prior)."""
        data, _ = reprojection(body_points(var.params(hands=False))[None], corr, *_cameras(cams, cam_delta), sigma)
        return priors.loss(data[0], var, False, cam_delta, len(corr))

    # The robust scale is annealed: wide first, so limbs far from their pixels still pull
    # (L-BFGS: gentle first-order steps while the pose is far off), then narrow, so that
    # wrong proxy pixels stop pulling (Levenberg-Marquardt: converges in a few steps).
    wide = [m * opt.robust_sigma_px for m in (16.0, 4.0)]
    params = list(var.parameters()) + (list(cam_delta.parameters()) if cam_delta is not None else [])
    lbfgs_rel_tol = opt.rel_tol if opt.lbfgs_rel_tol is None else opt.lbfgs_rel_tol
    t0 = time.perf_counter()
    losses["body_lbfgs"] = []
    for sigma in wide:
        losses["body_lbfgs"] += lbfgs(params, lambda: body_objective(sigma), opt.body_iters // len(wide),
                                      lbfgs_rel_tol)
    timings["body_lbfgs_s"] = time.perf_counter() - t0
    for name, hands, stage_corr in (("body", False, corr), ("hands", True, every)):
        t0 = time.perf_counter()
        losses[name] = lm_stage(var, cam_delta, stage_corr, cams, body, priors, var.free_bones(hands),
                                opt.robust_sigma_px, iters=opt.lm_iters, rel_tol=opt.rel_tol)
        timings[f"{name}_s"] = time.perf_counter() - t0

    var.clamp_shape_()
    with torch.no_grad():
        params = var.params(True)
        out = body(params)
        K, Rc, tc = _cameras(cams, cam_delta)
        _, sq = reprojection(surface_points(out.vertices, body.faces, every.face, every.bary), every, K, Rc, tc,
                             opt.robust_sigma_px)
        err = sq[0].sqrt()
        n = len(cams)
        wsum = torch.zeros(n, dtype=dtype, device=device).index_add_(0, every.view, every.weight)
        residual = torch.zeros(n, dtype=dtype, device=device).index_add_(0, every.view, err * every.weight)
        residual = residual / wsum.clamp(min=1e-9)
        K = K.clone()
        K[:, :2] /= zoom[:, None, None]
    timings["total_s"] = time.perf_counter() - t_start
    return FitResult(params=params.detach(), vertices=out.vertices[0], joints=out.joints[0],
                     keypoints=out.keypoints[0], cameras=Cameras(K, Rc, tc, cams.widths, cams.heights),
                     residual_px=residual / zoom, correspondences=len(every), init=how, stage_losses=losses,
                     timings=timings)


def body_view_pixels(cams: Cameras, corr: Correspondences, body_views: int):
    """Rescales the image plane of each hand crop (K's first two rows and its pixels) by
    ``zoom`` = the body views' mean focal length / its own: the same projection, with
    residuals in the body views' pixels. -> cameras, correspondences, zoom (N,)."""
    zoom = torch.ones(len(cams), dtype=cams.K.dtype, device=cams.K.device)
    if body_views == len(cams):
        return cams, corr, zoom
    focal = cams.K[:, 0, 0]
    zoom[body_views:] = focal[:body_views].mean() / focal[body_views:]
    K = cams.K.clone()
    K[:, :2] *= zoom[:, None, None]
    corr = replace(corr, xy_px=corr.xy_px * zoom[corr.view, None])
    return Cameras(K, cams.R_cam_world, cams.t_cam_world, cams.widths, cams.heights), corr, zoom


def _cameras(cams: Cameras, cam_delta: CameraDelta | None):
    """K, R_cam_world, t_cam_world of the cameras as given, or as currently refined."""
    K, R, t = cams.K, cams.R_cam_world, cams.t_cam_world
    return (K, R, t) if cam_delta is None else cam_delta.apply(K, R, t)

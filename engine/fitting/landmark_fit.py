"""The landmark schedule of ``fit.py``: a body fitted to detector landmarks and person masks
in any number of calibrated views, optionally with dense proxy correspondences.

The objective, per view v (residuals in percent of the person's height in that view, so
that near and far, large and small views count alike):

- landmarks: Geman-McClure of the reprojection error of each landmark of the body model's
  landmark table (``engine.landmarks``) against the detection, weighted by its score;
- mask: the body's projected vertices should stay inside the person mask (the mask's
  distance transform at each projected vertex) and fill it (each sampled mask pixel's
  distance to the nearest projected vertex);
- proxies (when given): the dense correspondences' reprojection, as in ``proxy_fit.py``;
- the priors (``priors.py``): pose regulariser, the body model's joint limits, finger
  coupling, shape range, scale; from a previous frame, its shape and scale.

Start: the landmarks triangulated across views, the rest body's landmarks aligned to them
by a similarity (one view: the body upright in front of the camera at the depth its torso's
image size gives); or a previous frame's fit. From the triangulation, L-BFGS poses the body
onto the triangulated landmarks (``lift.py``; the pose alone, then everything, with the
image terms beside); otherwise L-BFGS places the rest body. Then L-BFGS on the body at
a wide robust scale (masks included), and Levenberg-Marquardt at the narrow one (landmarks
and priors, the analytic Jacobian of ``refine.py``): the body, then everything with the
fingers. A sequence's frames start from the previous frame and run the Levenberg-Marquardt
stages only. With ``refine_cameras`` those stages also correct each camera's rotation,
position and focal length, held near the calibration (``CameraDelta``); the result's
cameras are the corrected ones.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import roma
import torch

from engine.body.base import BodyModel, BodyParams
from engine.fitting.correspondences import Correspondences
from engine.fitting.jacobian import SkinnedPoints
from engine.fitting.objective import CameraDelta, gmof, project
from engine.fitting.observations import LandmarkTable, Observations
from engine.fitting.optim import lbfgs
from engine.fitting.priors import Priors
from engine.fitting.refine import lm_stage
from engine.fitting.types import FitOptions, FitResult
from engine.fitting.variables import Variables
from engine.fitting.lift import lift_loss, robust_triangulation, triangulate_landmarks
from engine.geometry.camera import Cameras
from engine.proxy.lookup import surface_points

FACE = ("nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
        "left_ear", "right_ear", "mouth_left", "mouth_right")
BODY_HEIGHT_M = 1.7  # the scale of the 3D stage's residuals (% of a body's height)
TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_ear", "right_ear")


@dataclass
class _ViewData:
    height_px: torch.Tensor  # (N,) person's height in each view, px
    dist: list  # per view: (1, 1, h, w) distance (px) outside the mask, or None
    fill: list  # per view: (P, 2) sampled mask pixels (image px), or None
    size: list  # per view: the image's (width, height) in px


def fit_landmarks(observations: Observations, body: BodyModel, opt: FitOptions, init: BodyParams | None,
                  t_start: float) -> FitResult:
    """``body`` in ``opt.dtype``; ``init``: a previous frame's fit to start from (Levenberg-Marquardt
    stages only), or None; ``t_start``: when the fit began (``timings``)."""
    obs, table = observations, observations.table
    dtype, device = opt.dtype, body.faces.device
    cams = obs.cameras.to(dtype=dtype, device=device)
    xy, score = obs.landmarks.to(device, dtype).nan_to_num(0.0), obs.scores.to(device, dtype)
    if opt.face_weight != 1.0:
        face = torch.tensor([n in FACE for n in table.names], device=device)
        score = torch.where(face, score * opt.face_weight, score)
    views = _view_data(obs, dtype, device, opt.seed)
    ids = torch.as_tensor(table.vertex_ids, device=device)
    weights = torch.as_tensor(table.weights, device=device, dtype=dtype)
    rng = torch.Generator().manual_seed(opt.seed)
    mask_ids = torch.randperm(body.faces.max().item() + 1, generator=rng)[:opt.mask_points].to(device)
    points = _vertex_points(body, torch.cat([ids.reshape(-1), mask_ids]))  # only these vertices are skinned
    n_marks = ids.numel()

    if init is None:
        R, t, s, how = _initial_placement(xy, score, cams, body, table, views.height_px)
        var = Variables(body, R, t, s, dtype, device)
    else:
        # copies: the previous frame's result must not share storage with this frame's variables
        var = Variables(body, roma.rotvec_to_rotmat(init.global_orient[0].to(dtype)), init.transl[0].to(dtype).clone(),
                        init.scale[0].to(dtype).clone(), dtype, device)
        with torch.no_grad():
            var.body_pose.copy_(init.body_pose[0].to(dtype))
            var.shape_free.copy_(init.shape[0].to(dtype))
        how = "previous frame"
    anchors = None
    if init is not None and opt.hold_shape > 0:  # the same person as the previous frame: its shape and size
        anchors = {"shape": (var.shape_free.detach().clone(), opt.hold_shape),
                   "log_scale": (var.log_scale.detach().clone().reshape(1), opt.hold_shape)}
    priors = Priors(body, opt, len(cams) > 1, dtype, device, anchors)
    proxies = obs.proxy_correspondences(opt.max_per_part, opt.seed, dtype, device)
    corr, ccams = (None, None) if proxies is None else proxies[:2]
    scale_pct = 100.0 / views.height_px  # px -> % of the person's height, per view

    lifted = None
    if how == "triangulation" and opt.lift_weight > 0:  # the scores as detected (not face_weight's)
        lifted = robust_triangulation(xy, obs.scores.to(device, dtype), cams, views.height_px)

    def objective(hands: bool, sigma: float, lift: float = 0.0) -> torch.Tensor:
        """The L-BFGS stages' loss: landmarks, masks, proxies, the triangulated landmarks
        (``lift``: their weight), priors."""
        params = var.params(hands)
        posed = points(params)
        marks = (weights[..., None] * posed[:n_marks].reshape(*ids.shape, 3)).sum(1)
        lift_term = 0.0
        if lift > 0:
            lift_term = lift * lift_loss(marks, *lifted, BODY_HEIGHT_M)
        px, _ = cams.project(marks)
        sq = ((px - xy).square().sum(-1)) * scale_pct[:, None] ** 2
        loss = (gmof(sq, sigma) * score).sum() / score.sum().clamp(min=1e-9)
        loss = loss + opt.mask_weight * _mask_loss(cams, posed[n_marks:], views, scale_pct, sigma)
        if corr is not None and len(corr):
            pts = surface_points(body(params).vertices, body.faces, corr.face, corr.bary)[0]
            sq_c = (project(pts, corr.view, ccams.K, ccams.R_cam_world, ccams.t_cam_world) - corr.xy_px
                    ).square().sum(-1) * (100.0 / (0.8 * ccams.height)) ** 2  # the person fills ~80% of a crop
            loss = loss + opt.proxy_weight * (gmof(sq_c, sigma) * corr.weight).sum() / corr.weight.sum()
        return priors.loss(loss + lift_term, var, hands)

    placement = [var.rot, var.transl] + ([var.log_scale] if len(cams) > 1 else [])
    lbfgs_stages = [("place", placement, 4 * opt.sigma_pct, opt.place_iters, 0.0)]
    if lifted is not None:  # placed in 3D by the triangulation already; the body onto it
        lbfgs_stages = [("lift_pose", [var.body_pose], 2 * opt.sigma_pct, opt.body_iters, opt.lift_weight),
                        ("lift", list(var.parameters()), 2 * opt.sigma_pct, opt.body_iters, opt.lift_weight)]
    lbfgs_stages.append(("body", list(var.parameters()), 2 * opt.sigma_pct, opt.body_iters, 0.0))
    if init is not None:  # a previous frame's body is close: Levenberg-Marquardt only
        lbfgs_stages = []
    lbfgs_rel_tol = opt.rel_tol if opt.lbfgs_rel_tol is None else opt.lbfgs_rel_tol
    losses: dict[str, list[float]] = {}
    timings = {}
    for name, params, sigma, iters, lift in lbfgs_stages:
        t0 = time.perf_counter()
        losses[name] = lbfgs(params, lambda: objective(False, sigma, lift), iters, lbfgs_rel_tol)
        timings[f"{name}_s"] = time.perf_counter() - t0
    lm = _LandmarkProblem(xy, score, cams, scale_pct, body, table, dtype, device)
    cam_delta = CameraDelta(len(cams), dtype, device) if opt.refine_cameras else None
    for name, hands in (("body_lm", False), ("hands_lm", True)):
        t0 = time.perf_counter()
        losses[name] = lm_stage(var, cam_delta, lm.corr, lm.cameras, body, priors, var.free_bones(hands),
                                opt.sigma_pct, iters=opt.lm_iters, rel_tol=opt.rel_tol, points=lm.points)
        timings[f"{name}_s"] = time.perf_counter() - t0
    if cam_delta is not None:  # the corrections are relative (focal scale): apply them to the pixel cameras
        with torch.no_grad():
            cams = Cameras(*cam_delta.apply(cams.K, cams.R_cam_world, cams.t_cam_world), cams.widths, cams.heights)
    var.clamp_shape_()
    with torch.no_grad():
        params = var.params(True)
        out = body(params)
        marks = table.positions(out.vertices[0])
        px, _ = cams.project(marks)
        err = (px - xy).norm(dim=-1)
        residual = torch.stack([_weighted_median(err[v], score[v]) for v in range(len(cams))])
    timings["total_s"] = time.perf_counter() - t_start
    return FitResult(params=params.detach()._map(torch.clone), vertices=out.vertices[0], joints=out.joints[0],
                     keypoints=out.keypoints[0],
                     cameras=cams, residual_px=residual, correspondences=int((score > 0).sum()), init=how,
                     stage_losses=losses, timings=timings)


class _LandmarkProblem:
    """The landmark observations as correspondences for the Levenberg-Marquardt stages
    (``refine.py``): each observed (view, landmark) is a weighted sum of the table's vertices,
    and each view's image plane is scaled so that a pixel is 1% of the person's height there."""

    def __init__(self, xy, score, cams: Cameras, scale_pct, body, table: LandmarkTable, dtype, device):
        view, mark = torch.nonzero(score > 0, as_tuple=True)
        ids = torch.as_tensor(table.vertex_ids, device=device)[mark]
        w = torch.as_tensor(table.weights, dtype=dtype, device=device)[mark]
        self.points = SkinnedPoints(body, None, w, vertex_ids=ids)
        K = cams.K.clone()
        K[:, :2] *= scale_pct[:, None, None]
        self.cameras = Cameras(K, cams.R_cam_world, cams.t_cam_world, cams.widths, cams.heights)
        self.corr = Correspondences(view=view, xy_px=xy[view, mark] * scale_pct[view, None], part=mark, face=mark,
                                    bary=w, weight=score[view, mark])


def _vertex_points(body: BodyModel, vertex_ids: torch.Tensor) -> SkinnedPoints:
    """The posed positions of ``vertex_ids`` alone: each as a corner of a face holding it."""
    faces = body.faces
    owner = torch.zeros(int(faces.max()) + 1, dtype=torch.long, device=faces.device)
    corner = torch.zeros_like(owner)
    for c in range(3):
        owner[faces[:, c]] = torch.arange(len(faces), device=faces.device)
        corner[faces[:, c]] = c
    bary = torch.nn.functional.one_hot(corner[vertex_ids], 3).to(body.dtype)
    return SkinnedPoints(body, owner[vertex_ids], bary)


def _weighted_median(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    keep = w > 0.5
    return x[keep].median() if keep.any() else torch.tensor(math.nan, dtype=x.dtype)


def _view_data(obs: Observations, dtype, device, seed: int) -> _ViewData:
    """Each view's person height (the landmarks' vertical extent, or its mask's) and the mask
    terms' inputs: a distance transform outside the mask (at most 256 px high) in image
    pixels, its image size, and sampled mask pixels. A mask may be smaller than its image
    (the same aspect): it covers the whole image."""
    import cv2

    heights, dists, fills, sizes = [], [], [], []
    rng = np.random.default_rng(seed)
    for v in range(obs.landmarks.shape[0]):
        seen = obs.scores[v] > 0.3
        pts = obs.landmarks[v][seen]
        h = float(pts[:, 1].max() - pts[:, 1].min()) if len(pts) >= 2 else 0.0
        mask = None if obs.masks is None else obs.masks[v]
        dist = fill = None
        W, H = obs.cameras.sizes[v]
        size = (W, H)
        if mask is not None:
            m = mask.cpu().numpy() > 0.5
            r = H / m.shape[0]  # mask px -> image px
            size = (m.shape[1] * r, H)
            rows = np.nonzero(m.any(1))[0]
            if len(rows):
                h = max(h, float(rows[-1] - rows[0]) * r)
            f = min(1.0, 256.0 / m.shape[0])
            small = cv2.resize(m.astype(np.uint8), None, fx=f, fy=f, interpolation=cv2.INTER_NEAREST)
            dist_px = cv2.distanceTransform((1 - small).astype(np.uint8), cv2.DIST_L2, 3) * (r / f)
            dist = torch.as_tensor(dist_px, dtype=dtype, device=device)[None, None]
            yx = np.argwhere(m)
            if len(yx):
                pick = yx[rng.choice(len(yx), size=min(300, len(yx)), replace=False)][:, ::-1]
                fill = torch.as_tensor((pick + 0.5) * r - 0.5, dtype=dtype, device=device)
        heights.append(max(h, 16.0))
        dists.append(dist)
        fills.append(fill)
        sizes.append(size)
    return _ViewData(torch.tensor(heights, dtype=dtype, device=device), dists, fills, sizes)


def _mask_loss(cams: Cameras, points: torch.Tensor, views: _ViewData, scale_pct: torch.Tensor,
               sigma: float) -> torch.Tensor:
    px, _ = cams.project(points)  # (N, P, 2)
    total, count = points.new_zeros(()), 0
    for v, (dist, fill) in enumerate(zip(views.dist, views.fill)):
        if dist is None:
            continue
        W, H = views.size[v]
        grid = torch.stack([(px[v, :, 0] + 0.5) / W * 2 - 1, (px[v, :, 1] + 0.5) / H * 2 - 1], -1)
        outside = torch.nn.functional.grid_sample(dist, grid[None, None], align_corners=False,
                                                  padding_mode="border")[0, 0, 0]
        total = total + gmof((outside * scale_pct[v]).square(), sigma).mean()
        if fill is not None:
            near = torch.cdist(fill, px[v]).min(dim=1).values
            total = total + gmof((near * scale_pct[v]).square(), sigma).mean()
        count += 1
    return total / max(count, 1)


def _initial_placement(xy, score, cams: Cameras, body: BodyModel, table: LandmarkTable, height_px):
    """Rotation, translation, scale of the rest body from the triangulated landmarks."""
    dtype, device = xy.dtype, xy.device
    with torch.no_grad():
        rest = table.positions(body(body.neutral_params(1).to(dtype=dtype, device=device)).vertices[0])
    torso = torch.tensor(table.index(TORSO), device=device)
    seen = (score > 0.5).sum(0) >= 2
    if len(cams) >= 2 and seen[torso].sum() >= 3:
        X = triangulate_landmarks(xy, score, cams)
        use = torso[seen[torso]]
        R, t, s = roma.rigid_points_registration(rest[use][None], X[use][None], compute_scaling=True)
        return R[0], t[0], s[0].clamp(0.5, 2.0), "triangulation"
    v = int(score.sum(1).argmax())  # one view: upright, in front of the camera
    c = score[v] > 0.5
    center_px = (xy[v][c] * score[v][c, None]).sum(0) / score[v][c].sum()
    depth = cams.K[v, 1, 1] * 1.6 / height_px[v]
    ray = torch.linalg.inv(cams.K[v]) @ torch.cat([center_px, center_px.new_ones(1)])
    center = cams.R_cam_world[v].T @ (ray * depth - cams.t_cam_world[v])
    li, ri = table.index(("left_shoulder", "right_shoulder"))
    facing = float(xy[v, li, 0] - xy[v, ri, 0]) > 0  # the left shoulder on the image's right
    R_wc = cams.R_cam_world[v].T
    up, right = -R_wc[:, 1], R_wc[:, 0]
    x_axis = right if facing else -right  # the body's left (+X) along the image's right when facing
    y_axis = torch.linalg.cross(up, x_axis)
    R = torch.stack([x_axis, y_axis, up], dim=1)
    mid = rest.mean(0)
    return R, center - R @ mid, torch.ones((), dtype=dtype, device=device), "one view"

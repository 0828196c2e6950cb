"""Fit a body model to real-image evidence: detector landmarks and person masks, in any
number of calibrated views, optionally with dense proxy correspondences.

The objective, per view v (residuals in percent of the person's height in that view, so
that near and far, large and small views count alike):

- landmarks: Geman-McClure of the reprojection error of each landmark of the body model's
  landmark table (``engine.landmarks``) against the detection, weighted by its score;
- mask: the body's projected vertices should stay inside the person mask (the mask's
  distance transform at each projected vertex) and fill it (each sampled mask pixel's
  distance to the nearest projected vertex);
- proxies (when given): the dense correspondences' reprojection, as in ``fit.py``;
- priors: the pose regulariser, joint-angle limits, finger coupling, shape range, scale.

Start: the landmarks triangulated across views, the rest body's landmarks aligned to them
by a similarity (one view: the body upright in front of the camera at the depth its torso's
image size gives); or a previous frame's fit. Then L-BFGS on the placement and the body at
a wide robust scale (masks included), and Levenberg-Marquardt at the narrow one (landmarks
and priors, the analytic Jacobian of ``refine.py``): the body, then everything with the
fingers. A sequence's frames start from the previous frame and run the Levenberg-Marquardt
stages only. With ``refine_cameras`` those stages also correct each camera's rotation,
position and focal length, held near the calibration (``CameraDelta``, as ``fit.py``); the
result's cameras are the corrected ones.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import roma
import torch

from engine.body.base import BodyModel, BodyParams
from engine.errors import InputError, check_finite, check_shape
from engine.fitting.correspondences import Correspondences
from engine.fitting.fit import _lbfgs
from engine.fitting.refine import lm_stage
from engine.fitting.jacobian import SkinnedPoints
from engine.fitting.objective import CameraDelta, angle_limits, finger_coupling, gmof, pose_priors, project
from engine.fitting.types import FitOptions, FitResult
from engine.fitting.variables import SCALE_PRIOR, Variables
from engine.geometry.camera import Cameras
from engine.geometry.triangulation import triangulate
from engine.proxy.lookup import surface_points

FACE = ("nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
        "left_ear", "right_ear", "mouth_left", "mouth_right")
TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_ear", "right_ear")


class LandmarkTable(Protocol):
    """What the fit reads of a body model's landmark table (``engine.landmarks.LandmarkTable``,
    which the caller loads and passes in: the fit sits below ``engine.landmarks``)."""

    names: tuple[str, ...]
    vertex_ids: np.ndarray  # (L, K) vertices each landmark mixes
    weights: np.ndarray  # (L, K) their weights

    def index(self, names) -> list[int]: ...

    def positions(self, vertices): ...


@dataclass
class Evidence:
    """N views of one person at one instant. xy (N, L, 2): the landmark table's landmarks in
    ideal pinhole pixels (lens distortion removed); score (N, L) in [0, 1], 0 where not seen;
    masks (N, H, W) in [0, 1] at the cameras' image size, or None; cameras: pinhole."""

    xy: torch.Tensor
    score: torch.Tensor
    cameras: Cameras
    masks: list[torch.Tensor | None] | None = None

    def __post_init__(self):
        check_shape("evidence.xy", self.xy, ("N", "L", 2))
        check_shape("evidence.score", self.score, self.xy.shape[:2])
        if len(self.cameras) != self.xy.shape[0]:
            raise InputError(f"evidence: {len(self.cameras)} cameras for {self.xy.shape[0]} views")
        check_finite("evidence.score", self.score)
        if (self.score > 0).sum() == 0:
            raise InputError("evidence: no landmark seen in any view")
        if not torch.isfinite(self.xy[self.score > 0]).all():
            raise InputError("evidence.xy: non-finite pixel of a landmark with a positive score")


@dataclass
class EvidenceOptions:
    # Defaults chosen on the bundled capture's held-out-camera error (docs/reconstruct.md):
    sigma_pct: float = 4.0  # robust scale of a landmark residual, % of the person's height in the view
    mask_weight: float = 0.03  # weight of each mask term against the landmarks (a clothed mask is larger)
    proxy_weight: float = 1.0  # weight of the dense proxy term (with correspondences)
    place_iters: int = 20  # L-BFGS iterations of the placement (from the triangulation)
    body_iters: int = 30  # L-BFGS iterations of the body at the wide robust scale, masks included
    lm_iters: int = 10  # Levenberg-Marquardt iterations of the body, then of the hands (landmarks only)
    face_weight: float = 1.0  # weight of the 11 face landmarks (eyes, ears, mouth, nose) against the others
    hold_shape: float = 1e3  # from a previous frame: weight of the pull of shape and scale to its (one person)
    refine_cameras: bool = False  # the LM stages also correct each camera's rotation, position, focal length
    camera_prior: float = 0.1  # keeps refined cameras near the calibration (as FitOptions.camera_prior)
    pose_prior: float = 5e-3
    limit_prior: float = 1.0
    hand_prior: float = 0.5
    mask_points: int = 600  # body vertices projected for the mask terms
    seed: int = 0
    dtype: torch.dtype = torch.float32


@dataclass
class _ViewData:
    height_px: torch.Tensor  # (N,) person's height in each view, px
    dist: list  # per view: (1, 1, h, w) distance (px) outside the mask, or None
    fill: list  # per view: (P, 2) sampled mask pixels (image px), or None
    size: list  # per view: the image's (width, height) in px


def fit_evidence(evidence: Evidence, body: BodyModel, table: LandmarkTable,
                 options: EvidenceOptions = EvidenceOptions(),
                 init: BodyParams | None = None, corr: Correspondences | None = None,
                 corr_cameras: Cameras | None = None) -> FitResult:
    t_start = time.perf_counter()
    opt = options
    dtype, device = opt.dtype, body.faces.device
    if body.dtype != dtype:
        body = copy.deepcopy(body).to(dtype=dtype)
    cams = evidence.cameras.to(dtype=dtype, device=device)
    xy, score = evidence.xy.to(device, dtype).nan_to_num(0.0), evidence.score.to(device, dtype)
    if opt.face_weight != 1.0:
        face = torch.tensor([n in FACE for n in table.names], device=device)
        score = torch.where(face, score * opt.face_weight, score)
    views = _view_data(evidence, table, dtype, device, opt.seed)
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
    limits = angle_limits(body.pose_joint_names, device, dtype)
    ccams = None if corr_cameras is None else corr_cameras.to(dtype=dtype, device=device)
    if corr is not None:
        corr = Correspondences(*(x.to(device) for x in (corr.view, corr.xy_px.to(dtype), corr.part, corr.face,
                                                        corr.bary.to(dtype), corr.weight.to(dtype))))
    scale_pct = 100.0 / views.height_px  # px -> % of the person's height, per view

    def objective(hands: bool, sigma: float) -> torch.Tensor:
        """The L-BFGS stages' loss: landmarks, masks, proxies, priors."""
        params = var.params(hands)
        posed = points(params)
        marks = (weights[..., None] * posed[:n_marks].reshape(*ids.shape, 3)).sum(1)
        px, _ = cams.project(marks)
        sq = ((px - xy).square().sum(-1)) * scale_pct[:, None] ** 2
        loss = (gmof(sq, sigma) * score).sum() / score.sum().clamp(min=1e-9)
        loss = loss + opt.mask_weight * _mask_loss(cams, posed[n_marks:], views, scale_pct, sigma)
        if corr is not None and len(corr):
            pts = surface_points(body(params).vertices, body.faces, corr.face, corr.bary)[0]
            sq_c = (project(pts, corr.view, ccams.K, ccams.R_cam_world, ccams.t_cam_world) - corr.xy_px
                    ).square().sum(-1) * (100.0 / (0.8 * ccams.height)) ** 2  # the person fills ~80% of a crop
            loss = loss + opt.proxy_weight * (gmof(sq_c, sigma) * corr.weight).sum() / corr.weight.sum()
        loss = loss + pose_priors(var.pose(hands)[None], limits, opt.pose_prior, opt.limit_prior)[0]
        loss = loss + SCALE_PRIOR * var.log_scale.square() * (len(cams) > 1) + var.shape_penalty()
        if hands:
            loss = loss + opt.hand_prior * finger_coupling(var.pose(True), var.fingers).square().sum()
        return loss

    placement = [var.rot, var.transl] + ([var.log_scale] if len(cams) > 1 else [])
    lbfgs_stages = [("place", placement, 4 * opt.sigma_pct, opt.place_iters),
                    ("body", list(var.parameters()), 2 * opt.sigma_pct, opt.body_iters)]
    if init is not None:  # a previous frame's body is close: Levenberg-Marquardt only
        lbfgs_stages = []
    losses: dict[str, list[float]] = {}
    timings = {}
    for name, params, sigma, iters in lbfgs_stages:
        t0 = time.perf_counter()
        losses[name] = _lbfgs(params, lambda: objective(False, sigma), iters, 1e-6)
        timings[f"{name}_s"] = time.perf_counter() - t0
    lm = _LandmarkProblem(xy, score, cams, scale_pct, body, table, dtype, device)
    prior = FitOptions(pose_prior=opt.pose_prior, limit_prior=opt.limit_prior, hand_prior=opt.hand_prior,
                       camera_prior=opt.camera_prior, rel_tol=1e-5, dtype=dtype)
    cam_delta = CameraDelta(len(cams), dtype, device) if opt.refine_cameras else None
    anchors = None
    if init is not None and opt.hold_shape > 0:  # the same person as the previous frame: its shape and size
        anchors = {"shape": (var.shape_free.detach().clone(), opt.hold_shape),
                   "log_scale": (var.log_scale.detach().clone().reshape(1), opt.hold_shape)}
    for name, hands in (("body_lm", False), ("hands_lm", True)):
        t0 = time.perf_counter()
        losses[name] = lm_stage(var, cam_delta, lm.corr, lm.cameras, body, limits, prior, var.free_bones(hands),
                                opt.sigma_pct, iters=opt.lm_iters, points=lm.points, anchors=anchors)
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


def _view_data(evidence: Evidence, table: LandmarkTable, dtype, device, seed: int) -> _ViewData:
    """Each view's person height (the landmarks' vertical extent, or its mask's) and the mask
    terms' inputs: a distance transform outside the mask (at most 256 px high) in image
    pixels, its image size, and sampled mask pixels. A mask may be smaller than its image
    (the same aspect): it covers the whole image."""
    import cv2

    heights, dists, fills, sizes = [], [], [], []
    rng = np.random.default_rng(seed)
    for v in range(evidence.xy.shape[0]):
        seen = evidence.score[v] > 0.3
        pts = evidence.xy[v][seen]
        h = float(pts[:, 1].max() - pts[:, 1].min()) if len(pts) >= 2 else 0.0
        mask = None if evidence.masks is None else evidence.masks[v]
        dist = fill = None
        W, H = evidence.cameras.sizes[v]
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


def triangulate_landmarks(xy: torch.Tensor, score: torch.Tensor, cams: Cameras) -> torch.Tensor:
    """``engine.geometry.triangulation`` on tensors, each view weighted by its landmark's score
    (those over 0.3): xy (N, L, 2), score (N, L) -> (L, 3), NaN where < 2 views."""
    P = cams.K @ torch.cat([cams.R_cam_world, cams.t_cam_world[..., None]], dim=2)
    w = score * (score > 0.3)
    X = triangulate(xy.detach().double().cpu().numpy(), w.detach().double().cpu().numpy(),
                    P.detach().double().cpu().numpy())
    return torch.as_tensor(X, dtype=xy.dtype, device=xy.device)

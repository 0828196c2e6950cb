"""Fit a body model to dense multi-view proxies, coarse to fine.

1. placement without a guess (``init.py``): rotation, translation, scale of the rest-pose
   template from its torso correspondences;
2. body: placement + pose of every bone but the hands' + shape (L-BFGS);
3. hands: everything, fingers included.

Each stage minimises the robust (Geman-McClure), weighted reprojection error of the proxy
surface points, plus a pose regulariser and per-bone angle limits, and ends when the loss
drops by less than ``rel_tol`` between L-BFGS rounds. With ``refine_cameras`` the stages 2-3
also correct each camera's rotation, position and focal length, held near the calibration.
"""

from __future__ import annotations

import time

import roma
import torch

from engine.body.base import BodyModel, BodyParams
from engine.fitting.correspondences import proxy_correspondences
from engine.fitting.init import TORSO_PARTS, initial_placement
from engine.fitting.lm import levenberg_marquardt
from engine.fitting.objective import CameraDelta, angle_limits, pose_priors, project, reprojection
from engine.fitting.types import FitOptions, FitResult, ProxyViews
from engine.geometry.camera import Cameras
from engine.proxy import BodyProxy, surface_points
from engine.proxy.parts import PART_ID

HAND_WORDS = ("finger", "metacarpal", "thumb", "index", "middle", "ring", "pinky")
FIXED_WORDS = ("eye", "jaw")
SCALE_PRIOR = 10.0  # pulls the global scale to 1 once the shape can explain the size


def _is_hand(name: str) -> bool:
    return any(w in name.lower() for w in HAND_WORDS)


class _Variables(torch.nn.Module):
    def __init__(self, body: BodyModel, R: torch.Tensor, t: torch.Tensor, s: torch.Tensor, dtype, device):
        super().__init__()
        names = body.pose_joint_names
        self.rot = torch.nn.Parameter(roma.rotmat_to_rotvec(R).to(dtype))
        self.transl = torch.nn.Parameter(t.to(dtype))
        self.log_scale = torch.nn.Parameter(s.log().to(dtype).reshape(()))
        self.body_pose = torch.nn.Parameter(torch.zeros(len(names), 3, dtype=dtype, device=device))
        self.shape_free = torch.nn.Parameter(torch.zeros(len(body.shape_names), dtype=dtype, device=device))
        self.hand = torch.tensor([_is_hand(n) for n in names], device=device)
        self.fixed = torch.tensor([any(w in n.lower() for w in FIXED_WORDS) for n in names], device=device)
        self.toe = torch.tensor([n.lower().startswith("toe") or "foot_" in n.lower() for n in names], device=device)
        bounds = body.shape_bounds()
        self.bounded = bounds is not None
        lo, hi = bounds if self.bounded else (None, None)
        if self.bounded:
            self.register_buffer("lo", lo.to(dtype))
            self.register_buffer("hi", hi.to(dtype))
        self.shape_free.data = body.default_shape().to(dtype)

    def shape(self) -> torch.Tensor:
        # Used directly (a sigmoid would flatten the gradient near the bounds, where real
        # people often are: Anny's muscle/weight near 0); a penalty keeps it inside.
        return self.shape_free

    def shape_penalty(self) -> torch.Tensor:
        if not self.bounded:
            return 1e-3 * self.shape_free.square().sum()
        x = self.shape_free
        return 1e3 * (torch.relu(self.lo - x).square() + torch.relu(x - self.hi).square()).sum()

    def shape_residuals(self, shape: torch.Tensor) -> torch.Tensor:
        if not self.bounded:
            return 1e-3 ** 0.5 * shape
        return 1e3 ** 0.5 * torch.cat([torch.relu(self.lo - shape), torch.relu(shape - self.hi)])

    @torch.no_grad()
    def load_flat(self, b: dict, pose: torch.Tensor) -> None:
        self.rot.copy_(b["rot"])
        self.transl.copy_(b["transl"])
        self.log_scale.copy_(b["log_scale"][0])
        self.body_pose.copy_(pose)
        self.shape_free.copy_(b["shape"])

    def clamp_shape_(self) -> None:
        if self.bounded:
            with torch.no_grad():
                self.shape_free.data = torch.maximum(torch.minimum(self.shape_free, self.hi), self.lo)

    def pose(self, hands: bool) -> torch.Tensor:
        keep = ~self.fixed & (torch.ones_like(self.hand) if hands else ~self.hand)
        return self.body_pose * keep[:, None].to(self.body_pose.dtype)

    def params(self, hands: bool = True) -> BodyParams:
        return BodyParams(global_orient=self.rot[None], transl=self.transl[None], body_pose=self.pose(hands)[None],
                          shape=self.shape()[None], scale=self.log_scale.exp()[None])


def fit(views: ProxyViews, body: BodyModel, proxy: BodyProxy, options: FitOptions = FitOptions()) -> FitResult:
    t_start = time.perf_counter()
    opt = options
    dtype, device = opt.dtype, body.faces.device
    body = body.to(dtype=dtype)
    cams = views.cameras.to(dtype=dtype, device=device)
    corr = proxy_correspondences(views.seg.to(device), views.uv.to(device, dtype), proxy.lookup,
                                 None if views.weight is None else views.weight.to(device, dtype),
                                 max_per_part=opt.max_per_part, seed=opt.seed)
    if len(corr) < 10:
        raise ValueError(f"only {len(corr)} proxy pixels map onto the body: too few to fit")
    timings = {"correspondences_s": time.perf_counter() - t_start}

    t0 = time.perf_counter()
    with torch.no_grad():
        rest = body(body.neutral_params(1).to(dtype=dtype, device=device))
        template = surface_points(rest.vertices, body.faces, corr.face, corr.bary)[0]
    torso = torch.isin(corr.part, torch.tensor([PART_ID[p] for p in TORSO_PARTS], device=device))
    R, t, s, how = initial_placement(template, corr, torso, cams, iters=opt.global_iters)
    timings["init_s"] = time.perf_counter() - t0

    var = _Variables(body, R, t, s, dtype, device)
    cam_delta = CameraDelta(len(cams), dtype, device) if opt.refine_cameras else None
    limits = angle_limits(body.pose_joint_names, device, dtype)
    losses: dict[str, list[float]] = {}

    def objective(hands: bool, sigma: float) -> torch.Tensor:
        out = body(var.params(hands))
        data, _ = reprojection(out.vertices, body.faces, corr, *_cameras(cams, cam_delta), sigma)
        loss = data[0] + pose_priors(var.pose(hands)[None], limits, opt.pose_prior, opt.limit_prior)[0]
        loss = loss + SCALE_PRIOR * var.log_scale.square() * (len(cams) > 1)
        loss = loss + var.shape_penalty()
        if cam_delta is not None:
            loss = loss + opt.camera_prior * cam_delta.prior() / max(len(corr), 1) * 10.0
        return loss

    # The robust scale is annealed: wide first, so limbs far from their pixels still pull,
    # then narrow, so that wrong proxy pixels stop pulling.
    sigmas = [s * opt.robust_sigma_px for s in (16.0, 4.0, 1.0)]
    stages = [("body", False, opt.body_iters, sigmas), ("hands", True, opt.hand_iters, sigmas[-1:])]
    params = list(var.parameters()) + (list(cam_delta.parameters()) if cam_delta is not None else [])
    for name, hands, iters, stage_sigmas in stages:
        t0 = time.perf_counter()
        losses[name] = []
        for sigma in stage_sigmas:
            losses[name] += _lbfgs(params, lambda: objective(hands, sigma), iters // len(stage_sigmas),
                                   opt.rel_tol)
        timings[f"{name}_s"] = time.perf_counter() - t0

    if opt.lm_iters > 0:
        t0 = time.perf_counter()
        losses["lm"] = _lm_refine(var, cam_delta, corr, cams, body, limits, opt)
        timings["lm_s"] = time.perf_counter() - t0

    var.clamp_shape_()
    with torch.no_grad():
        params = var.params(True)
        out = body(params)
        K, Rc, tc = _cameras(cams, cam_delta)
        _, sq = reprojection(out.vertices, body.faces, corr, K, Rc, tc, opt.robust_sigma_px)
        err = sq[0].sqrt()
        n = len(cams)
        wsum = torch.zeros(n, dtype=dtype, device=device).index_add_(0, corr.view, corr.weight)
        residual = torch.zeros(n, dtype=dtype, device=device).index_add_(0, corr.view, err * corr.weight)
        residual = residual / wsum.clamp(min=1e-9)
    timings["total_s"] = time.perf_counter() - t_start
    return FitResult(params=params.detach(), vertices=out.vertices[0], joints=out.joints[0],
                     keypoints=out.keypoints[0], cameras=Cameras(K, Rc, tc, cams.width, cams.height),
                     residual_px=residual, correspondences=len(corr), init=how, stage_losses=losses,
                     timings=timings)


def _cameras(cams: Cameras, cam_delta: CameraDelta | None):
    """K, R_cam_world, t_cam_world of the cameras as given, or as currently refined."""
    K, R, t = cams.K, cams.R_cam_world, cams.t_cam_world
    return (K, R, t) if cam_delta is None else cam_delta.apply(K, R, t)


def _lbfgs(params, closure_loss, max_iters: int, rel_tol: float, round_iters: int = 15) -> list[float]:
    """L-BFGS (strong Wolfe) in rounds of ``round_iters``; stops when a round improves the
    loss by less than ``rel_tol`` (relative) or after ``max_iters`` iterations."""
    optimizer = torch.optim.LBFGS(params, lr=1.0, max_iter=round_iters, history_size=20,
                                  line_search_fn="strong_wolfe", tolerance_grad=1e-9, tolerance_change=1e-12)

    def closure():
        optimizer.zero_grad()
        loss = closure_loss()
        loss.backward()
        return loss

    history = []
    with torch.no_grad():
        prev = float(closure_loss())
    history.append(prev)
    done = 0
    while done < max_iters:
        optimizer.step(closure)
        done += round_iters
        with torch.no_grad():
            cur = float(closure_loss())
        history.append(cur)
        if prev - cur <= rel_tol * max(abs(prev), 1e-12):
            break
        prev = cur
    return history


def _lm_refine(var: _Variables, cam_delta, corr, cams: Cameras, body: BodyModel, limits: torch.Tensor,
               opt: FitOptions) -> list[float]:
    """Levenberg-Marquardt on every free variable, the robust loss by iteratively
    reweighted least squares (Geman-McClure weights refreshed every outer round)."""
    # The toes keep their L-BFGS values: each of their 28 bones would add three
    # columns to the Jacobian (the forward-mode cost is linear in them) for little change.
    free = ~var.fixed & ~var.toe
    blocks = {"rot": var.rot, "transl": var.transl, "log_scale": var.log_scale.reshape(1),
              "pose": var.body_pose[free].reshape(-1), "shape": var.shape_free}
    if cam_delta is not None:
        blocks.update(cam_rot=cam_delta.rot.reshape(-1), cam_trans=cam_delta.trans.reshape(-1), cam_f=cam_delta.log_f)
    sizes = {k: v.numel() for k, v in blocks.items()}
    x = torch.cat([v.detach().reshape(-1) for v in blocks.values()])
    n_pose, dtype = var.body_pose.shape[0], x.dtype
    sigma2 = opt.robust_sigma_px ** 2
    multi_view = float(len(cams) > 1)
    history = []

    def unpack(x):
        out, i = {}, 0
        for k, n in sizes.items():
            out[k] = x[i:i + n]
            i += n
        pose = torch.zeros(n_pose, 3, dtype=dtype, device=x.device).index_put((free.nonzero()[:, 0],),
                                                                             out["pose"].reshape(-1, 3))
        return out, pose

    def residual_fn(irls):
        def residuals(x):
            b, pose = unpack(x)
            params = BodyParams(global_orient=b["rot"][None], transl=b["transl"][None], body_pose=pose[None],
                                shape=b["shape"][None], scale=b["log_scale"].exp())
            K, Rc, tc = cams.K, cams.R_cam_world, cams.t_cam_world
            terms = []
            if cam_delta is not None:
                K, Rc, tc = CameraDelta.apply_to(b["cam_rot"].reshape(-1, 3), b["cam_trans"].reshape(-1, 3),
                                                 b["cam_f"], K, Rc, tc)
                terms.append(CameraDelta.residuals(b["cam_rot"], b["cam_trans"], b["cam_f"])
                             * (opt.camera_prior * 10.0 / len(corr)) ** 0.5)
            verts = body(params).vertices
            pts = surface_points(verts, body.faces, corr.face, corr.bary)[0]
            diff = project(pts, corr.view, K, Rc, tc) - corr.xy_px
            terms.append((diff * irls[:, None]).reshape(-1))
            angle = (pose.square().sum(-1) + 1e-12).sqrt()
            terms += [opt.pose_prior ** 0.5 * pose.reshape(-1), (opt.limit_prior * 100) ** 0.5 * torch.relu(angle - limits),
                      (SCALE_PRIOR * multi_view) ** 0.5 * b["log_scale"], var.shape_residuals(b["shape"])]
            return torch.cat(terms)
        return residuals

    for _ in range(max(1, opt.lm_iters // 2)):
        with torch.no_grad():  # Geman-McClure IRLS weights at the current estimate
            b, pose = unpack(x)
            var.load_flat(b, pose)
            if cam_delta is not None:
                cam_delta.load_flat(b)
            _, sq = reprojection(body(var.params(True)).vertices, body.faces, corr, *_cameras(cams, cam_delta),
                                 opt.robust_sigma_px)
            irls = (corr.weight * sigma2 * sigma2 / (sigma2 + sq[0]).square() / corr.weight.sum()).sqrt()
        x, costs = levenberg_marquardt(residual_fn(irls), x, iters=2, rel_tol=opt.rel_tol)
        history += costs
    b, pose = unpack(x)
    var.load_flat(b, pose)
    if cam_delta is not None:
        cam_delta.load_flat(b)
    return history

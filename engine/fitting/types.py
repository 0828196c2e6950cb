"""What the fitting takes and gives: options and the result (the proxy views it takes are
``engine.proxy.views.ProxyViews``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from engine.body.base import BodyParams
from engine.geometry.camera import Cameras
from engine.proxy.views import ProxyViews  # noqa: F401  (re-exported: engine.fitting.ProxyViews)


@dataclass
class FitOptions:
    max_per_part: int = 48  # correspondences per view and part
    robust_sigma_px: float = 4.0  # Geman-McClure scale of the reprojection residual
    global_iters: int = 80  # Adam steps of the batched placement starts
    body_iters: int = 40  # L-BFGS iterations of the body at the two wide robust scales
    lm_iters: int = 10  # Levenberg-Marquardt iterations per stage (4 left scenes unconverged: README)
    rel_tol: float = 1e-5  # a stage ends when the loss drops by less than this (relative)
    pose_prior: float = 1e-3  # weight of the L2 pose regulariser (per pixel^2 of residual)
    limit_prior: float = 1.0  # weight of the joint-limit penalty
    hand_prior: float = 0.5  # weight of the finger-joint coupling (distal ~ 2/3 middle)
    vposer_prior: float = 0.01  # weight of VPoser's |code|^2 (SMPL-X with VPoser weights; vposer.py)
    vposer: str | None = None  # VPoser v2 folder or .ckpt (SMPL-X only; default: $DIFFPROXY_VPOSER)
    refine_cameras: bool = False
    camera_prior: float = 0.1  # keeps refined cameras near the given calibration
    seed: int = 0
    dtype: torch.dtype = torch.float32


@dataclass
class FitResult:
    params: BodyParams  # batch of 1
    vertices: torch.Tensor  # (V, 3) world
    joints: torch.Tensor  # (J, 3)
    keypoints: torch.Tensor  # (K, 3)
    cameras: Cameras  # as given, or refined
    residual_px: torch.Tensor  # (N,) weighted mean reprojection error per view
    correspondences: int
    init: str  # how the start was found
    stage_losses: dict[str, list[float]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

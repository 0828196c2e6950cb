"""What the fitting takes and gives: its options and its result (what it fits to is
``engine.fitting.observations.Observations``; the proxy views among them are
``engine.proxy.views.ProxyViews``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from engine.body.base import BodyParams
from engine.geometry.camera import Cameras
from engine.proxy.views import ProxyViews  # noqa: F401  (re-exported: engine.fitting.ProxyViews)


@dataclass
class FitOptions:
    """The options of ``engine.fitting.fit``, one set for both of its schedules (dense proxies
    alone; landmarks with masks and optionally proxies). ``FitOptions()`` is the proxy
    schedule's tuning, ``FitOptions.for_landmarks()`` the landmark schedule's: they differ
    in the fields of ``LANDMARK_TUNING``, and ``fit`` without options takes the one for what
    its observations hold. A field marked (proxies) or (landmarks) is read by that schedule only."""

    # both schedules
    body_iters: int = 40  # L-BFGS iterations of the body at the wide robust scale(s)
    lm_iters: int = 10  # Levenberg-Marquardt iterations per stage (4 left scenes unconverged: README)
    rel_tol: float = 1e-5  # a Levenberg-Marquardt stage ends when the loss drops by less than this (relative)
    lbfgs_rel_tol: float | None = None  # the same for the L-BFGS stages; None: rel_tol
    pose_prior: float = 1e-3  # weight of the L2 pose regulariser
    limit_prior: float = 1.0  # weight of the joint-limit penalty (the body model's joint_limits)
    hand_prior: float = 0.5  # weight of the finger-joint coupling (distal ~ 2/3 middle)
    vposer_prior: float = 0.01  # weight of VPoser's |code|^2 (SMPL-X with VPoser weights; vposer.py); 0: off
    vposer: str | None = None  # VPoser v2 folder or .ckpt (SMPL-X only; default: $DIFFPROXY_VPOSER)
    refine_cameras: bool = False  # the Levenberg-Marquardt stages also correct each camera
    camera_prior: float = 0.1  # keeps refined cameras near the given calibration
    seed: int = 0
    dtype: torch.dtype = torch.float32
    # (proxies)
    max_per_part: int = 48  # correspondences per view and part sampled from proxy images
    robust_sigma_px: float = 4.0  # Geman-McClure scale of the reprojection residual, body views' px
    global_iters: int = 80  # Adam steps of the batched placement starts
    # (landmarks), chosen on the bundled capture's held-out-camera error (docs/reconstruct.md)
    sigma_pct: float = 4.0  # robust scale of a landmark residual, % of the person's height in the view
    mask_weight: float = 0.03  # weight of each mask term against the landmarks (a clothed mask is larger)
    proxy_weight: float = 1.0  # weight of the dense proxy term (with proxies)
    place_iters: int = 20  # L-BFGS iterations of the placement (one view, or lift_weight 0)
    face_weight: float = 1.0  # weight of the 11 face landmarks (eyes, ears, mouth, nose) against the others
    hold_shape: float = 1e3  # from a previous frame: weight of the pull of shape and scale to its (one person)
    mask_points: int = 600  # body vertices projected for the mask terms
    lift_weight: float = 10.0  # weight of the 3D term of the triangulated landmarks (lift.py), first stages; 0: off

    @classmethod
    def for_proxies(cls, **overrides) -> "FitOptions":
        """The proxy schedule's tuning (the class defaults), with ``overrides``."""
        return cls(**overrides)

    @classmethod
    def for_landmarks(cls, **overrides) -> "FitOptions":
        """The landmark schedule's tuning (``LANDMARK_TUNING`` over the class defaults), with ``overrides``."""
        return cls(**{**LANDMARK_TUNING, **overrides})


# Where the landmark schedule's tuning differs from the class defaults (the proxy schedule's):
# a heavier pose regulariser, fewer body iterations, a tighter L-BFGS stop, and no VPoser
# (the landmark schedule was tuned without it).
LANDMARK_TUNING = {"pose_prior": 5e-3, "body_iters": 30, "lbfgs_rel_tol": 1e-6, "vposer_prior": 0.0}


@dataclass
class FitResult:
    params: BodyParams  # batch of 1
    vertices: torch.Tensor  # (V, 3) world
    joints: torch.Tensor  # (J, 3)
    keypoints: torch.Tensor  # (K, 3)
    cameras: Cameras  # as given, or refined
    residual_px: torch.Tensor  # (N,) per view: proxies: weighted mean reprojection error; landmarks: median
    correspondences: int  # proxies: correspondences fitted; landmarks: landmark observations
    init: str  # how the start was found
    stage_losses: dict[str, list[float]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

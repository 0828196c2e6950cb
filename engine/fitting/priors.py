"""The fit's priors, assembled once per fit (``Priors``) and read by both schedules of
``fit.py``, in their L-BFGS stages as one scalar (``loss``) and in their Levenberg-Marquardt
stages as residuals whose squares sum to the same terms (``residuals``, ``refine.py``):

- the L2 pose regulariser (``pose_prior``);
- the joint limits, from the body model (``BodyModel.joint_limits``): a penalty on each bone's
  rotation angle beyond its bound (``limit_prior``);
- the global scale near 1 when several views fix the size (``SCALE_PRIOR``), the shape in its range;
- the finger-joint coupling (``hand_prior``), when the fingers are free;
- VPoser's code near its origin (``vposer_prior``; SMPL-X with the user's VPoser weights);
- refined cameras near their calibration (``camera_prior``);
- anchors: a pull of variables towards given values (a previous frame's shape and scale).
"""

from __future__ import annotations

import torch

from engine.body.base import BodyModel
from engine.fitting.objective import CameraDelta, finger_coupling, pose_priors
from engine.fitting.types import FitOptions
from engine.fitting.variables import SCALE_PRIOR, Variables
from engine.fitting.vposer import vposer_code, vposer_for


class Priors:
    def __init__(self, body: BodyModel, options: FitOptions, multi_view: bool, dtype, device,
                 anchors: dict[str, tuple[torch.Tensor, float]] | None = None):
        """``multi_view``: more than one view (the scale prior holds); ``anchors``: variable
        ("shape", "log_scale") -> (target, weight)."""
        self.opt = options
        self.limits = body.joint_limits().max_angle(dtype=dtype, device=device)  # (P,) radians per pose bone
        self.vposer = vposer_for(body, options.vposer, dtype, device) if options.vposer_prior > 0 else None
        self.multi_view = multi_view
        self.anchors = anchors or {}

    def loss(self, data: torch.Tensor, var: Variables, hands: bool, cam_delta: CameraDelta | None = None,
             n_corr: int = 1) -> torch.Tensor:
        """``data`` plus the priors of ``var`` (the bones the stage frees: the hands only when
        ``hands``) and of ``cam_delta`` (cameras refined against ``n_corr`` observations)."""
        opt = self.opt
        pose = var.pose(hands)
        loss = data + pose_priors(pose[None], self.limits, opt.pose_prior, opt.limit_prior)[0]
        loss = loss + SCALE_PRIOR * var.log_scale.square() * self.multi_view
        loss = loss + var.shape_penalty()
        if hands:
            loss = loss + opt.hand_prior * finger_coupling(var.pose(True), var.fingers).square().sum()
        if self.vposer is not None:
            loss = loss + opt.vposer_prior * vposer_code(self.vposer, pose).square().sum()
        if cam_delta is not None:
            loss = loss + opt.camera_prior * cam_delta.prior() / max(n_corr, 1) * 10.0
        values = {"shape": var.shape_free, "log_scale": var.log_scale.reshape(1)}
        for name, (target, weight) in self.anchors.items():
            loss = loss + weight * (values[name] - target).square().sum()
        return loss

    def residuals(self, b: dict[str, torch.Tensor], body_pose: torch.Tensor, bones: torch.Tensor, var: Variables,
                  n_corr: int) -> torch.Tensor:
        """The priors as residuals of a Levenberg-Marquardt stage's variables ``b`` (``refine.Problem``
        packing: the pose of ``bones``, log scale, shape, camera corrections when refined);
        ``body_pose`` (P, 3): every bone's pose, those not free at their current values."""
        opt = self.opt
        pose = b["pose"].reshape(-1, 3)
        angle = (pose.square().sum(-1) + 1e-12).sqrt()
        terms = [opt.pose_prior ** 0.5 * b["pose"],
                 (opt.limit_prior * 100) ** 0.5 * torch.relu(angle - self.limits[bones]),
                 (SCALE_PRIOR * float(self.multi_view)) ** 0.5 * b["log_scale"], var.shape_residuals(b["shape"]),
                 opt.hand_prior ** 0.5 * finger_coupling(body_pose, var.fingers)]
        if self.vposer is not None:
            terms.append(opt.vposer_prior ** 0.5 * vposer_code(self.vposer, body_pose))
        if "cam_rot" in b:
            terms.append(CameraDelta.residuals(b["cam_rot"], b["cam_trans"], b["cam_f"])
                         * (opt.camera_prior * 10.0 / n_corr) ** 0.5)
        for name, (target, weight) in self.anchors.items():
            terms.append(weight ** 0.5 * (b[name] - target).reshape(-1))
        return torch.cat(terms)

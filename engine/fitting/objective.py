"""The fitting's objective terms: robust, weighted reprojection of proxy surface points, and
the priors' terms (pose regulariser and joint-angle limits, finger coupling, cameras near
their calibration), which ``priors.py`` assembles."""

from __future__ import annotations

import math
import re

import roma
import torch

from engine.fitting.correspondences import Correspondences
from engine.geometry.camera import project_points


def project(points: torch.Tensor, view: torch.Tensor, K: torch.Tensor, R: torch.Tensor,
            t: torch.Tensor) -> torch.Tensor:
    """points (..., M, 3) world, each seen by camera ``view`` (M,) -> pixels (..., M, 2); depths
    clamped at 1 mm (points behind a camera get a large, finite residual)."""
    return project_points(points, K[view], R[view], t[view], min_depth=1e-3)[0]


def gmof(sq_residual: torch.Tensor, sigma: float) -> torch.Tensor:
    """Geman-McClure on squared residuals: ~r^2 near 0, saturating at sigma^2 for outliers."""
    s2 = sigma * sigma
    return s2 * sq_residual / (s2 + sq_residual)


def reprojection(points: torch.Tensor, corr: Correspondences, K, R, t, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted mean robust loss (B,) and the squared residuals (B, M) of the correspondences'
    posed surface points (B, M, 3)."""
    sq = (project(points, corr.view, K, R, t) - corr.xy_px).square().sum(-1)
    w = corr.weight.to(sq.dtype)
    return (gmof(sq, sigma) * w).sum(-1) / w.sum().clamp(min=1e-9), sq


def pose_priors(body_pose: torch.Tensor, limits: torch.Tensor, pose_weight: float,
                limit_weight: float) -> torch.Tensor:
    angle = body_pose.norm(dim=-1)  # (B, P)
    over = torch.relu(angle - limits)
    return pose_weight * body_pose.square().sum((-1, -2)) + limit_weight * over.square().sum(-1) * 100.0


# Couplings of the finger joints (not the thumb), as (joint, partner, ratio): the distal
# joint flexes about two thirds as far as the middle one (tendon coupling, e.g. Rijpkema &
# Girard 1991; Lee & Kunii 1995), and the middle joint flexes with the knuckle (the first
# postural synergy of the hand, Santello et al. 1998). Weak priors: they decide the joints
# no view sees (the tucked-in phalanges of a fist), the proxies decide the others.
DISTAL_COUPLING = 2.0 / 3.0
MIDDLE_COUPLING = 1.0
_COUPLINGS = {3: (2, DISTAL_COUPLING), 2: (1, MIDDLE_COUPLING)}  # joint -> (partner, ratio)
_FINGER = (re.compile(r"^finger[2-5]-(\d)\.[LR]$"), re.compile(r"^(?:left|right)_(?:index|middle|ring|pinky)(\d)$"))


def finger_pairs(pose_joint_names: tuple[str, ...]) -> tuple[list[int], list[int], list[float]]:
    """(joint, partner, ratio) bone indices of the couplings of the four fingers: Anny's
    ``fingerK-J.S`` (K = 2..5), SMPL-X's ``left_indexJ``; J = 1 knuckle, 2 middle, 3 distal."""
    index = {n: i for i, n in enumerate(pose_joint_names)}
    joint, partner, ratio = [], [], []
    for name, i in index.items():
        match = next((m for m in (pattern.match(name) for pattern in _FINGER) if m), None)
        if match is None or int(match.group(1)) not in _COUPLINGS:
            continue
        parent, r = _COUPLINGS[int(match.group(1))]
        other = name[: match.start(1)] + str(parent) + name[match.end(1):]
        if other in index:
            joint.append(i)
            partner.append(index[other])
            ratio.append(r)
    return joint, partner, ratio


def finger_coupling(body_pose: torch.Tensor, pairs: tuple[list[int], list[int], list[float]]) -> torch.Tensor:
    """(..., 3 * couplings): each joint's rotation minus its ratio x its partner's."""
    joint, partner, ratio = pairs
    r = torch.as_tensor(ratio, dtype=body_pose.dtype, device=body_pose.device)[:, None]
    return (body_pose[..., joint, :] - r * body_pose[..., partner, :]).flatten(-2)


class CameraDelta(torch.nn.Module):
    """Small corrections of N calibrated cameras: rotation, translation, focal scale."""

    # The expected calibration error the prior is scaled by: 2 degrees, 2 cm, 3% focal.
    SCALE = (math.radians(2.0), 0.02, 0.03)

    def __init__(self, n: int, dtype, device):
        super().__init__()
        self.rot = torch.nn.Parameter(torch.zeros(n, 3, dtype=dtype, device=device))
        self.trans = torch.nn.Parameter(torch.zeros(n, 3, dtype=dtype, device=device))
        self.log_f = torch.nn.Parameter(torch.zeros(n, dtype=dtype, device=device))

    def apply(self, K, R, t):
        return self.apply_to(self.rot, self.trans, self.log_f, K, R, t)

    @staticmethod
    def apply_to(rot, trans, log_f, K, R, t):
        dR = roma.rotvec_to_rotmat(rot)
        focal = torch.zeros_like(K[0])
        focal[0, 0] = focal[1, 1] = 1.0
        K = K + (log_f.exp() - 1)[:, None, None] * K * focal  # fx, fy scaled; principal point kept
        return K, dR @ R, torch.einsum("nij,nj->ni", dR, t) + trans

    def prior(self) -> torch.Tensor:
        return self.residuals(self.rot, self.trans, self.log_f).square().sum()

    @classmethod
    def residuals(cls, rot, trans, log_f) -> torch.Tensor:
        a, b, c = cls.SCALE
        return torch.cat([(rot / a).reshape(-1), (trans / b).reshape(-1), (log_f / c).reshape(-1)])

    @torch.no_grad()
    def load_flat(self, b: dict) -> None:
        self.rot.copy_(b["cam_rot"].reshape(-1, 3))
        self.trans.copy_(b["cam_trans"].reshape(-1, 3))
        self.log_f.copy_(b["cam_f"])

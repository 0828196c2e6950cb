"""The fitting's free variables: placement (rotation, translation, log scale), the pose of
every bone, and the shape, with the masks that say which bones each stage frees (hands,
toes, bones held at rest) and the shape's valid range."""

from __future__ import annotations

import roma
import torch

from engine.body.base import BodyModel, BodyParams
from engine.fitting.objective import finger_pairs

HAND_WORDS = ("finger", "metacarpal", "thumb", "index", "middle", "ring", "pinky")
# bones held at rest: the eyes and jaw (no evidence), and Anny's pelvis.L/.R (the hip sockets, which
# do not turn in a real pelvis: freed, the fit swung a crouching person's hips 0.5 m aside with them)
FIXED_WORDS = ("eye", "jaw", "pelvis.")
SCALE_PRIOR = 10.0  # pulls the global scale to 1 once the shape can explain the size


def is_hand(name: str) -> bool:
    return any(w in name.lower() for w in HAND_WORDS)


class Variables(torch.nn.Module):
    def __init__(self, body: BodyModel, R: torch.Tensor, t: torch.Tensor, s: torch.Tensor, dtype, device):
        super().__init__()
        names = body.pose_joint_names
        self.rot = torch.nn.Parameter(roma.rotmat_to_rotvec(R).to(dtype))
        self.transl = torch.nn.Parameter(t.to(dtype))
        self.log_scale = torch.nn.Parameter(s.log().to(dtype).reshape(()))
        self.body_pose = torch.nn.Parameter(torch.zeros(len(names), 3, dtype=dtype, device=device))
        self.shape_free = torch.nn.Parameter(torch.zeros(len(body.shape_names), dtype=dtype, device=device))
        self.hand = torch.tensor([is_hand(n) for n in names], device=device)
        self.fixed = torch.tensor([any(w in n.lower() for w in FIXED_WORDS) for n in names], device=device)
        self.toe = torch.tensor([n.lower().startswith("toe") or "foot_" in n.lower() for n in names], device=device)
        self.fingers = finger_pairs(names)
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
        return self.shape_residuals(self.shape_free).square().sum()

    def shape_residuals(self, shape: torch.Tensor) -> torch.Tensor:
        """Residuals whose squares sum to the shape penalty: outside the model's range, or
        (unbounded models) distance from 0."""
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

    def free_bones(self, hands: bool) -> torch.Tensor:
        """Indices of the bones a Levenberg-Marquardt stage optimises (hands only when
        ``hands``). The toes keep their L-BFGS values: weakly seen, they only slow LM down."""
        return (self._posable(hands) & ~self.toe).nonzero()[:, 0]

    def _posable(self, hands: bool) -> torch.Tensor:
        return ~self.fixed & (torch.ones_like(self.hand) if hands else ~self.hand)

    def pose(self, hands: bool) -> torch.Tensor:
        return self.body_pose * self._posable(hands)[:, None].to(self.body_pose.dtype)

    def params(self, hands: bool = True) -> BodyParams:
        return BodyParams(global_orient=self.rot[None], transl=self.transl[None], body_pose=self.pose(hands)[None],
                          shape=self.shape()[None], scale=self.log_scale.exp()[None])



"""The body-model protocol: every parameter passed to ``forward``, outputs as a dataclass.

Canonical model frame (all body models): metres, Z up, the body faces -Y, its left side
is +X, and the root joint (pelvis) sits at the origin. World placement is a similarity
applied on top: ``x_world = scale * R(global_orient) @ x_model + transl``.

Rotations are given either as axis-angle (``(..., 3)``) or in the 6D form of Zhou et al.
(``(..., 6)``: the first two columns of the rotation matrix, ``[R[:, 0], R[:, 1]]``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import roma
import torch

from engine.body.joint_limits import JointLimits
from engine.errors import InputError, check_finite, check_shape


def rotation_matrices(name: str, rot: torch.Tensor) -> torch.Tensor:
    """Axis-angle ``(..., 3)`` or 6D ``(..., 6)`` -> rotation matrices ``(..., 3, 3)``."""
    if rot.shape[-1] == 3:
        return roma.rotvec_to_rotmat(rot)
    if rot.shape[-1] == 6:
        columns = rot.reshape(*rot.shape[:-1], 2, 3).transpose(-1, -2)
        return roma.special_gramschmidt(columns)
    raise InputError(f"{name}: last dimension must be 3 (axis-angle) or 6 (6D), got {tuple(rot.shape)}")


def matrix_to_6d(R: torch.Tensor) -> torch.Tensor:
    return torch.cat([R[..., :, 0], R[..., :, 1]], dim=-1)


@dataclass
class BodyParams:
    """Parameters of a batch of bodies (B bodies).

    global_orient: (B, 3|6) rotation of the body in the world.
    transl: (B, 3) world position of the root joint.
    body_pose: (B, P, 3|6) local rotation of every posable joint except the root, in the
        body model's joint order (``BodyModel.pose_joint_names``).
    shape: (B, S) shape coefficients (Anny: phenotype values in [0, 1]; SMPL-X: betas).
    scale: (B,) global scale, or None for 1.
    """

    global_orient: torch.Tensor
    transl: torch.Tensor
    body_pose: torch.Tensor
    shape: torch.Tensor
    scale: torch.Tensor | None = None

    @property
    def batch_size(self) -> int:
        return self.transl.shape[0]

    def _map(self, fn) -> "BodyParams":
        return replace(self, **{f.name: None if getattr(self, f.name) is None else fn(getattr(self, f.name))
                                for f in fields(self)})

    def to(self, *args, **kwargs) -> "BodyParams":
        return self._map(lambda x: x.to(*args, **kwargs))

    def detach(self) -> "BodyParams":
        return self._map(torch.Tensor.detach)


@dataclass
class BodyOutput:
    """A posed batch of bodies, in world coordinates.

    vertices: (B, V, 3); joints: (B, J, 3) skeleton joints (``joint_names``);
    keypoints: (B, K, 3) named surface keypoints (``keypoint_names``), the same names for
    every body model; bone_transforms: (B, J, 4, 4) world pose of each joint, or None.
    faces (F, 3), uv_coords (T, 2) and uv_faces (F, 3) are the model's topology.
    """

    vertices: torch.Tensor
    joints: torch.Tensor
    keypoints: torch.Tensor
    faces: torch.Tensor
    uv_coords: torch.Tensor
    uv_faces: torch.Tensor
    bone_transforms: torch.Tensor | None = None


@dataclass
class SkinningState:
    """What an analytic Jacobian of a linear-blend-skinned body needs, for one body in the
    canonical model frame: the shaped rest vertices (V, 3), each bone's skinning transform
    (J, 4, 4) and posed head (J, 3), the bones' parents (J,) (-1 for the root), and the
    sparse skinning weights: bone indices and weights (V, S).
    Posed vertex v = sum_s weight[v, s] * transforms[index[v, s]] @ rest[v]."""

    rest_vertices: torch.Tensor
    transforms: torch.Tensor
    heads: torch.Tensor
    parents: torch.Tensor
    bone_index: torch.Tensor
    bone_weight: torch.Tensor


# Names shared by every body model, so metrics compare across models.
KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe", "left_heel", "right_heel",
    "left_thumb", "left_index", "left_middle", "left_ring", "left_pinky",
    "right_thumb", "right_index", "right_middle", "right_ring", "right_pinky",
)


class BodyModel(torch.nn.Module):
    """Base of the body models. Subclasses set the class attributes and implement
    ``_posed_model_frame``; the world placement and input checks live here, once."""

    name: str
    joint_names: tuple[str, ...]
    pose_joint_names: tuple[str, ...]
    shape_names: tuple[str, ...]
    keypoint_names: tuple[str, ...] = KEYPOINT_NAMES

    faces: torch.Tensor
    uv_coords: torch.Tensor
    uv_faces: torch.Tensor

    @property
    def dtype(self) -> torch.dtype:
        return self.uv_coords.dtype

    @property
    def device(self) -> torch.device:
        return self.uv_coords.device

    def shape_bounds(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Valid range of the shape coefficients, (low, high), or None when unbounded."""
        return None

    def default_shape(self) -> torch.Tensor:
        return torch.zeros(len(self.shape_names), dtype=self.dtype, device=self.device)

    def joint_limits(self) -> JointLimits:
        """The model's joint limits: the fit's rotation bound per pose bone and the pose
        sampler's anatomical ranges on its bones (``joint_limits.py``)."""
        return JointLimits(self.name, tuple(self.pose_joint_names))

    def neutral_params(self, batch_size: int = 1, rot_dim: int = 3) -> BodyParams:
        """Rest pose, default shape, at the origin, unit scale."""
        kw = dict(dtype=self.dtype, device=self.device)
        identity = torch.zeros(rot_dim, **kw) if rot_dim == 3 else matrix_to_6d(torch.eye(3, **kw))
        return BodyParams(
            global_orient=identity.expand(batch_size, rot_dim).clone(),
            transl=torch.zeros(batch_size, 3, **kw),
            body_pose=identity.expand(batch_size, len(self.pose_joint_names), rot_dim).clone(),
            shape=self.default_shape().expand(batch_size, -1).clone(),
            scale=torch.ones(batch_size, **kw),
        )

    def check_params(self, params: BodyParams) -> None:
        B = params.transl.shape[0] if isinstance(params.transl, torch.Tensor) else None
        check_shape("transl", params.transl, (B, 3))
        check_shape("global_orient", params.global_orient, (B, None))
        check_shape("body_pose", params.body_pose, (B, len(self.pose_joint_names), None))
        check_shape("shape", params.shape, (B, len(self.shape_names)))
        if params.scale is not None:
            check_shape("scale", params.scale, (B,))
        for f in fields(params):
            value = getattr(params, f.name)
            if value is None:
                continue
            if value.dtype != self.dtype:
                raise InputError(f"{f.name}: dtype {value.dtype} does not match the body model's {self.dtype}")
            check_finite(f.name, value)

    def forward(self, params: BodyParams) -> BodyOutput:
        self.check_params(params)
        R_pose = rotation_matrices("body_pose", params.body_pose)
        vertices, joints, keypoints, transforms = self._posed_model_frame(R_pose, params.shape)
        R = rotation_matrices("global_orient", params.global_orient)  # (B, 3, 3)
        s = params.scale if params.scale is not None else torch.ones_like(params.transl[:, 0])
        t = params.transl

        def place(x: torch.Tensor) -> torch.Tensor:
            return s[:, None, None] * torch.einsum("bij,bnj->bni", R, x) + t[:, None, :]

        if transforms is not None:
            world = torch.zeros_like(transforms)
            world[..., :3, :3] = R[:, None] @ transforms[..., :3, :3]
            world[..., :3, 3] = place(transforms[..., :3, 3])
            world[..., 3, 3] = 1
            transforms = world
        return BodyOutput(
            vertices=place(vertices), joints=place(joints), keypoints=place(keypoints),
            faces=self.faces, uv_coords=self.uv_coords, uv_faces=self.uv_faces,
            bone_transforms=transforms,
        )

    def skinning_state(self, params: BodyParams, subset=None) -> SkinningState | None:
        """The skinning of the first body of ``params`` (model frame), or None where the model
        does not expose it (the fitting then differentiates the forward pass instead). With
        ``subset`` (from ``vertex_subset``) the state's per-vertex fields hold those vertices only."""
        return None

    def vertex_subset(self, vertices: torch.Tensor):
        """What ``skinning_state`` needs to skin only ``vertices`` (ids, in that order), prepared once."""
        return None

    def _posed_model_frame(self, R_pose: torch.Tensor, shape: torch.Tensor):
        """Pose in the canonical model frame (root at the origin).

        Returns vertices (B, V, 3), joints (B, J, 3), keypoints (B, K, 3) and joint
        transforms (B, J, 4, 4) or None."""
        raise NotImplementedError  # abstract: every body model implements it

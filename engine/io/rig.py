"""The fit as a rig, for fit.npz: the body model's bones in their rest pose, the skinning, and
each frame's bone poses, in the user's frame and units, readable with numpy alone.

Anny skins linearly: posed vertex = sum_j w_j (pose_j @ inv(rest_j)) @ rest vertex, with
``rest_j`` Anny's rest bone pose (each bone's +Y runs along the bone, Blender's convention)
and ``pose_j`` the forward pass's ``bone_transforms``. The global scale is folded into the rest
(heads and mesh scaled, rotations kept), so every matrix stays rigid.

One rest shape per sequence: the first frame's shape and scale. Every frame is posed with
that shape (its own rotations and root translation), so the rig is exact at the first frame
and at frames with the same shape; ``rig_vertex_error`` (T,) says how far it lies from the
fitted vertices elsewhere (user units; the shape's drift from frame to frame).

The rest pose stands on the floor (its lowest vertex at up = 0) with the root above the origin.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.body.base import BodyParams

LEAF = 0.6  # a bone that reaches nothing is this fraction of its parent's length
ROOT_LENGTH = 0.1  # metres: the root bone (its children start at its head)


def skin(rest_vertices, skin_index, skin_weight, rest, pose) -> np.ndarray:
    """Linear blend skinning: (V, 3) rest vertices, (V, S) bones and weights, (J, 4, 4) rest
    and (J, 4, 4) or (T, J, 4, 4) poses -> (V, 3) or (T, V, 3)."""
    if pose.ndim == 4:
        return np.stack([skin(rest_vertices, skin_index, skin_weight, rest, p) for p in pose])
    T = (pose @ np.linalg.inv(rest))[:, :3]  # (J, 3, 4)
    M = np.einsum("vs,vsij->vij", skin_weight, T[skin_index])
    return np.einsum("vij,vj->vi", M[..., :3], rest_vertices) + M[..., 3]


def _to_user(M: np.ndarray, world, offset=0.0) -> np.ndarray:
    """Engine-frame rigid matrices (..., 4, 4) -> the user's frame (x_user = u R^T x_engine)."""
    R, u = world.R_engine_user, world.units_per_metre
    out = M.copy()
    out[..., :3, :3] = R.T @ M[..., :3, :3]
    out[..., :3, 3] = u * (M[..., :3, 3] + offset) @ R
    return out


def _lengths(rest: np.ndarray, parents: np.ndarray, vertices: np.ndarray, dominant: np.ndarray) -> np.ndarray:
    """Each bone's length along its own +Y: to its farthest child's head (children that have
    children of their own); else (leaves, the head whose children are the eyes) as far as the
    vertices it moves most; else a part of its parent's length (the root: a fixed one)."""
    heads, axes = rest[:, :3, 3], rest[:, :3, 1]
    leaf = ~np.isin(np.arange(len(parents)), parents)
    length = np.zeros(len(parents))
    for j in range(len(parents)):
        reach = [(heads[c] - heads[j]) @ axes[j] for c in np.flatnonzero((parents == j) & ~leaf)]
        extent = (vertices[dominant == j] - heads[j]) @ axes[j]
        length[j] = max(reach) if reach and max(reach) > 1e-4 else (extent.max() if extent.size else 0.0)
        if length[j] <= 1e-4:  # parents come before their children
            length[j] = ROOT_LENGTH if parents[j] < 0 else LEAF * length[parents[j]]
    return length


@torch.no_grad()
def rig_arrays(body, params: BodyParams, world, vertices_user: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The rig of a fit: params (T,) in the engine's frame; vertices_user (T, V, 3), the fitted
    vertices in the user's frame, to measure ``rig_vertex_error``. {} for a body model without
    an exposed rig (only Anny has one here)."""
    m = getattr(body, "anny", None)
    if m is None:
        return {}
    n = params.batch_size
    shape = params.shape[:1].to(body.dtype)
    s = float(params.scale[0]) if params.scale is not None else 1.0
    identity = torch.eye(3, dtype=body.dtype, device=body.device).expand(1, len(body.pose_joint_names), 3, 3)
    rest_model = m(pose_parameters=body._pose_matrices(identity), phenotype_kwargs=shape)
    rest = rest_model["rest_bone_poses"][0].double().cpu().numpy()
    verts = s * rest_model["rest_vertices"][0].double().cpu().numpy()
    rest[:, :3, 3] *= s
    offset = np.array([-rest[0, 0, 3], -rest[0, 1, 3], -verts[:, 2].min()])  # on the floor, root over the origin
    same = BodyParams(params.global_orient, params.transl, params.body_pose, shape.expand(n, -1),
                      torch.full((n,), s, dtype=body.dtype, device=body.device))
    pose = body(same.to(dtype=body.dtype)).bone_transforms.double().cpu().numpy()
    parents = np.asarray(m.bone_parents, np.int32)
    dominant = body.skinning_weights().argmax(1).cpu().numpy()
    out = {"rig_bone_names": np.array(body.joint_names), "rig_parents": parents,
           "rig_rest": _to_user(rest, world, offset), "rig_pose": _to_user(pose, world),
           "rig_length": world.units_per_metre * _lengths(rest, parents, verts, dominant),
           "rest_vertices": world.units_per_metre * (verts + offset) @ world.R_engine_user,
           "skin_index": m.vertex_bone_indices.cpu().numpy().astype(np.int32),
           "skin_weight": m.vertex_bone_weights.double().cpu().numpy().astype(np.float32)}
    if vertices_user is not None:
        posed = skin(out["rest_vertices"], out["skin_index"], out["skin_weight"].astype(np.float64),
                     out["rig_rest"], out["rig_pose"])
        out["rig_vertex_error"] = np.linalg.norm(posed - vertices_user, axis=-1).max(axis=-1)
    return out

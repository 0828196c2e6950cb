"""The analytic Jacobian of posed surface points for a linear-blend-skinned body.

A surface point is p = sum_f bary_f * v_f, and each posed vertex is a weighted sum over
bones of ``T_j @ rest_v``. Turning bone k by a small world rotation w (about its head h_k)
moves every descendant's share of the point rigidly, so

    dp / d theta_k = w_k(theta) x (U_k - W_k h_k),   U_k = sum_{j desc. of k} w_j T_j rest,

with W_k the summed skinning weight of those descendants and ``A_k = d w_k / d theta_k``
the 3x3 map from the bone's own parameters to the world rotation it adds. ``A_k`` is read
off one forward-mode pass whose three tangents turn every bone about one axis at once (each
bone's contribution is its rotation rate minus its parent's), so the model's pose
parameterisation need not be known here; the same pass carries the shape columns (a
handful). The cost is two forward passes (the skinning state, the forward-mode pass with
3 + S tangents) and a dense (points x bones) product, instead of a pass per parameter.
"""

from __future__ import annotations

import torch
from torch.func import jacfwd

from engine.body.base import BodyModel, BodyParams, SkinningState, rotation_matrices


def descendants(parents: torch.Tensor) -> torch.Tensor:
    """(J, J) bool: D[k, j] is True when bone j is k or lies below it. Parents precede children."""
    n = len(parents)
    D = torch.eye(n, dtype=torch.bool, device=parents.device)
    for j in range(n):  # walk up from each bone; J ~ 100, done once per call
        p = int(parents[j])
        while p >= 0:
            D[p, j] = True
            p = int(parents[p])
    return D


def left_jacobian(r: torch.Tensor) -> torch.Tensor:
    """SO(3) left Jacobian at rotation vector r: d(world rotation)/d r."""
    theta2 = r.square().sum()
    theta = theta2.clamp(min=1e-24).sqrt()
    K = torch.zeros(3, 3, dtype=r.dtype, device=r.device)
    K[0, 1], K[0, 2], K[1, 0], K[1, 2], K[2, 0], K[2, 1] = -r[2], r[1], r[2], -r[0], -r[1], r[0]
    small = theta2 < 1e-12
    a = torch.where(small, 0.5 - theta2 / 24, (1 - torch.cos(theta)) / theta2.clamp(min=1e-24))
    b = torch.where(small, 1 / 6 - theta2 / 120, (theta - torch.sin(theta)) / (theta2 * theta).clamp(min=1e-36))
    return torch.eye(3, dtype=r.dtype, device=r.device) + a * K + b * (K @ K)


def _forward_rates(body: BodyModel, params: BodyParams, faces: torch.Tensor, bary: torch.Tensor):
    """One forward-mode pass with 3 + S tangents: every bone's pose parameter i turned at
    once (i = 0, 1, 2), and each shape coefficient. -> the bones' world rotation rates
    (J, 3, 3) (column i: tangent i) and the points' shape Jacobian (M, 3, S)."""
    base, shape0 = params.body_pose[:1], params.shape[0]

    def posed(z):
        p = BodyParams(params.global_orient[:1], params.transl[:1], base + z[:3], z[3:][None],
                       None if params.scale is None else params.scale[:1])
        out = body(p)
        Q = out.bone_transforms[0, :, :3, :3]
        points = torch.einsum("mfc,mf->mc", out.vertices[0][body.faces[faces]], bary)
        return (Q, points), Q.detach()

    z0 = torch.cat([torch.zeros(3, dtype=base.dtype, device=base.device), shape0])
    (dQ, d_points), Q = jacfwd(posed, has_aux=True)(z0)
    S = torch.einsum("jabz,jcb->jacz", dQ[..., :3], Q)  # dQ Q^T: skew rate per tangent
    omega = torch.stack([S[:, 2, 1], S[:, 0, 2], S[:, 1, 0]], dim=1)  # (J, 3, 3)
    return omega, d_points[..., 3:]


def surface_point_jacobian(body: BodyModel, params: BodyParams, faces: torch.Tensor, bary: torch.Tensor,
                           pose_bones: torch.Tensor, state: SkinningState | None = None):
    """World surface points (M, 3) of faces/bary (M,), (M, 3) and their Jacobian (M, 3, n)
    with columns [global rotvec (3), transl (3), log scale (1), pose of ``pose_bones``
    (indices into ``pose_joint_names``, 3 each), shape (S)]. Batch of 1."""
    state = state or body.skinning_state(params)
    if state is None:
        raise ValueError(f"body model {body.name!r} does not expose its skinning")
    M = len(faces)
    dtype, device = bary.dtype, bary.device
    R = rotation_matrices("global_orient", params.global_orient[:1])[0]
    s = params.scale[0] if params.scale is not None else torch.ones((), dtype=dtype, device=device)
    t = params.transl[0]

    # Per-bone shares of each point: C[m, j] = sum_f bary_f w_{v_f j} T_j rest_{v_f}.
    vid = body.faces[faces].reshape(-1)  # (3M,)
    idx = state.bone_index[vid]  # (3M, S)
    w = state.bone_weight[vid] * bary.reshape(-1, 1)
    T = state.transforms
    y = torch.einsum("nsij,nj->nsi", T[idx, :3, :3], state.rest_vertices[vid]) + T[idx, :3, 3]
    row = torch.arange(M, device=device).repeat_interleave(3)[:, None].expand_as(idx)
    J = len(state.parents)
    C = torch.zeros(M * J, 3, dtype=dtype, device=device).index_add_(
        0, (row * J + idx).reshape(-1), (w[..., None] * y).reshape(-1, 3)).reshape(M, J, 3)
    Wc = torch.zeros(M * J, dtype=dtype, device=device).index_add_(
        0, (row * J + idx).reshape(-1), w.reshape(-1)).reshape(M, J)
    p_model = C.sum(1)
    p_world = s * p_model @ R.T + t

    bones = pose_bones + 1  # pose_joint_names skip the root
    D = descendants(state.parents)[bones].to(dtype)  # (F, J)
    lever = torch.einsum("kj,mjc->mkc", D, C) - (Wc @ D.T)[..., None] * state.heads[bones]  # (M, F, 3)
    lever_world = s * lever @ R.T
    omega, d_shape = _forward_rates(body, params, faces, bary)  # world frame, (J, 3, 3)
    parents = state.parents[bones]
    A = omega[bones] - torch.where((parents >= 0)[:, None, None], omega[parents.clamp(min=0)], 0.0)
    # d p / d theta_(k,i) = A_k[:, i] x lever_k
    cols = torch.linalg.cross(A.transpose(1, 2)[None], lever_world[:, :, None, :].expand(-1, -1, 3, -1))
    d_pose = cols.permute(0, 3, 1, 2).reshape(M, 3, -1)  # (M, 3, F*3) ordered (bone, axis)

    if params.global_orient.shape[-1] != 3:
        raise ValueError("surface_point_jacobian: global_orient must be axis-angle")
    arm = p_world - t
    Jl = left_jacobian(params.global_orient[0])
    d_rot = torch.linalg.cross(Jl.T[None].expand(M, 3, 3), arm[:, None, :].expand(M, 3, 3)).transpose(1, 2)
    d_transl = torch.eye(3, dtype=dtype, device=device).expand(M, 3, 3)
    d_scale = arm[..., None]

    return p_world, torch.cat([d_rot, d_transl, d_scale, d_pose, d_shape], dim=-1)

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
handful). The cost is one forward-mode pass with 3 + S tangents through the skinning
state (the rest model and the kinematics; only the points' own face corners are skinned)
and a dense (points x bones) product, instead of a pass per parameter.
"""

from __future__ import annotations

from dataclasses import fields

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


def _world(params: BodyParams):
    R = rotation_matrices("global_orient", params.global_orient[:1])[0]
    s = params.scale[0] if params.scale is not None else torch.ones((), dtype=R.dtype, device=R.device)
    return R, s, params.transl[0]


# eps_abc: (u x v)_a = eps_abc u_b v_c
_LEVI_CIVITA = torch.tensor([[[0, 0, 0], [0, 0, 1], [0, -1, 0]],
                             [[0, 0, -1], [0, 0, 0], [1, 0, 0]],
                             [[0, 1, 0], [-1, 0, 0], [0, 0, 0]]], dtype=torch.float64)


class SkinnedPoints:
    """Surface points (faces (M,), barycentric (M, 3)) of a body, posed (``__call__``) and
    differentiated (``jacobian``) for one body at a time. Where the body exposes its
    skinning, only the points' own face corners are skinned, with per-corner weights by bone
    built once here; elsewhere the whole forward pass gives the points."""

    def __init__(self, body: BodyModel, faces: torch.Tensor | None, bary: torch.Tensor,
                 vertex_ids: torch.Tensor | None = None):
        """Points on faces (``faces`` (M,), ``bary`` (M, 3)), or, with ``vertex_ids`` (M, k),
        weighted sums of any k vertices each (weights ``bary`` (M, k)): a detector landmark
        inside the body, say."""
        self.body, self.faces, self.bary = body, faces, bary
        self.corners = body.faces[faces] if vertex_ids is None else vertex_ids  # (M, k)
        self.k = self.corners.shape[1]
        vertices, self.corner_vertex = torch.unique(self.corners.reshape(-1), return_inverse=True)
        self.subset = body.vertex_subset(vertices)
        state = self._state(body.neutral_params(1).to(dtype=bary.dtype, device=bary.device))
        self.corner = None if state is None else self._corner_weights(state)
        if state is not None:
            self.descendants = descendants(state.parents)

    def _state(self, params: BodyParams) -> SkinningState | None:
        """The skinning state of the points' face corners' vertices only."""
        return self.body.skinning_state(params, self.subset)

    def _corner_weights(self, state: SkinningState) -> torch.Tensor:
        """(kM, J): each corner's skinning weights by bone, times its (barycentric) weight."""
        n, J = len(self.corner_vertex), len(state.parents)
        w = state.bone_weight[self.corner_vertex] * self.bary.reshape(-1, 1)
        slot = (torch.arange(n, device=w.device)[:, None] * J + state.bone_index[self.corner_vertex]).reshape(-1)
        return torch.zeros(n * J, dtype=w.dtype, device=w.device).index_add_(0, slot, w.reshape(-1)).reshape(n, J)

    def __call__(self, params: BodyParams) -> torch.Tensor:
        """World points (M, 3) of the first body of ``params``."""
        if self.corner is None:
            verts = self.body(params).vertices[0]
            return (self.bary[..., None] * verts[self.corners]).sum(1)
        state = self._state(params)
        J = len(state.parents)
        blended = (self.corner @ state.transforms[:, :3].reshape(J, 12)).reshape(-1, 3, 4)
        rest = state.rest_vertices[self.corner_vertex]
        points = (torch.einsum("nab,nb->na", blended[..., :3], rest) + blended[..., 3]).reshape(-1, self.k, 3).sum(1)
        R, s, t = _world(params)
        return s * points @ R.T + t

    def _forward_rates(self, params: BodyParams):
        """One forward-mode pass through the body's skinning state (the rest model and the
        kinematics, not the skinned mesh) with 3 + S tangents: every bone's pose parameter i
        turned at once (i = 0, 1, 2), and each shape coefficient. -> the bones' world
        rotation rates (J, 3, 3) (column i: tangent i), the points' shape Jacobian (M, 3, S)
        (skinned here, outside the pass), the state, and each point's rest shares by bone:
        weight (M, J) and weighted rest position (M, J, 3)."""
        base, shape0 = params.body_pose[:1], params.shape[0]
        R, s, _ = _world(params)

        def rig(z):
            p = BodyParams(params.global_orient[:1], params.transl[:1], base + z[:3], z[3:][None],
                           None if params.scale is None else params.scale[:1])
            state = self._state(p)
            return (state.transforms[:, :3], state.rest_vertices), \
                tuple(getattr(state, f.name) for f in fields(state))

        z0 = torch.cat([torch.zeros(3, dtype=base.dtype, device=base.device), shape0])
        (dT, d_rest), values = jacfwd(rig, has_aux=True)(z0)  # (J, 3, 4, 3 + S), (U, 3, 3 + S)
        state = SkinningState(*values)
        Q = R @ state.transforms[:, :3, :3]
        dQ = torch.einsum("ab,jbcz->jacz", R, dT[:, :, :3, :3])  # rotation block, the 3 pose tangents
        S = torch.einsum("jabz,jcb->jacz", dQ, Q)  # dQ Q^T: skew rate per tangent
        omega = torch.stack([S[:, 2, 1], S[:, 0, 2], S[:, 1, 0]], dim=1)  # (J, 3, 3)

        M, J = len(self.bary), len(state.parents)
        rest, d_rest = state.rest_vertices[self.corner_vertex], d_rest[self.corner_vertex]
        k = self.k
        share = torch.einsum("mcj,mcd->mjd", self.corner.reshape(M, k, J), rest.reshape(M, k, 3))
        weight = self.corner.reshape(M, k, J).sum(1)
        # The shape columns: d p = sum_j (dR_j share_j + dt_j weight_j) + sum_j w_j R_j d rest.
        blended = (self.corner @ state.transforms[:, :3, :3].reshape(J, 9)).reshape(-1, 3, 3)
        dTs = dT[..., 3:]
        d_model = (torch.einsum("mjb,jabz->maz", share, dTs[:, :, :3])
                   + torch.einsum("mj,jaz->maz", weight, dTs[:, :, 3])
                   + torch.einsum("nab,nbz->naz", blended, d_rest[..., 3:]).reshape(M, k, 3, -1).sum(1))
        return omega, s * torch.einsum("ab,mbz->maz", R, d_model), state, weight, share

    def jacobian(self, params: BodyParams, pose_bones: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """World points (M, 3) and their Jacobian (M, 3, n) with columns [global rotvec (3),
        transl (3), log scale (1), pose of ``pose_bones`` (indices into ``pose_joint_names``,
        3 each), shape (S)]. Batch of 1; bodies that expose their skinning only."""
        if self.corner is None:
            raise ValueError(f"body model {self.body.name!r} does not expose its skinning")
        if params.global_orient.shape[-1] != 3:
            raise ValueError("SkinnedPoints.jacobian: global_orient must be axis-angle")
        M = len(self.bary)
        dtype, device = self.bary.dtype, self.bary.device
        R, s, t = _world(params)
        omega, d_shape, state, Wc, share = self._forward_rates(params)  # world frame

        # Per-bone shares of each posed point: C[m, j] = sum_f bary_f w_{v_f j} T_j rest_{v_f}.
        T = state.transforms
        C = torch.einsum("jab,mjb->mja", T[:, :3, :3], share) + Wc[..., None] * T[:, :3, 3]
        p_world = s * C.sum(1) @ R.T + t

        bones = pose_bones + 1  # pose_joint_names skip the root
        D = self.descendants[bones].to(dtype)  # (F, J)
        lever = torch.einsum("kj,mjc->mkc", D, C) - (Wc @ D.T)[..., None] * state.heads[bones]  # (M, F, 3)
        lever_world = s * lever @ R.T
        parents = state.parents[bones]
        A = omega[bones] - torch.where((parents >= 0)[:, None, None], omega[parents.clamp(min=0)], 0.0)
        # d p / d theta_(k,i) = A_k[:, i] x lever_k, as eps_abc A_k[b, i] lever_k[c]
        E = torch.einsum("abc,kbi->kaci", _LEVI_CIVITA.to(dtype=dtype, device=device), A)
        d_pose = torch.einsum("kaci,mkc->maki", E, lever_world).reshape(M, 3, -1)  # ordered (bone, axis)

        arm = p_world - t
        Jl = left_jacobian(params.global_orient[0])
        d_rot = torch.linalg.cross(Jl.T[None].expand(M, 3, 3), arm[:, None, :].expand(M, 3, 3)).transpose(1, 2)
        d_transl = torch.eye(3, dtype=dtype, device=device).expand(M, 3, 3)
        d_scale = arm[..., None]
        return p_world, torch.cat([d_rot, d_transl, d_scale, d_pose, d_shape], dim=-1)

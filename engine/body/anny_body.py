"""Anny (PyPI ``anny``, Apache-2.0 code, CC0 assets): the default body model, no download.

Parameters: root rotation and translation (``BodyParams.global_orient``/``transl``), local
rotations of the 103 other bones in Anny's "local-ref" parameterisation (each bone's
rotation expressed in its reference frame, aligned with the world axes at rest), the six
phenotype values in [0, 1] (gender, age, muscle, weight, height, proportions), and scale.
Anny's own frame already is the canonical one (Z up, facing -Y, left = +X); with an
identity root transform its root bone sits at the origin.

Joints are the 104 bone heads; keypoints are Anny's COCO-WholeBody-style regressor (23
points incl. feet) plus the ten fingertips, each the vertex of the distal phalanx that lies
farthest along that phalanx in the rest pose.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from engine.body.anny_cache import cache_lock, construct
from engine.body.base import BodyModel, BodyParams, SkinningState, rotation_matrices
from engine.cache import anny_cache_dir
from engine.errors import InputError

log = logging.getLogger(__name__)

PHENOTYPES = ("gender", "age", "muscle", "weight", "height", "proportions")
_FINGERS = ("thumb", "index", "middle", "ring", "pinky")


def _build_anny():
    import anny
    import anny.paths

    cache = anny_cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"{cache}: Anny's cache folder cannot be created ({e.strerror or e}); set "
                         f"DIFFPROXY_CACHE_DIR (or ANNY_CACHE_DIR) to a writable folder") from None
    anny.paths.set_anny_cache_path(cache)
    with cache_lock(cache) as writable:
        try:
            # "lbs": plain torch skinning, differentiable in float32/float64 on CPU and CUDA,
            # as fast as Anny's warp kernel at our batch sizes (measured: ~35 ms fwd+bwd, B=8).
            # a cold cache (about 800 MB, 2.5 minutes) is said on stderr; a damaged file is built again
            return construct(lambda: anny.Anny(skinning_method="lbs"), cache, writable)
        except OSError as e:
            if writable:
                raise
            raise InputError(f"{cache}: Anny's cache is incomplete and cannot be written ({e}); build it once "
                             f"where it is writable (diffproxy doctor), or set DIFFPROXY_CACHE_DIR (or "
                             f"ANNY_CACHE_DIR) to a writable folder") from None


@dataclass
class _VertexSubset:
    """Anny's rest template (U, 3), blend-shape basis (C, U*3) and skinning (U, S) of U vertices."""

    template: torch.Tensor
    basis: torch.Tensor
    bone_index: torch.Tensor
    bone_weight: torch.Tensor


class AnnyBody(BodyModel):
    name = "anny"
    shape_names = PHENOTYPES

    def __init__(self, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"):
        super().__init__()
        from anny.keypoints import KeypointsRegressor

        model = _build_anny()
        if tuple(model.phenotype_labels) != PHENOTYPES:
            raise RuntimeError(f"unexpected Anny phenotype labels {model.phenotype_labels}")
        self.anny = model
        self.joint_names = tuple(model.bone_labels)
        self.pose_joint_names = self.joint_names[1:]
        coco = KeypointsRegressor.coco(model, labels=list(self.keypoint_names[:23]))
        self.register_buffer("coco_weights", coco.regression_weights.clone(), persistent=False)
        self.register_buffer("faces", model.faces.clone(), persistent=False)
        self.register_buffer("uv_coords", model.texture_coordinates.clone(), persistent=False)
        self.register_buffer("uv_faces", model.face_texture_coordinate_indices.clone(), persistent=False)
        self.register_buffer("fingertip_vertices", self._fingertip_vertices(), persistent=False)
        self.to(dtype=dtype, device=device)

    def skinning_weights(self) -> torch.Tensor:
        """Dense (V, J) skinning weights in ``joint_names`` order."""
        m = self.anny
        W = torch.zeros(m.template_vertices.shape[0], len(self.joint_names), dtype=m.dtype, device=m.device)
        return W.scatter_add_(1, m.vertex_bone_indices.long(), m.vertex_bone_weights)

    def default_shape(self) -> torch.Tensor:
        return torch.full((len(PHENOTYPES),), 0.5, dtype=self.dtype, device=self.device)

    def shape_bounds(self):
        zeros = torch.zeros(len(PHENOTYPES), dtype=self.dtype, device=self.device)
        return zeros, zeros + 1

    @torch.no_grad()
    def _fingertip_vertices(self) -> torch.Tensor:
        out = self.anny()
        verts, heads = out["vertices"][0], out["bone_poses"][0, :, :3, 3]
        dominant = self.skinning_weights().argmax(dim=1)
        tips = []
        for side in ("L", "R"):
            for k in range(1, 6):
                distal = self.joint_names.index(f"finger{k}-3.{side}")
                middle = self.joint_names.index(f"finger{k}-2.{side}")
                direction = heads[distal] - heads[middle]
                candidates = torch.nonzero(dominant == distal).flatten()
                reach = (verts[candidates] - heads[distal]) @ direction
                tips.append(candidates[reach.argmax()])
        return torch.stack(tips)

    def skinning_state(self, params: BodyParams, subset: "_VertexSubset | None" = None) -> SkinningState:
        """Anny's rest model and forward kinematics, without skinning the mesh: the steps of
        anny 0.6.2's ``PhenotypeModel.forward`` short of ``get_skinned_vertices``, the rest
        shape of the ``subset``'s vertices only (the fitting's Jacobian differentiates this;
        blending and skinning all 13.7k vertices per tangent was most of its cost)."""
        m = self.anny
        subset = subset or self.vertex_subset(None)
        pose = self._pose_matrices(rotation_matrices("body_pose", params.body_pose[:1]))
        pose, phenotype, local, facial = m.get_tensor_inputs(pose, params.shape[:1], None, None)
        coeffs = m._get_phenotype_blendshape_coefficients(phenotype, local, facial)
        transforms, bone_poses = m.get_bone_transforms(pose, self._rest_bone_poses(coeffs))
        rest = subset.template + (coeffs @ subset.basis).reshape(-1, 3)  # (1, C) @: no basis copy under vmap
        return SkinningState(rest_vertices=rest, transforms=transforms[0], heads=bone_poses[0, :, :3, 3],
                             parents=torch.tensor(m.bone_parents, device=self.device),
                             bone_index=subset.bone_index, bone_weight=subset.bone_weight)

    def vertex_subset(self, vertices: torch.Tensor | None) -> "_VertexSubset":
        m = self.anny
        index = slice(None) if vertices is None else vertices
        basis = m.blendshapes[:, index]
        return _VertexSubset(m.template_vertices[index], basis.reshape(len(basis), -1).contiguous(),
                             m.vertex_bone_indices[index].long(), m.vertex_bone_weights[index])

    def _rest_bone_poses(self, coeffs: torch.Tensor) -> torch.Tensor:
        """anny 0.6.2's ``RiggedModel._get_cached_rest_model`` without its rest vertices."""
        import roma
        import anny.skinning.skinning as skinning

        m = self.anny
        if m.bone_orientation != "cached" or m.rest_orientation_refiner is not None or m.root_identity_orientation:
            return m.get_rest_model(coeffs)["rest_bone_poses"]  # not the configuration built here
        heads = skinning.apply_linear_blendshape(m.template_bone_heads, m.bone_heads_blendshapes, coeffs)
        M = m.bone_template_orientation_matrices[None] + torch.einsum("ba,akij->bkij", coeffs,
                                                                      m.bone_orientation_blendshapes)
        return roma.Rigid(linear=roma.special_procrustes(M), translation=heads).to_homogeneous()

    def _pose_matrices(self, R_pose):
        B = R_pose.shape[0]
        pose = torch.zeros(B, len(self.joint_names), 4, 4, dtype=R_pose.dtype, device=R_pose.device)
        pose[:, 0] = torch.eye(4, dtype=R_pose.dtype, device=R_pose.device)
        pose[:, 1:, :3, :3] = R_pose
        pose[:, 1:, 3, 3] = 1
        return pose

    def _anny_forward(self, R_pose, shape):
        return self.anny(pose_parameters=self._pose_matrices(R_pose), phenotype_kwargs=shape)

    def _posed_model_frame(self, R_pose, shape):
        out = self._anny_forward(R_pose, shape)
        vertices = out["vertices"]
        transforms = out["bone_poses"]
        keypoints = torch.cat([
            torch.einsum("kv,bvd->bkd", self.coco_weights, vertices),
            vertices[:, self.fingertip_vertices],
        ], dim=1)
        return vertices, transforms[..., :3, 3], keypoints, transforms

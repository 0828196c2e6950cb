"""SMPL-X through the ``smplx`` package, from the user's own model file.

SMPL-X is licensed and never bundled: users download ``SMPLX_NEUTRAL.npz`` (SMPL-X v1.1)
from https://smpl-x.is.tue.mpg.de and give its path with ``--smplx-model`` or the
``DIFFPROXY_SMPLX_MODEL`` environment variable (a file, or a folder holding it).

Parameters: the 54 joints after the pelvis (21 body, jaw, 2 eyes, 2 x 15 finger joints) as
full rotations (no hand PCA), ``num_betas`` shape coefficients; expression is not fitted
(kept at zero). The model's Y-up, +Z-facing frame is turned into the canonical one.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import numpy as np
import torch

from engine.body.base import BodyModel
from engine.errors import InputError, check_shape

SMPLX_ENV = "DIFFPROXY_SMPLX_MODEL"
SMPLX_HELP = (
    "SMPL-X is licensed and not bundled: register at https://smpl-x.is.tue.mpg.de, download "
    "'SMPL-X v1.1 (NPZ+PKL)', and pass the path of SMPLX_NEUTRAL.npz with --smplx-model "
    f"or set {SMPLX_ENV}"
)
NUM_JOINTS = 55
# Required keys and their shapes (V vertices, F faces, T texture coordinates).
_KEYS = {
    "v_template": ("V", 3), "f": ("F", 3), "weights": ("V", NUM_JOINTS),
    "J_regressor": (NUM_JOINTS, "V"), "kintree_table": (2, NUM_JOINTS),
    "shapedirs": ("V", 3, None), "posedirs": ("V", 3, (NUM_JOINTS - 1) * 9),
    "hands_componentsl": (45, 45), "hands_componentsr": (45, 45),
    "hands_meanl": (45,), "hands_meanr": (45,),
    "lmk_faces_idx": (None,), "lmk_bary_coords": (None, 3),
    "vt": ("T", 2), "ft": ("F", 3),
}
# Y-up, facing +Z  ->  Z-up, facing -Y: (x, y, z) -> (x, -z, y).
_TO_CANONICAL = torch.tensor([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=torch.float64)


def resolve_smplx_path(path: str | os.PathLike | None = None) -> Path:
    given = path if path is not None else os.environ.get(SMPLX_ENV)
    if not given:
        raise InputError(f"no SMPL-X model file given. {SMPLX_HELP}")
    p = Path(given).expanduser()
    if p.is_dir():
        for name in ("SMPLX_NEUTRAL.npz", "smplx/SMPLX_NEUTRAL.npz"):
            if (p / name).is_file():
                return p / name
        raise InputError(f"{p}: folder has no SMPLX_NEUTRAL.npz. {SMPLX_HELP}")
    if not p.is_file():
        raise InputError(f"SMPL-X model file not found: {p}. {SMPLX_HELP}")
    if p.suffix != ".npz":
        raise InputError(f"{p}: expected the SMPL-X .npz model file, got '{p.suffix}'. {SMPLX_HELP}")
    return p


def validate_smplx_file(path: Path) -> dict[str, np.ndarray]:
    """Load and check every array the engine uses; errors name the file and the key."""
    try:
        data = dict(np.load(path, allow_pickle=False))
    except Exception as e:  # zip or npy corruption: say which file
        raise InputError(f"{path}: not a readable .npz file ({e})") from e
    sizes: dict[str, int] = {}  # V, F and T must agree across keys
    for key, shape in _KEYS.items():
        if key not in data:
            raise InputError(f"{path}: missing key '{key}' (expected shape {shape}). {SMPLX_HELP}")
        check_shape(f"{path}: key '{key}'", data[key], shape, sizes)
    return data


class SMPLXBody(BodyModel):
    name = "smplx"

    def __init__(self, model_path=None, num_betas: int = 10, dtype=torch.float32, device="cpu"):
        super().__init__()
        import smplx
        from smplx.joint_names import JOINT_NAMES

        path = resolve_smplx_path(model_path)
        data = validate_smplx_file(path)
        self.model_path = path
        with contextlib.redirect_stdout(io.StringIO()):  # smplx prints warnings about component counts
            self.smplx = smplx.SMPLX(
                str(path), ext="npz", num_betas=num_betas, num_expression_coeffs=10, use_pca=False,
                flat_hand_mean=True, use_face_contour=False, dtype=torch.float64,
                # every parameter is passed to forward: the layer holds buffers only
                **{f"create_{k}": False for k in ("global_orient", "body_pose", "betas", "left_hand_pose",
                                                 "right_hand_pose", "expression", "jaw_pose", "leye_pose",
                                                 "reye_pose", "transl")},
            )
        self.joint_names = tuple(JOINT_NAMES[:NUM_JOINTS])
        self.pose_joint_names = self.joint_names[1:]
        self.shape_names = tuple(f"beta{i}" for i in range(self.smplx.num_betas))
        n_selected = NUM_JOINTS + len(self.smplx.vertex_joint_selector.extra_joints_idxs)
        names = JOINT_NAMES[:n_selected]
        missing = [k for k in self.keypoint_names if k not in names]
        if missing:
            raise RuntimeError(f"smplx provides no keypoints named {missing}")
        self.register_buffer("keypoint_index", torch.tensor([names.index(k) for k in self.keypoint_names]),
                             persistent=False)
        self.register_buffer("faces", torch.as_tensor(data["f"].astype(np.int64)), persistent=False)
        self.register_buffer("uv_coords", torch.as_tensor(data["vt"], dtype=torch.float64), persistent=False)
        self.register_buffer("uv_faces", torch.as_tensor(data["ft"].astype(np.int64)), persistent=False)
        self.register_buffer("to_canonical", _TO_CANONICAL.clone(), persistent=False)
        self.to(dtype=dtype, device=device)

    def skinning_weights(self) -> torch.Tensor:
        return self.smplx.lbs_weights

    def _posed_model_frame(self, R_pose, shape):
        from smplx.lbs import lbs

        m = self.smplx
        B = R_pose.shape[0]
        eye = torch.eye(3, dtype=R_pose.dtype, device=R_pose.device).expand(B, 1, 3, 3)
        full_pose = torch.cat([eye, R_pose], dim=1)  # (B, 55, 3, 3)
        expression = torch.zeros(B, m.num_expression_coeffs, dtype=shape.dtype, device=shape.device)
        vertices, joints = lbs(
            torch.cat([shape, expression], dim=1), full_pose, m.v_template,
            torch.cat([m.shapedirs, m.expr_dirs], dim=-1), m.posedirs, m.J_regressor, m.parents,
            m.lbs_weights, pose2rot=False,
        )
        selected = m.vertex_joint_selector(vertices, joints)
        root = joints[:, :1]
        C = self.to_canonical
        def canon(x):
            return (x - root) @ C.T
        return canon(vertices), canon(joints), canon(selected[:, self.keypoint_index]), None

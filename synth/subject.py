"""The subject of a scene: the body model with what every scene needs from it (part table,
per-vertex arrays for the appearance), and the placement of a sampled pose in the world."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import roma
import torch

from engine.body import BodyParams, load_body_model
from engine.proxy.part_table import build_part_table

GROUND_GAP_M = 1e-3


@dataclass
class Placed:
    params: dict  # JSON-able BodyParams (axis-angle)
    vertices: np.ndarray  # (V, 3) float64 world
    joints: np.ndarray  # (J, 3)
    keypoints: np.ndarray  # (33, 3)
    joint_names: tuple[str, ...]
    keypoint_names: tuple[str, ...]


class Subject:
    """Body model + part table, built once per worker process."""

    def __init__(self, model: str = "anny", smplx_model: str | None = None):
        self.body = load_body_model(model, smplx_model=smplx_model or None, dtype=torch.float64)
        self.part_table = build_part_table(self.body)

    @property
    def name(self) -> str:
        return self.body.name

    @cached_property
    def mesh_arrays(self) -> dict[str, np.ndarray]:
        from synth.appearance import body_arrays

        b = self.body
        arrays = {"faces": b.faces.numpy().astype(np.int32), "uv_coords": b.uv_coords.numpy().astype(np.float32),
                  "uv_faces": b.uv_faces.numpy().astype(np.int32),
                  "face_part": self.part_table.face_part.numpy().astype(np.int32),
                  "vertex_part": self.part_table.vertex_part.numpy().astype(np.int32)}
        arrays.update(body_arrays(b, self.part_table))
        return arrays

    @torch.no_grad()
    def forward(self, params: dict) -> Placed:
        p = params_from_dict(params)
        out = self.body(p)
        return Placed(params, out.vertices[0].numpy(), out.joints[0].numpy(), out.keypoints[0].numpy(),
                      tuple(self.body.joint_names), tuple(self.body.keypoint_names))

    def place(self, body_pose: np.ndarray, tilt: np.ndarray, shape: np.ndarray, yaw: float) -> Placed:
        """Rotate the posed body by ``yaw`` about Z after its family ``tilt``, then put its
        lowest point 1 mm above the ground (z = 0), the root above the origin. The gap keeps
        the ground plane, an occluder of the proxy pass, from tying with the soles."""
        R = roma.rotvec_to_rotmat(torch.tensor([0.0, 0.0, yaw], dtype=torch.float64)) @ \
            roma.rotvec_to_rotmat(torch.as_tensor(tilt, dtype=torch.float64))
        params = {"global_orient": roma.rotmat_to_rotvec(R).tolist(), "transl": [0.0, 0.0, 0.0],
                  "body_pose": np.asarray(body_pose, dtype=np.float64).tolist(),
                  "shape": np.asarray(shape, dtype=np.float64).tolist(), "scale": 1.0}
        first = self.forward(params)
        params["transl"] = [0.0, 0.0, float(GROUND_GAP_M - first.vertices[:, 2].min())]
        return self.forward(params)

    def yaw_of(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(-math.pi, math.pi))


def params_from_dict(d: dict) -> BodyParams:
    t = lambda x: torch.as_tensor(np.asarray(x, dtype=np.float64))[None]  # noqa: E731
    return BodyParams(global_orient=t(d["global_orient"]), transl=t(d["transl"]), body_pose=t(d["body_pose"]),
                      shape=t(d["shape"]), scale=t(d.get("scale", 1.0)))

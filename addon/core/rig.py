"""The fit's rig (fit.npz ``rig_*``, ``rest_vertices``, ``skin_*``; see ``engine.io.rig``) in
Blender's world, and the pose bones' keys that reproduce it (numpy only).

Blender poses a bone c of parent p as ``pose_c = pose_p @ inv(rest_p) @ rest_c @ basis_c``
(``basis``: the keyed location, rotation and scale), the root as ``rest_0 @ basis_0``. Anny's
bones move rigidly with their parents, so a child's basis is a rotation: only the root
carries a location (the root motion).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..vendor.errors import InputError
from .fitcheck import numbers

KEYS = ("rig_bone_names", "rig_parents", "rig_rest", "rig_length", "rig_pose", "rest_vertices", "skin_index",
        "skin_weight")
FINITE = ("rig_rest", "rig_length", "rig_pose", "rest_vertices", "skin_weight")  # as float64


@dataclass
class Rig:
    names: tuple[str, ...]  # (J,) the body model's bone names
    parents: np.ndarray  # (J,) -1 for the root; parents come first
    rest: np.ndarray  # (J, 4, 4) rest bone matrices, Blender world (+Y along the bone)
    length: np.ndarray  # (J,) metres
    pose: np.ndarray  # (T, J, 4, 4) posed bone matrices, Blender world
    rest_vertices: np.ndarray  # (V, 3) Blender world
    skin_index: np.ndarray  # (V, S) bones
    skin_weight: np.ndarray  # (V, S)


def matrices_to_blender(world, M: np.ndarray) -> np.ndarray:
    """Rigid matrices (..., 4, 4) of the user's world -> Blender's (x = R x_user / units)."""
    R = world.R_engine_user
    out = np.array(M, dtype=np.float64)
    out[..., :3, :3] = R @ out[..., :3, :3]
    out[..., :3, 3] = out[..., :3, 3] @ R.T / world.units_per_metre
    return out


def read_rig(arrays: dict, world, T: int, V: int, where) -> Rig | None:
    """The rig in ``arrays`` (fit.npz), None when the fit has none (older fits, other models)."""
    if not all(k in arrays for k in KEYS):
        return None
    arrays = {**arrays, **{k: numbers(arrays, k, where) for k in FINITE}}  # NaN bones or poses: refused
    if arrays["rig_bone_names"].ndim != 1 or arrays["rig_bone_names"].dtype.kind not in "US":
        raise InputError(f"{where}: 'rig_bone_names': expected a list of names, got {arrays['rig_bone_names'].dtype}")
    names = tuple(str(n) for n in arrays["rig_bone_names"])
    parents = numbers(arrays, "rig_parents", where, np.int64)
    J = len(names)
    pose = arrays["rig_pose"][None] if arrays["rig_pose"].ndim == 3 else arrays["rig_pose"]
    expected = {"rig_parents": (J,), "rig_rest": (J, 4, 4), "rig_length": (J,), "rest_vertices": (V, 3),
                "skin_weight": arrays["skin_index"].shape}
    for key, shape in expected.items():
        if arrays[key].shape != shape:
            raise InputError(f"{where}: '{key}': expected shape {shape}, got {arrays[key].shape}")
    if pose.shape != (T, J, 4, 4):
        raise InputError(f"{where}: 'rig_pose': expected shape ({T}, {J}, 4, 4), got {arrays['rig_pose'].shape}")
    if J == 0 or parents[0] != -1 or any(not 0 <= parents[j] < j for j in range(1, J)):
        raise InputError(f"{where}: 'rig_parents': expected -1 for the first bone, then earlier bones")
    for key, matrices in (("rig_rest", arrays["rig_rest"]), ("rig_pose", pose)):
        if J and not (np.abs(np.linalg.det(matrices[..., :3, :3])) > 1e-9).all():
            raise InputError(f"{where}: '{key}': bone matrices that cannot be inverted (a zero scale)")
    index = numbers(arrays, "skin_index", where, np.int64)
    if index.ndim != 2 or index.shape[0] != V or (index.size and (index.min() < 0 or index.max() >= J)):
        raise InputError(f"{where}: 'skin_index': expected ({V}, S) bone ids below {J}, got shape {index.shape}")
    return Rig(names, parents, matrices_to_blender(world, arrays["rig_rest"]),
               np.asarray(arrays["rig_length"], np.float64) / world.units_per_metre, matrices_to_blender(world, pose),
               world.points_to_engine(np.asarray(arrays["rest_vertices"], np.float64)), index.astype(np.int64),
               np.asarray(arrays["skin_weight"], np.float64))


def pose_basis(rest: np.ndarray, parents: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Each pose bone's basis (T, J, 4, 4) that makes Blender pose ``rest`` (J, 4, 4, the
    armature's bones as Blender holds them) into ``pose`` (T, J, 4, 4)."""
    inv = np.linalg.inv
    parent_pose = pose[:, np.maximum(parents, 0)]
    local = inv(rest)[None] @ rest[np.maximum(parents, 0)][None] @ inv(parent_pose) @ pose
    local[:, parents < 0] = inv(rest[parents < 0])[None] @ pose[:, parents < 0]
    return local


def quaternions(R: np.ndarray) -> np.ndarray:
    """Rotation matrices (T, ..., 3, 3) -> unit quaternions (T, ..., 4), w first (Shepperd:
    from the largest component), each the sign nearest to the previous frame's (keys then
    interpolate the short way)."""
    m = lambda i, j: R[..., i, j]  # noqa: E731
    d = np.stack([1 + m(0, 0) + m(1, 1) + m(2, 2), 1 + m(0, 0) - m(1, 1) - m(2, 2),
                  1 - m(0, 0) + m(1, 1) - m(2, 2), 1 - m(0, 0) - m(1, 1) + m(2, 2)], -1)  # 4 q_k^2
    a, b, c = m(2, 1) - m(1, 2), m(0, 2) - m(2, 0), m(1, 0) - m(0, 1)
    e, f, g = m(1, 0) + m(0, 1), m(0, 2) + m(2, 0), m(2, 1) + m(1, 2)
    rows = np.stack([np.stack(r, -1) for r in ((d[..., 0], a, b, c), (a, d[..., 1], e, f), (b, e, d[..., 2], g),
                                               (c, f, g, d[..., 3]))], -2)  # row k: 4 q_k q
    q = np.take_along_axis(rows, d.argmax(-1)[..., None, None], -2)[..., 0, :]
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    for t in range(1, len(q)):
        q[t] *= np.where((q[t] * q[t - 1]).sum(-1, keepdims=True) < 0, -1.0, 1.0)
    return q

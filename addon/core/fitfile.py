"""A reconstruction as ``diffproxy reconstruct`` writes it (fit.json + fit.npz, see
``engine.io.reconstruction``), read with json and numpy and turned into Blender's world.

A fit without a ``world`` record (``diffproxy fit``) is already in the engine's frame: Z up,
metres. Frames are footage frame numbers; Blender shows footage frame ``f`` at scene frame
``f + 1`` (a movie clip starts at frame 1), and the body is keyed there (``scene_frames``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..vendor.errors import InputError
from ..vendor.parts import PART_NAMES
from ..vendor.world import WorldFrame
from .rig import Rig, read_rig
from .world import points_to_blender, world_from_record

KIND = "diffproxy.fit"
SCHEMA_VERSION = 1
CLIP_START = 1  # the scene frame of footage frame 0


@dataclass
class Fit:
    path: Path  # the fit.json
    vertices: np.ndarray  # (T, V, 3) Blender world, metres
    faces: np.ndarray  # (F, 3)
    vertex_part: np.ndarray  # (V,) part ids
    part_names: tuple[str, ...]  # by id
    frames: np.ndarray  # (T,) footage frame numbers
    fps: float | None
    world: WorldFrame
    body_model: str
    rig: Rig | None = None  # None: an older fit, or a body model without a rig
    uv: tuple[np.ndarray, np.ndarray] | None = None  # uv_coords (U, 2), uv_faces (F, 3)

    @property
    def scene_frames(self) -> np.ndarray:
        return self.frames + CLIP_START


def fit_json_path(path: str | Path) -> Path:
    path = Path(path)
    found = path / "fit.json" if path.is_dir() else path
    if not found.is_file():
        raise InputError(f"{path}: no fit.json (expected the folder `diffproxy reconstruct --out` wrote, or its "
                         f"fit.json)")
    return found


def _read_record(json_path: Path) -> dict:
    try:
        record = json.loads(json_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{json_path}: not valid JSON: {e}") from None
    if not isinstance(record, dict) or record.get("kind") != KIND:
        got = record.get("kind") if isinstance(record, dict) else type(record).__name__
        raise InputError(f"{json_path}: field 'kind': expected {KIND!r}, got {got!r}")
    if record.get("schema_version") != SCHEMA_VERSION:
        raise InputError(f"{json_path}: field 'schema_version': this add-on reads {SCHEMA_VERSION}, got "
                         f"{record.get('schema_version')!r}")
    return record


def _world(record: dict, json_path: Path) -> WorldFrame:
    """The fit's world record; none (``diffproxy fit``): the engine's frame, Z up, metres."""
    return world_from_record(record.get("world", {}), str(json_path))


def read_fit_world(path: str | Path) -> WorldFrame:
    """Only the world a fit was made in (fit.json alone)."""
    json_path = fit_json_path(path)
    return _world(_read_record(json_path), json_path)


def read_fit(path: str | Path) -> Fit:
    json_path = fit_json_path(path)
    record = _read_record(json_path)
    npz_path = json_path.parent / record.get("files", {}).get("npz", "fit.npz")
    if not npz_path.is_file():
        raise InputError(f"{npz_path}: missing (named by {json_path.name})")
    with np.load(npz_path) as z:
        arrays = {k: z[k] for k in z.files}
    for key in ("vertices", "faces", "vertex_part"):
        if key not in arrays:
            raise InputError(f"{npz_path}: array '{key}' missing")
    vertices = arrays["vertices"]
    if vertices.ndim == 2:
        vertices = vertices[None]
    if vertices.ndim != 3 or vertices.shape[-1] != 3 or not vertices.shape[0] or not vertices.shape[1]:
        raise InputError(f"{npz_path}: 'vertices': expected shape (V, 3) or (T, V, 3), got {arrays['vertices'].shape}")
    if not np.isfinite(vertices).all():
        raise InputError(f"{npz_path}: 'vertices': {int((~np.isfinite(vertices)).sum())} non-finite value(s)")
    T, V = vertices.shape[:2]
    faces = arrays["faces"]
    if faces.ndim != 2 or faces.shape[1] != 3 or (faces.size and (faces.min() < 0 or faces.max() >= V)):
        raise InputError(f"{npz_path}: 'faces': expected (F, 3) indices into {V} vertices, got shape {faces.shape}")
    part = arrays["vertex_part"]
    if part.shape != (V,):
        raise InputError(f"{npz_path}: 'vertex_part': expected shape ({V},), got {part.shape}")
    names = tuple(record.get("body", {}).get("part_names") or PART_NAMES)
    if part.size and (part.min() < 0 or part.max() >= len(names)):
        raise InputError(f"{npz_path}: 'vertex_part': ids must lie in 0..{len(names) - 1}, got "
                         f"{part.min()}..{part.max()}")
    frames = np.asarray(arrays.get("frames", record.get("frames", range(T))), dtype=np.int64).reshape(-1)
    if frames.shape != (T,) or (T > 1 and np.any(np.diff(frames) <= 0)) or (T and frames.min() < 0):
        raise InputError(f"{npz_path}: 'frames': expected {T} increasing frame numbers >= 0, got "
                         f"{frames.tolist()[:10]}")
    fps = arrays.get("fps", record.get("fps"))
    fps = None if fps is None else float(fps)
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise InputError(f"{json_path}: field 'fps': expected a positive number, got {fps}")
    world = _world(record, json_path)
    uv = None
    if "uv_coords" in arrays and "uv_faces" in arrays:
        coords, uv_faces = arrays["uv_coords"], arrays["uv_faces"]
        if (coords.ndim != 2 or coords.shape[1] != 2 or uv_faces.shape != faces.shape
                or (uv_faces.size and (uv_faces.min() < 0 or uv_faces.max() >= len(coords)))):
            raise InputError(f"{npz_path}: 'uv_coords'/'uv_faces': expected (U, 2) and {faces.shape} indices into "
                             f"them, got {coords.shape} and {uv_faces.shape}")
        uv = (coords.astype(np.float64), uv_faces.astype(np.int64))
    return Fit(json_path, points_to_blender(world, vertices), faces.astype(np.int64), part.astype(np.int64), names,
               frames, fps, world, str(record.get("body", {}).get("model", "body")),
               read_rig(arrays, world, T, V, str(npz_path)), uv)

"""A reconstruction as ``diffproxy reconstruct`` writes it (fit.json + fit.npz, kind
``diffproxy.fit``; the layouts are ``engine.io.schema``'s, vendored), read with json and numpy
and turned into Blender's world. Older files are read in today's names (``schema.upgrade``).

A scene fit (``diffproxy fit``, kind ``diffproxy.scene_fit``) has no ``world`` record: it is
already in the engine's frame, Z up, metres. Frames are footage frame numbers; Blender shows
footage frame ``f`` at scene frame ``f + 1`` (a movie clip starts at frame 1), and the body is
keyed there (``scene_frames``).
"""

from __future__ import annotations

from dataclasses import dataclass, field as dataclass_field
from pathlib import Path

import numpy as np

from ..vendor.errors import InputError
from ..vendor.parts import PART_NAMES
from ..vendor.schema import FIT_JSON, Layout, layout_of, upgrade
from ..vendor.world import WorldFrame
from .fitcheck import field, frame_rate, load_npz, npz_path as npz_file, numbers, read_json
from .rig import Rig, read_rig
from .world import points_to_blender, world_from_record

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
    notes: list[str] = dataclass_field(default_factory=list)  # for the user: what was assumed

    @property
    def scene_frames(self) -> np.ndarray:
        return self.frames + CLIP_START


def fit_json_path(path: str | Path) -> Path:
    path = Path(path)
    found = path / FIT_JSON if path.is_dir() else path
    if not found.is_file():
        raise InputError(f"{path}: no {FIT_JSON} (expected the folder `diffproxy reconstruct --out` wrote, or its "
                         f"{FIT_JSON})")
    return found


def _read_record(json_path: Path) -> tuple[dict, Layout]:
    """fit.json's record and its layout (either kind; an unknown kind or version is an error
    naming the file)."""
    record = read_json(json_path)
    return record, layout_of(record, json_path)


def _world(record: dict, json_path: Path) -> WorldFrame:
    """The fit's world record; none (``diffproxy fit``): the engine's frame, Z up, metres."""
    return world_from_record(record.get("world", {}), str(json_path))


def read_fit_world(path: str | Path) -> WorldFrame:
    """Only the world a fit was made in (fit.json alone)."""
    json_path = fit_json_path(path)
    return _world(_read_record(json_path)[0], json_path)


def read_fit(path: str | Path) -> Fit:
    """The fit at ``path``; any damage is one InputError naming the file and the field. An
    unknown frame rate (0 or absent: fits from image folders) is ``fps`` None, with a note."""
    json_path = fit_json_path(path)
    record, layout = _read_record(json_path)
    npz_path = npz_file(record, json_path)
    if not npz_path.is_file():
        raise InputError(f"{npz_path}: missing (named by {json_path.name})")
    record, arrays = upgrade(record, load_npz(npz_path), layout)
    for key in ("vertices", "faces", "vertex_part"):
        if key not in arrays:
            raise InputError(f"{npz_path}: array '{key}' missing")
    vertices = numbers(arrays, "vertices", npz_path)
    if vertices.ndim == 2:
        vertices = vertices[None]
    if vertices.ndim != 3 or vertices.shape[-1] != 3 or not vertices.shape[0] or not vertices.shape[1]:
        raise InputError(f"{npz_path}: 'vertices': expected shape (V, 3) or (T, V, 3), got {arrays['vertices'].shape}")
    T, V = vertices.shape[:2]
    faces = numbers(arrays, "faces", npz_path, np.int64)
    if faces.ndim != 2 or faces.shape[1] != 3 or (faces.size and (faces.min() < 0 or faces.max() >= V)):
        raise InputError(f"{npz_path}: 'faces': expected (F, 3) indices into {V} vertices, got shape {faces.shape}")
    part = numbers(arrays, "vertex_part", npz_path, np.int64)
    if part.shape != (V,):
        raise InputError(f"{npz_path}: 'vertex_part': expected shape ({V},), got {part.shape}")
    body = field(record, "body", (dict,), json_path, {})
    names = field(body, "part_names", (list,), json_path, None, "body") or PART_NAMES
    if not all(isinstance(n, str) for n in names):
        raise InputError(f"{json_path}: field 'body.part_names': expected a list of names")
    names = tuple(names)
    if part.size and (part.min() < 0 or part.max() >= len(names)):
        raise InputError(f"{npz_path}: 'vertex_part': ids must lie in 0..{len(names) - 1}, got "
                         f"{part.min()}..{part.max()}")
    frames = _frames(arrays, record, T, npz_path, json_path)
    fps = frame_rate(arrays, record, npz_path, json_path)
    notes = [] if fps else [f"{json_path}: no frame rate recorded (0 or absent, as from image folders): the body "
                            f"is keyed at the scene's rate"]
    world = _world(record, json_path)
    uv = None
    if "uv_coords" in arrays and "uv_faces" in arrays:
        coords, uv_faces = numbers(arrays, "uv_coords", npz_path), numbers(arrays, "uv_faces", npz_path, np.int64)
        if (coords.ndim != 2 or coords.shape[1] != 2 or uv_faces.shape != faces.shape
                or (uv_faces.size and (uv_faces.min() < 0 or uv_faces.max() >= len(coords)))):
            raise InputError(f"{npz_path}: 'uv_coords'/'uv_faces': expected (U, 2) and {faces.shape} indices into "
                             f"them, got {coords.shape} and {uv_faces.shape}")
        uv = (coords.astype(np.float64), uv_faces.astype(np.int64))
    model = field(body, "model", (str,), json_path, "body", "body")
    return Fit(json_path, points_to_blender(world, vertices), faces, part, names, frames, fps, world, model,
               read_rig(arrays, world, T, V, npz_path), uv, notes)


def _frames(arrays: dict, record: dict, T: int, npz_path: Path, json_path: Path) -> np.ndarray:
    if "frames" in arrays:
        frames = numbers(arrays, "frames", npz_path, np.int64)
    else:
        listed = field(record, "frames", (list,), json_path, list(range(T)))
        if not all(isinstance(f, int) and not isinstance(f, bool) for f in listed):
            raise InputError(f"{json_path}: field 'frames': expected whole frame numbers")
        frames = np.asarray(listed, dtype=np.int64)
    frames = frames.reshape(-1)
    if frames.shape != (T,) or (T > 1 and np.any(np.diff(frames) <= 0)) or (T and frames.min() < 0):
        raise InputError(f"{npz_path}: 'frames': expected {T} increasing frame numbers >= 0, got "
                         f"{frames.tolist()[:10]}")
    return frames

"""The extension built once per session (addon/build.py), staged for numpy-level tests and
installed into a private Blender user folder for the tests that run Blender (the bpy module,
in subprocesses: one Blender per process)."""

import importlib.util
import json
import os
import struct
import subprocess
import sys
import types
import zlib
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).parent / "blender"
EXAMPLE = ROOT / "examples/pose2sim_balancing"
STAGED = "diffproxy_staged"  # the staged package's name in this process


def _load_build():
    spec = importlib.util.spec_from_file_location("diffproxy_addon_build", ROOT / "addon/build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def build_module():
    return _load_build()


@pytest.fixture(scope="session")
def staged(build_module, tmp_path_factory):
    """The staged extension folder, importable here as ``diffproxy_staged`` without its
    ``__init__`` (which imports bpy): the numpy-level modules only."""
    folder = build_module.stage(tmp_path_factory.mktemp("stage") / "diffproxy")
    package = types.ModuleType(STAGED)
    package.__path__ = [str(folder)]
    sys.modules[STAGED] = package
    yield folder
    for name in [n for n in sys.modules if n == STAGED or n.startswith(STAGED + ".")]:
        del sys.modules[name]


def staged_module(name: str):
    return importlib.import_module(f"{STAGED}.{name}")


@pytest.fixture(scope="session")
def extension_zip(build_module, tmp_path_factory):
    return build_module.build(tmp_path_factory.mktemp("dist"))


def run_blender(script: str, *args, home: Path, timeout: float = 120) -> dict:
    """Run tests/addon/blender/<script> with the bpy module and Blender's user folder at
    ``home``; returns the JSON of its last output line."""
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(home)}
    res = subprocess.run([sys.executable, str(SCRIPTS / script), *map(str, args)], capture_output=True, text=True,
                         env=env, timeout=timeout, cwd=home)
    assert res.returncode == 0, f"{script} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def blender_home(extension_zip, tmp_path_factory):
    """A Blender user folder with the extension installed; -> (folder, install report)."""
    if importlib.util.find_spec("bpy") is None:
        pytest.skip("the bpy module is not installed")
    home = tmp_path_factory.mktemp("blender_home")
    return home, run_blender("install.py", extension_zip, home=home)


def write_fit(folder: Path, vertices, faces, vertex_part, frames, fps=30.0, world=None, files=None) -> Path:
    """A fit as ``diffproxy reconstruct`` writes it (the fields the add-on reads); without a
    ``world``, one as ``diffproxy fit`` writes it (the engine's frame)."""
    from engine.io.schema import RECONSTRUCTION, SCENE_FIT

    layout = SCENE_FIT if world is None else RECONSTRUCTION
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "fit.npz", vertices=np.asarray(vertices, np.float64), faces=np.asarray(faces, np.int32),
             vertex_part=np.asarray(vertex_part, np.uint8), frames=np.asarray(frames, np.int64),
             fps=np.asarray(fps, np.float64))
    record = {"schema_version": layout.version, "kind": layout.kind, "body": {"model": "anny"}, "frames": list(frames),
              "fps": fps, "files": files or {"json": "fit.json", "npz": "fit.npz"}}
    if world is not None:
        record["world"] = world
    (folder / "fit.json").write_text(json.dumps(record))
    return folder


def rig_cube_fit(folder: Path, frames=(0, 1)) -> Path:
    """The box of ``cube_fit`` (Z up, metres) with a two-bone rig (fit.npz ``rig_*``): the root
    moves it up 10 cm a frame, its child bone rests."""
    folder, verts = cube_fit(folder, frames=frames, world={"up_axis": "+Z", "world_units_per_metre": 1.0})
    rest = np.tile(np.eye(4), (2, 1, 1))
    rest[1, :3, 3] = [0.0, 0.0, 1.0]
    pose = np.tile(rest, (len(frames), 1, 1, 1))
    pose[:, :, 2, 3] += 0.1 * np.arange(len(frames))[:, None]
    arrays = dict(np.load(folder / "fit.npz"))
    arrays["vertices"] = np.stack([verts[0] + [0.0, 0.0, 0.1 * i] for i in range(len(frames))])
    arrays.update(rig_bone_names=np.array(["root", "top"]), rig_parents=np.array([-1, 0]), rig_rest=rest,
                  rig_length=np.array([1.0, 0.5]), rig_pose=pose, rest_vertices=verts[0],
                  skin_index=np.zeros((8, 1), np.int64), skin_weight=np.ones((8, 1)))
    np.savez(folder / "fit.npz", **arrays)
    return folder


CUBE_FACES = [[0, 1, 2], [0, 2, 3], [4, 6, 5], [4, 7, 6], [0, 4, 5], [0, 5, 1], [1, 5, 6], [1, 6, 2], [2, 6, 7],
              [2, 7, 3], [3, 7, 4], [3, 4, 0]]


def cube_fit(folder: Path, frames=(0, 2, 5), world=None) -> tuple[Path, np.ndarray]:
    """A moving, turning box as a Y-up, centimetre fit; -> (folder, vertices (T, 8, 3))."""
    corners = np.array([[x, y, z] for x, y, z in ((0, 0, 0), (1, 0, 0), (1, 0, 1), (0, 0, 1),
                                                  (0, 1, 0), (1, 1, 0), (1, 1, 1), (0, 1, 1))], np.float64)
    corners = corners * [40.0, 170.0, 25.0]  # cm, y up
    verts = []
    for i, _ in enumerate(frames):
        a = 0.3 * i
        R = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
        verts.append(corners @ R.T + [10.0 * i, 0.0, -5.0 * i])
    verts = np.stack(verts)
    world = world or {"world_units_per_metre": 100.0, "unit": "cm", "up_axis": "+Y", "up_angle_deg": 2.0}
    write_fit(folder, verts, CUBE_FACES, [1, 1, 2, 2, 3, 3, 4, 4], list(frames), world=world)
    return folder, verts


def write_png(path: Path, rgb: np.ndarray) -> None:
    """An 8-bit RGB PNG (no imaging library needed)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

"""The scene folder: cameras + images for every view and, when rendered by synth, the ground
truth. Readable with numpy and json alone (no torch, no bpy).

```
scene_000012/
  scene.json        schema_version, generator, seed/index, cameras (OpenCV + Blender),
                    views (image path, occlusion), body (model, params, pose family),
                    appearance, lighting, occluders, assets, versions, timings
  images/view_00.png ...   RGB (8-bit sRGB), one per camera
  proxies.npz       seg (N,H,W) uint8 part ids, uv (N,H,W,2) float32, depth (N,H,W) float32
                    (OpenCV z, 0 where nothing is hit), body_mask (N,H,W) bool (body without
                    occluders)
  gt.npz            vertices (V,3), joints (J,3), keypoints (33,3) float64 world;
                    keypoints_2d (N,33,2), joints_2d (N,J,2) float64 px; keypoints_visibility,
                    joints_visibility (N,·) uint8: 0 outside the image, 1 hidden, 2 visible
```

A scene folder appears only complete: the writer fills a hidden temporary folder beside it
and renames it into place, so an interrupted render leaves no partial scene.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.io.files import atomic_folder, read_json, read_npz

SCHEMA_VERSION = 1
SCENE_JSON = "scene.json"
DATASET_JSON = "dataset.json"
PROXY_KEYS = {"seg": np.uint8, "uv": np.float32, "depth": np.float32, "body_mask": np.bool_}
GT_KEYS = ("vertices", "joints", "keypoints", "keypoints_2d", "joints_2d", "keypoints_visibility",
           "joints_visibility")


def scene_name(index: int) -> str:
    return f"scene_{index:06d}"


def is_complete(folder: Path) -> bool:
    return (Path(folder) / SCENE_JSON).is_file()


@contextmanager
def scene_writer(final: Path) -> Iterator[Path]:
    """``with scene_writer(final) as tmp:`` write the scene into ``tmp`` (``.tmp-<name>-<pid>``
    beside ``final``, as ``remove_temporaries`` knows it). It is published whole as ``final``
    (``engine.io.files.atomic_folder``) unless another render wrote ``final`` first, and
    removed on any error."""
    final = Path(final)
    with atomic_folder(final, final.parent / f".tmp-{final.name}-{os.getpid()}", replace=False) as tmp:
        (tmp / "images").mkdir()
        yield tmp
        if not final.exists() and not (tmp / SCENE_JSON).is_file():
            raise RuntimeError(f"{final}: writer finished without {SCENE_JSON}")


@contextmanager
def claim_scene(root: Path, name: str) -> Iterator[bool]:
    """``with claim_scene(root, name) as mine:`` whether this process may write scene ``name``
    (and clear its temporaries) now: an exclusive lock on ``root/.locks/<name>.lock`` that any
    other render holds while it writes that scene (a second command into the same folder, a
    job of another shard, a worker). The kernel drops the lock when its holder dies, even by
    SIGKILL, so the temporaries of an unclaimed scene are a killed render's."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; one render per folder there
        yield True
        return
    folder = Path(root) / ".locks"
    folder.mkdir(exist_ok=True)
    with open(folder / f"{name}.lock", "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            mine = True
        except BlockingIOError:
            mine = False
        yield mine


def remove_temporaries(root: Path, name: str) -> int:
    """Remove the temporary folders of scene ``name`` (hold its claim: they may be another
    render's otherwise)."""
    removed = 0
    for tmp in Path(root).glob(f".tmp-{name}-*"):
        shutil.rmtree(tmp, ignore_errors=True)
        removed += 1
    return removed


def remove_stale_temporaries(root: Path, names: set[str]) -> int:
    """Remove the temporary folders of the given scene names left by killed renders; a scene
    another render is writing now (claimed) keeps its temporary folder."""
    removed = 0
    for name in sorted({tmp.name[len(".tmp-"):].rsplit("-", 1)[0] for tmp in Path(root).glob(".tmp-scene_*")}
                       & set(names)):
        with claim_scene(root, name) as mine:
            removed += remove_temporaries(root, name) if mine else 0
    return removed


def scene_folders(root: Path) -> list[Path]:
    """``root`` itself when it is a scene folder, else its ``scene_*`` folders (sorted)."""
    root = Path(root)
    if (root / SCENE_JSON).is_file():
        return [root]
    if not root.is_dir():
        raise InputError(f"{root}: not a scene folder or a dataset folder")
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("scene_"))


def dataset_record(root: Path) -> tuple[Path, dict] | None:
    """The path and content of the ``dataset.json`` of ``root`` (the dataset folder or one of
    its scenes), or None when there is none; a damaged one is an error naming it."""
    for folder in (Path(root), Path(root).parent):
        path = folder / DATASET_JSON
        if path.is_file():
            record = read_json(path)
            if not isinstance(record.get("config", {}), dict):
                raise InputError(f"{path}: field 'config' must be an object")
            return path, record
    return None


def dataset_smplx_model(root: Path) -> str | None:
    """The SMPL-X file a dataset was rendered with (its ``dataset.json``), if any; ``root``
    may be the dataset folder or one of its scenes."""
    found = dataset_record(root)
    if found is None:
        return None
    body = found[1].get("config", {}).get("body", {})
    return (body.get("smplx_model") if isinstance(body, dict) else None) or None


def scene_config_hashes(folders: list[Path]) -> dict[str, str | None]:
    """Each scene's ``config_hash`` (None where its scene.json holds none or cannot be read)."""
    hashes = {}
    for folder in folders:
        try:
            record = read_json(folder / SCENE_JSON)
        except InputError:
            record = None
        hashes[folder.name] = record.get("config_hash") if record is not None else None
    return hashes


def write_json(path: Path, data: dict) -> None:
    Path(path).write_text(json.dumps(data, indent=1, allow_nan=False))


@dataclass
class Scene:
    folder: Path
    record: dict
    proxies: dict[str, np.ndarray] | None
    gt: dict[str, np.ndarray] | None

    @property
    def num_views(self) -> int:
        return len(self.record["cameras"])

    @property
    def camera_names(self) -> list[str]:
        """Each view's camera name (``--cameras``): its ``cameras[i].name``, else ``view_XX`` as its
        image ``images/view_XX.png`` (synth writes no names); the calibration reader names a
        scene.json's cameras the same way (``engine.io.calibration.json_format``)."""
        return _camera_names(self.record["cameras"])

    def camera_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, int]]]:
        cams = self.record["cameras"]
        K = np.array([c["K"] for c in cams], dtype=np.float64)
        R = np.array([c["R_cam_world"] for c in cams], dtype=np.float64)
        t = np.array([c["t_cam_world"] for c in cams], dtype=np.float64)
        return K, R, t, [(c["width"], c["height"]) for c in cams]

    def image_path(self, view: int) -> Path:
        return self.folder / self.record["views"][view]["image"]


def read_scene(folder: Path, load_arrays: bool = True) -> Scene:
    """Read and check a scene folder; errors name the file and the field."""
    folder = Path(folder)
    path = folder / SCENE_JSON
    record = read_json(path, missing=f"{path}: missing (incomplete scene folder)")
    version = record.get("schema_version")
    if version != SCHEMA_VERSION:
        raise InputError(f"{path}: field 'schema_version' is {version!r}, this reader knows {SCHEMA_VERSION}")
    for key in ("cameras", "views"):
        if not isinstance(record.get(key), list) or not record[key]:
            raise InputError(f"{path}: field '{key}' must be a non-empty list")
    if len(record["views"]) != len(record["cameras"]):
        raise InputError(f"{path}: {len(record['views'])} views but {len(record['cameras'])} cameras")
    for i, cam in enumerate(record["cameras"]):
        if not isinstance(cam, dict):
            raise InputError(f"{path}: field 'cameras[{i}]' must be an object, got {type(cam).__name__}")
        for w in ("width", "height"):
            if type(cam.get(w)) is not int or cam[w] < 1:
                raise InputError(f"{path}: field 'cameras[{i}].{w}' must be a positive integer, got {cam.get(w)!r}")
        if "name" in cam and (not isinstance(cam["name"], str) or not cam["name"]):
            raise InputError(f"{path}: field 'cameras[{i}].name' must be a non-empty string, got {cam['name']!r}")
        for key, shape in (("K", (3, 3)), ("R_cam_world", (3, 3)), ("t_cam_world", (3,))):
            arr = np.asarray(cam.get(key), dtype=np.float64) if key in cam else None
            if arr is None or arr.shape != shape or not np.isfinite(arr).all():
                raise InputError(f"{path}: field 'cameras[{i}].{key}' must be a finite {shape} array")
    names = _camera_names(record["cameras"])
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"{path}: field 'cameras': {', '.join(twice)} named more than once; names must be unique")
    for i, view in enumerate(record["views"]):
        if not isinstance(view, dict) or not isinstance(view.get("image"), str):
            raise InputError(f"{path}: field 'views[{i}]' must be an object with an 'image' path")
        if not (folder / view.get("image", "")).is_file():
            raise InputError(f"{path}: field 'views[{i}].image': file {folder / view.get('image', '?')} missing")
    proxies = gt = None
    if load_arrays and "files" in record:
        if "proxies" in record["files"]:
            proxies = _load_npz(folder / record["files"]["proxies"], PROXY_KEYS, len(record["views"]))
        if "gt" in record["files"]:
            gt = _load_npz(folder / record["files"]["gt"], dict.fromkeys(GT_KEYS), None)
    return Scene(folder, record, proxies, gt)


def _camera_names(cameras: list[dict]) -> list[str]:
    return [c.get("name", f"view_{i:02d}") for i, c in enumerate(cameras)]


def _load_npz(path: Path, keys: dict, views: int | None) -> dict[str, np.ndarray]:
    arrays = read_npz(path, required=keys)
    for key, dtype in keys.items():
        if dtype is not None and arrays[key].dtype != dtype:
            raise InputError(f"{path}: field '{key}' must be {np.dtype(dtype).name}, got {arrays[key].dtype}")
        if views is not None and arrays[key].shape[0] != views:
            raise InputError(f"{path}: field '{key}' has {arrays[key].shape[0]} views, scene.json has {views}")
    return arrays

"""The packed training set: every view of every scene folder in a few flat arrays, built
once (``pack_dataset``) and memory-mapped by the loader, so that reading a sample is a
slice instead of a PNG decode and an npz inflate.

```
packed/
  index.json     schema_version, source root, image size, scenes: name, first view, views
  rgb.npy        (N, H, W, 3) uint8   every view of every scene, in scene order
  seg.npy        (N, H, W)    uint8   part ids
  uv.npy         (N, H, W, 2) float16
  cameras.npz    K, R_cam_world, t_cam_world (N, ...) float64
```

The folder appears complete or not at all (written beside, then renamed). A rebuild is
skipped when the index lists the same scenes with the same ``scene.json`` (size and
modification time) and was written by this version; scenes are read one at a time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from engine.cache import atomic_folder
from engine.errors import InputError
from engine.io.files import check_writable_folder, read_json, read_rgb
from engine.io.scene import read_scene, scene_folders

PACK_VERSION = 1


def pack_dataset(root: Path, out: Path | None = None, progress=None) -> Path:
    """Pack the scene folders under ``root`` into ``out`` (default ``root/packed``)."""
    root = Path(root)
    out = Path(out) if out else root / "packed"
    folders = scene_folders(root)
    if not folders:
        raise InputError(f"{root}: no scene_* folders to pack")
    stamp = [[f.name, (f / "scene.json").stat().st_size, (f / "scene.json").stat().st_mtime_ns] for f in folders]
    if (out / "index.json").is_file():
        old = read_json(out / "index.json")
        if old.get("schema_version") == PACK_VERSION and old.get("stamp") == stamp:
            return out
    records = [read_scene(f, load_arrays=False) for f in folders]  # sizes first, arrays one scene at a time
    sizes = {(c["width"], c["height"]) for s in records for c in s.record["cameras"]}
    if len(sizes) != 1:
        raise InputError(f"{root}: scenes differ in image size {sorted(sizes)}; pack one size at a time")
    (width, height), = sizes
    n = sum(s.num_views for s in records)
    try:
        check_writable_folder(out.parent, "--packed")
    except InputError as e:
        if out != root / "packed":
            raise
        raise InputError(f"{e}: the dataset's own packed/ folder; pass --packed DIR to pack it elsewhere") from None
    with atomic_folder(out) as tmp:
        _write_packed(tmp, folders, n, (height, width), stamp, root, progress)
    return out


def _write_packed(tmp: Path, folders: list[Path], n: int, size: tuple[int, int], stamp: list, root: Path,
                  progress) -> None:
    height, width = size
    arrays = {"rgb": ((n, height, width, 3), np.uint8), "seg": ((n, height, width), np.uint8),
              "uv": ((n, height, width, 2), np.float16)}
    mm = {k: np.lib.format.open_memmap(tmp / f"{k}.npy", mode="w+", dtype=dt, shape=sh) for k, (sh, dt) in arrays.items()}
    cams = {"K": [], "R_cam_world": [], "t_cam_world": []}
    index, first = [], 0
    for folder in folders:
        s = read_scene(folder)
        if s.proxies is None:
            raise InputError(f"{s.folder / 'scene.json'}: field 'files.proxies' missing (training needs proxies)")
        for v in range(s.num_views):
            mm["rgb"][first + v] = _read_rgb(s.image_path(v), (height, width))
        mm["seg"][first:first + s.num_views] = s.proxies["seg"]
        mm["uv"][first:first + s.num_views] = s.proxies["uv"]
        for key, arr in zip(cams, s.camera_arrays()[:3]):
            cams[key].append(arr)
        index.append({"name": s.folder.name, "first": first, "views": s.num_views})
        first += s.num_views
        if progress:
            progress(s.folder.name)
    for m in mm.values():
        m.flush()
    np.savez(tmp / "cameras.npz", **{k: np.concatenate(v) for k, v in cams.items()})
    (tmp / "index.json").write_text(json.dumps({"schema_version": PACK_VERSION, "source": str(root.resolve()),
                                                "width": width, "height": height, "scenes": index, "stamp": stamp},
                                               indent=1))


def _read_rgb(path: Path, size: tuple[int, int]) -> np.ndarray:
    image = read_rgb(path)
    if image.shape[:2] != size:
        raise InputError(f"{path}: image is {image.shape[1]}x{image.shape[0]}, its camera says {size[1]}x{size[0]}")
    return image


@dataclass
class PackedScenes:
    """The memory-mapped arrays of a packed folder; ``views(i)`` are scene i's rows."""

    folder: Path
    index: dict
    rgb: np.ndarray
    seg: np.ndarray
    uv: np.ndarray
    cameras: dict[str, np.ndarray]

    @classmethod
    def open(cls, folder: Path) -> "PackedScenes":
        folder = Path(folder)
        index = read_json(folder / "index.json", missing=f"{folder / 'index.json'}: missing (run pack first)")
        if index.get("schema_version") != PACK_VERSION:
            raise InputError(f"{folder / 'index.json'}: field 'schema_version' is {index.get('schema_version')!r}, "
                             f"this reader knows {PACK_VERSION}")
        load = lambda k: np.load(folder / f"{k}.npy", mmap_mode="r")  # noqa: E731
        with np.load(folder / "cameras.npz") as cams:
            cameras = {k: cams[k] for k in cams.files}
        return cls(folder, index, load("rgb"), load("seg"), load("uv"), cameras)

    def __len__(self) -> int:
        return len(self.index["scenes"])

    def views(self, scene: int) -> slice:
        s = self.index["scenes"][scene]
        return slice(s["first"], s["first"] + s["views"])

    def name(self, scene: int) -> str:
        return self.index["scenes"][scene]["name"]

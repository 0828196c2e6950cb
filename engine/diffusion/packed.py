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
  ev_body.npy    (N, 33, 3)   float32 MediaPipe's body landmarks (x, y, score) in the view's pixels
  ev_hands.npy   (N, 2, 21, 3) float32 its hand landmarks (person's left, right)
  ev_mask.npy    (N, H, W)    uint8   its person mask
```

The evidence (``engine.diffusion.conditioning``) is what the reconstruct pipeline's detector
(``engine.detect.detect_views``: MediaPipe, the person the views agree on, sides put right)
finds in the renders, with BlazePose full, as the shipped generator was trained (reconstruct
uses heavy by default since issue 25: the generator sees heavy's evidence there), computed once per scene and kept in ``<packed>_detections/`` so that a
larger pack reuses it. The folder appears complete or not at all (written beside, then
renamed). A rebuild is skipped when the index lists the same scenes with the same
``scene.json`` (size and modification time) and was written by this version; scenes are read
one at a time.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from engine.diffusion.conditioning import ViewEvidence, detect_evidence
from engine.errors import InputError
from engine.io.files import atomic_folder, atomic_write_bytes, check_writable_folder, read_json, read_rgb
from engine.io.scene import read_scene, scene_folders
from engine.step_progress import Progress, no_progress

PACK_VERSION = 2


def pack_dataset(root: Path, out: Path | None = None, progress: Progress = no_progress) -> Path:
    """Pack the scene folders under ``root`` into ``out`` (default ``root/packed``);
    ``progress("pack", scenes done, scenes)`` while it packs (nothing when it is packed already)."""
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
    cache = out.with_name(out.name + "_detections")
    cache.mkdir(exist_ok=True)
    with atomic_folder(out) as tmp:
        _write_packed(tmp, folders, n, (height, width), stamp, root, cache, progress)
    return out


def scene_evidence(scene, cache: Path, stamp: list, detector) -> ViewEvidence:
    """MediaPipe's evidence in every view of ``scene`` (the reconstruct pipeline's detection),
    from ``cache/<scene>.npz`` when it was made for this ``scene.json`` ``stamp``."""
    path = cache / f"{scene.folder.name}.npz"
    if path.is_file():
        with np.load(path) as d:
            if d["stamp"].tolist() == stamp[1:]:
                return ViewEvidence(d["body"], d["hands"], d["mask"])
    evidence = read_scene_evidence(scene, detector=detector)
    buf = io.BytesIO()
    np.savez_compressed(buf, body=evidence.body, hands=evidence.hands, mask=evidence.mask, stamp=np.array(stamp[1:]))
    atomic_write_bytes(path, buf.getvalue())
    return evidence


class _LazyDetector:
    """A ``MediaPipeDetector`` built on its first call (a pack whose detections are all cached
    never loads MediaPipe)."""

    def __init__(self):
        self.detector = None

    def __call__(self, image, roi=None):
        if self.detector is None:
            from engine.detect import MediaPipeDetector

            self.detector = MediaPipeDetector()
        return self.detector(image, roi)

    def close(self) -> None:
        if self.detector is not None:
            self.detector.close()


def read_scene_evidence(scene, views=None, detector=None) -> ViewEvidence:
    """MediaPipe's evidence in a scene's views (default: all), found as the reconstruct pipeline
    finds it (``detect_evidence``: the person the views agree on)."""
    views = list(range(scene.num_views)) if views is None else list(views)
    images = [read_rgb(scene.image_path(v)) for v in views]
    return detect_evidence(images, scene_projections(scene, views), detector)


def scene_projections(scene, views=None) -> list[np.ndarray]:
    """(3, 4) pixel projection matrices of a scene's views."""
    K, R, t, _ = scene.camera_arrays()
    return [np.asarray(K[v]) @ np.concatenate([np.asarray(R[v]), np.asarray(t[v]).reshape(3, 1)], axis=1)
            for v in (range(scene.num_views) if views is None else views)]


def _write_packed(tmp: Path, folders: list[Path], n: int, size: tuple[int, int], stamp: list, root: Path,
                  cache: Path, progress: Progress) -> None:
    height, width = size
    arrays = {"rgb": ((n, height, width, 3), np.uint8), "seg": ((n, height, width), np.uint8),
              "uv": ((n, height, width, 2), np.float16), "ev_body": ((n, 33, 3), np.float32),
              "ev_hands": ((n, 2, 21, 3), np.float32), "ev_mask": ((n, height, width), np.uint8)}
    mm = {k: np.lib.format.open_memmap(tmp / f"{k}.npy", mode="w+", dtype=dt, shape=sh) for k, (sh, dt) in arrays.items()}
    cams = {"K": [], "R_cam_world": [], "t_cam_world": []}
    index, first = [], 0
    detector = _LazyDetector()
    progress("pack", 0, len(folders))
    for folder, scene_stamp in zip(folders, stamp):
        s = read_scene(folder)
        if s.proxies is None:
            raise InputError(f"{s.folder / 'scene.json'}: field 'files.proxies' missing (training needs proxies)")
        for v in range(s.num_views):
            mm["rgb"][first + v] = _read_rgb(s.image_path(v), (height, width))
        rows = slice(first, first + s.num_views)
        mm["seg"][rows] = s.proxies["seg"]
        mm["uv"][rows] = s.proxies["uv"]
        evidence = scene_evidence(s, cache, scene_stamp, detector)
        mm["ev_body"][rows], mm["ev_hands"][rows], mm["ev_mask"][rows] = evidence.body, evidence.hands, evidence.mask
        for key, arr in zip(cams, s.camera_arrays()[:3]):
            cams[key].append(arr)
        index.append({"name": s.folder.name, "first": first, "views": s.num_views})
        first += s.num_views
        progress("pack", len(index), len(folders))
    detector.close()
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
    evidence: ViewEvidence
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
        evidence = ViewEvidence(load("ev_body"), load("ev_hands"), load("ev_mask"))
        return cls(folder, index, load("rgb"), load("seg"), load("uv"), cameras, evidence)

    def __len__(self) -> int:
        return len(self.index["scenes"])

    def views(self, scene: int) -> slice:
        s = self.index["scenes"][scene]
        return slice(s["first"], s["first"] + s["views"])

    def name(self, scene: int) -> str:
        return self.index["scenes"][scene]["name"]

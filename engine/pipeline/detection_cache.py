"""Detections cached per frame (``<out>/detections/frame_000012.npz``), so that a rerun (other
fit settings, an interrupted job) does not detect again.

A cached frame is used only when its key matches: the footage itself (per camera the file's
resolved path, size and modification time, the capture's frame count and image size, the
frame's index) and the detector with its settings (``detector.signature``). Another take
written into the same folder, a re-exported video or another detector therefore detects
afresh instead of passing old detections off as new.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.io.files import atomic_write_npz

VERSION = 2  # bump when what a cached detection means changes (multi-view agreement, fields)


def footage_identity(capture) -> Callable[[int, list[str]], dict]:
    """``identity(frame, cameras)``: what a frame of ``capture`` (``engine.pipeline.capture``) is made of."""

    def identity(frame: int, cameras: list[str]) -> dict:
        out = {}
        for c in cameras:
            src = capture.sources[c]
            size = list(capture.sizes.get(c, ()))
            index = capture.source_index(c, frame)  # in the camera's own footage (--sync)
            if isinstance(src, (list, tuple)):  # frame files: the frame's own file
                out[c] = {"file": _file(src[index]), "size": size}
            else:  # a video: the file, its length, the frame's index
                out[c] = {"file": _file(src), "frames": capture.frames, "size": size, "index": index}
        return out

    return identity


def files_identity(paths: dict[str, Path]) -> dict:
    """{name: [resolved path, size, mtime]} of files (e.g. a frame's OpenPose JSON per camera)."""
    return {name: _file(p) for name, p in paths.items()}


def _file(path: Path) -> list:
    """A file's identity: its resolved path, size and modification time."""
    st = Path(path).stat()
    return [str(Path(path).resolve()), st.st_size, st.st_mtime_ns]


class DetectionCache:
    """``load(frame, cameras)`` -> detections or None; ``save(frame, cameras, detections)``.

    ``identity(frame, cameras)``: the inputs of a frame (``footage_identity``);
    ``signature``: the detector and its settings; ``track``: called with each file created
    (``OutputFolder.track``)."""

    def __init__(self, folder: Path, identity: Callable[[int, list[str]], dict], signature: dict,
                 track: Callable[[Path], object] = lambda path: None):
        self.folder, self.identity, self.signature, self.track = Path(folder), identity, signature, track

    def key(self, frame: int, cameras: list[str]) -> str:
        record = {"version": VERSION, "cameras": list(cameras), "detector": self.signature,
                  "inputs": self.identity(frame, cameras)}
        return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()

    def path(self, frame: int) -> Path:
        return self.folder / f"frame_{frame:06d}.npz"

    def load(self, frame: int, cameras: list[str]) -> list | None:
        from engine.detect.types import Detection

        path = self.path(frame)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                if "key" not in z.files or str(z["key"]) != self.key(frame, cameras):
                    return None
                out = []
                for i, c in enumerate(cameras):
                    keys = {k[len(f"{i}_"):]: z[k] for k in z.files if k.startswith(f"{i}_")}
                    out.append(Detection.from_npz_dict(keys, f"{path}:{c}") if keys else None)
        except Exception:  # a damaged cache file is detected again, never trusted
            return None
        return out

    def save(self, frame: int, cameras: list[str], detections: list) -> None:
        arrays = {"key": np.array(self.key(frame, cameras)), "cameras": np.array(cameras)}
        for i, d in enumerate(detections):
            if d is not None:
                arrays.update({f"{i}_{k}": v for k, v in d.to_npz_dict().items()})
        path = self.path(frame)
        existed = path.exists()
        atomic_write_npz(path, **arrays)
        if not existed:
            self.track(path)

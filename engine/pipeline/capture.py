"""A capture as users bring it: one video per camera (``<camera>.mp4|.mov|.avi|.mkv``), one
folder of frames per camera (``<camera>/*.png|jpg``), or a scene folder of the project's own
layout (``scene.json`` + ``images/view_XX.png``: one frame). Camera names are the file or
folder names and must match the calibration's; calibrated cameras without footage are
ignored (``ignored``), footage without a calibration entry is an error naming it.

Frames are read in order and one at a time (a 100-frame, 4-camera capture never sits in
memory whole)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import InputError

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


@dataclass
class Capture:
    folder: Path
    kind: str  # "videos" | "frames" | "scene"
    sources: dict[str, Path | list[Path]]  # camera -> video file, or its frame files in order
    frames: int  # frames common to every camera
    fps: float
    notes: list[str] = field(default_factory=list)  # what a user should know (frame counts, ignored cameras)

    @property
    def cameras(self) -> list[str]:
        return list(self.sources)

    def frame_range(self, start: int = 0, stop: int | None = None, step: int = 1) -> list[int]:
        stop = self.frames if stop is None else stop
        if step < 1 or start < 0 or stop > self.frames or start >= stop:
            raise InputError(f"--frames: {start}:{stop}:{step} is not a range inside the capture's {self.frames} "
                             f"frame(s)")
        return list(range(start, stop, step))

    def read(self, frames: list[int], cameras: list[str] | None = None):
        """Yield (frame, {camera: RGB (H, W, 3) uint8}) for the frames, in order."""
        cameras = cameras or self.cameras
        if self.kind in ("frames", "scene"):
            for f in frames:
                yield f, {c: _read_image(self.sources[c][f]) for c in cameras}
            return
        import cv2

        readers = {c: cv2.VideoCapture(str(self.sources[c])) for c in cameras}
        try:
            position = 0
            for f in frames:
                while position <= f:
                    images = {}
                    for c, cap in readers.items():
                        ok, bgr = cap.read()
                        if not ok:
                            raise InputError(f"{self.sources[c]}: could not read frame {position}")
                        images[c] = bgr
                    position += 1
                yield f, {c: np.ascontiguousarray(im[..., ::-1]) for c, im in images.items()}
        finally:
            for cap in readers.values():
                cap.release()


def _read_image(path: Path) -> np.ndarray:
    from engine.io.files import read_rgb

    if not Path(path).exists():
        raise InputError(f"{path}: missing image")
    return read_rgb(path)


def open_capture(folder: Path, calibrated: list[str], strict: bool = False) -> Capture:
    """The capture in ``folder`` for the calibration's camera names ``calibrated``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder (expected one video or one folder of frames per camera)")
    if (folder / "scene.json").exists():
        return _scene_capture(folder, calibrated)
    videos = {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in VIDEO_SUFFIXES}
    dirs = {p.name: p for p in sorted(folder.iterdir()) if p.is_dir() and not p.name.startswith(".")
            and any(q.suffix.lower() in IMAGE_SUFFIXES for q in p.iterdir())}
    if videos and dirs:
        raise InputError(f"{folder}: holds both videos ({', '.join(videos)}) and frame folders ({', '.join(dirs)}); "
                         f"keep one kind")
    found = videos or dirs
    if not found:
        raise InputError(f"{folder}: no footage: expected <camera>.mp4|.mov|.avi|.mkv or <camera>/ folders of "
                         f"frames for the cameras {', '.join(calibrated)}")
    unknown = [c for c in found if c not in calibrated]
    if unknown:
        raise InputError(f"{folder}: footage {', '.join(unknown)} has no camera in the calibration "
                         f"(its cameras: {', '.join(calibrated)})")
    notes = [f"camera {c} is calibrated but has no footage: ignored" for c in calibrated if c not in found]
    if videos:
        counts, fps = _video_counts(videos)
    else:
        frames = {c: sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES) for c, p in dirs.items()}
        counts, fps = {c: len(v) for c, v in frames.items()}, 0.0
    if len(set(counts.values())) > 1:
        listing = ", ".join(f"{c}: {n}" for c, n in counts.items())
        if strict:
            raise InputError(f"{folder}: the cameras have different frame counts ({listing}) and --strict is set")
        notes.append(f"the cameras have different frame counts ({listing}): using the first {min(counts.values())}")
    order = [c for c in calibrated if c in found]
    sources = {c: videos[c] for c in order} if videos else {c: frames[c] for c in order}
    return Capture(folder, "videos" if videos else "frames", sources, min(counts.values()), fps, notes)


def _video_counts(videos: dict[str, Path]) -> tuple[dict[str, int], float]:
    import cv2

    counts, rates = {}, []
    for c, path in videos.items():
        cap = cv2.VideoCapture(str(path))
        try:
            if not cap.isOpened():
                raise InputError(f"{path}: unreadable video")
            counts[c] = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            rates.append(float(cap.get(cv2.CAP_PROP_FPS)))
            ok, _ = cap.read()
            if not ok or counts[c] <= 0:
                raise InputError(f"{path}: unreadable video (no frame could be decoded)")
        finally:
            cap.release()
    return counts, float(np.median(rates)) if rates else 0.0


def _scene_capture(folder: Path, calibrated: list[str]) -> Capture:
    from engine.io.scene import read_scene

    scene = read_scene(folder, load_arrays=False)
    names = [f"view_{i:02d}" for i in range(scene.num_views)]
    sources = {n: [scene.image_path(i)] for i, n in enumerate(names) if n in calibrated}
    if not sources:
        raise InputError(f"{folder}: none of its views {', '.join(names)} is in the calibration")
    return Capture(folder, "scene", sources, 1, 0.0, [])

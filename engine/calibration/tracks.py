"""The person's 2D landmarks in every frame of every camera, before any calibration exists.

The footage is opened as ``reconstruct`` opens it (``engine.pipeline.capture``: videos or
folders of frames, one rate, errors naming the file), each camera is read over its own
length (cameras started by hand have different counts: ``--sync`` needs every frame) and
MediaPipe runs on each image (``engine.detect``'s detector; no calibration yet, so no
multi-view agreement: the person the detector scores highest in each view). Detections are
cached per camera and frame (``engine.pipeline.detection_cache``) in ``<out>/detections/``,
so a second ``calibrate`` with other options does not detect again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.step_progress import Progress, no_progress


@dataclass
class Tracks:
    """Per camera: ``xy[c]`` (T_c, 33, 2) distorted pixels (NaN: not found), ``score[c]`` (T_c, 33)
    MediaPipe's visibility (0: not found), ``size[c]`` (width, height)."""

    cameras: list[str]
    xy: dict[str, np.ndarray]
    score: dict[str, np.ndarray]
    size: dict[str, tuple[int, int]]
    fps: float
    notes: list[str]

    def frames(self, camera: str) -> int:
        return len(self.xy[camera])


def open_footage(folder: Path, skip: Path | None = None, cameras: list[str] | None = None):
    """The capture in ``folder`` as ``reconstruct`` opens it: every camera with footage, or the
    ``cameras`` named (``--cameras``; the others' footage is neither checked nor used)."""
    from engine.pipeline.capture import _footage_names, open_capture

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"FOOTAGE: {folder} is not a folder (expected one video or one folder of frames per camera)")
    names = _footage_names(folder, skip)
    used = names if cameras is None else [c for c in cameras if c in names]
    if cameras is not None and len(cameras) < 2:
        raise InputError(f"--cameras: {len(cameras)} camera named ({', '.join(cameras)}); calibrating from the person "
                         f"needs 2 or more")
    if len(used) < 2 and cameras is None:
        raise InputError(f"FOOTAGE: {folder} holds footage of {len(used)} camera(s) ({', '.join(used) or 'none'}); "
                         f"calibrating from the person needs 2 or more (<camera>.mp4 or <camera>/ frames each)")
    return open_capture(folder, names, skip=skip, cameras=cameras)


def frame_counts(capture) -> dict[str, int]:
    """Each camera's own frame count (the capture keeps only the common one)."""
    import cv2

    counts = {}
    for c, src in capture.sources.items():
        if isinstance(src, (list, tuple)):
            counts[c] = len(src)
        else:
            cap = cv2.VideoCapture(str(src))
            counts[c] = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            cap.release()
    return counts


def detect_tracks(capture, cache_folder: Path | None = None, pose_model: str = "full",
                  progress: Progress = no_progress, track=lambda path: None) -> Tracks:
    """MediaPipe's body landmarks in every frame of every camera of ``capture``."""
    from engine.detect.mediapipe_detector import MediaPipeDetector
    from engine.pipeline.detection_cache import DetectionCache

    counts = frame_counts(capture)
    total, done = sum(counts.values()), 0
    xy, score = {}, {}
    with MediaPipeDetector(hands=False, mask=False, model=pose_model) as detector:
        signature = {**detector.signature, "calibrate": 1}
        for c in capture.cameras:
            cache = None
            if cache_folder is not None:
                cache = DetectionCache(Path(cache_folder) / c, _identity(capture, c, counts[c]), signature, track)
            xy[c] = np.full((counts[c], 33, 2), np.nan)
            score[c] = np.zeros((counts[c], 33))
            for f, images in _read_camera(capture, c, counts[c]):
                det = cache.load(f, [c]) if cache is not None else None
                if det is None:
                    det = [detector(images[c])]
                    if cache is not None:
                        cache.save(f, [c], det)
                if det[0] is not None:
                    xy[c][f], score[c][f] = det[0].body_xy, det[0].body_score
                done += 1
                progress("detect", done, total)
    return Tracks(capture.cameras, xy, score, dict(capture.sizes), capture.fps, list(capture.notes))


def _identity(capture, camera: str, count: int):
    from engine.pipeline.detection_cache import footage_identity

    identity = footage_identity(capture)

    def one(frame: int, cameras: list[str]) -> dict:
        out = identity(frame, cameras)
        out[camera]["frames"] = count if "frames" in out[camera] else None  # a video's own length
        return out

    return one


def _read_camera(capture, camera: str, count: int):
    """(frame, {camera: RGB}) over the camera's own frames."""
    from engine.io.files import read_rgb

    if capture.kind == "videos":
        yield from capture.read(list(range(count)), [camera])
    else:
        for f in range(count):
            yield f, {camera: read_rgb(capture.sources[camera][f])}

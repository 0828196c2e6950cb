"""A capture as users bring it: one video per camera (``<camera>.mp4|.mov|.avi|.mkv``), one
folder of frames per camera (``<camera>/*.png|jpg``), or a scene folder of the project's own
layout (``scene.json`` + ``images/view_XX.png``: one frame). Camera names are the file or
folder names and must match the calibration's; calibrated cameras without footage are
ignored (``ignored``), footage without a calibration entry is an error naming it.

Opening a capture checks the footage of the cameras used (all, or the user's choice: ``cameras``)
before anything is detected or written: no symbolic link loops, every video opens and decodes
its first frame, the videos share one frame rate (nothing is resampled), every frame file is
an image of its camera's size (PNG files are checked whole and JPEG files to their end, so a
truncated one is refused here), frame numbers in file names have no gaps; given the
calibration, the cameras used do not share a centre. Errors name the file or the camera.
Frame i of every camera is the same instant: frame folders are matched by position in name
order.

Frames are read in order and one at a time (a 100-frame, 4-camera capture never sits in
memory whole)."""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.io.calibration import Calibration, check_baselines

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
RATE_TOLERANCE = 0.01  # frame rates this close are one rate (29.97 and 30)


@dataclass
class Capture:
    folder: Path
    kind: str  # "videos" | "frames" | "scene"
    sources: dict[str, Path | list[Path]]  # camera -> video file, or its frame files in order
    frames: int  # frames common to every camera
    fps: float
    notes: list[str] = field(default_factory=list)  # what a user should know (frame counts, ignored cameras)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # camera -> (width, height) of its footage
    ignored: list[str] = field(default_factory=list)  # calibrated cameras without footage
    starts: dict[str, int] = field(default_factory=dict)  # camera -> its footage's frame at frame 0 (--sync)

    @property
    def cameras(self) -> list[str]:
        return list(self.sources)

    def frame_range(self, start: int = 0, stop: int | None = None, step: int = 1) -> list[int]:
        stop = self.frames if stop is None else stop
        if step < 1 or start < 0 or stop > self.frames or start >= stop:
            raise InputError(f"--frames: {start}:{stop}:{step} is not a range inside the capture's {self.frames} "
                             f"frame(s)")
        return list(range(start, stop, step))

    def source_index(self, camera: str, frame: int) -> int:
        """The index in ``camera``'s footage of the capture's ``frame`` (its start added)."""
        return frame + self.starts.get(camera, 0)

    def read(self, frames: list[int], cameras: list[str] | None = None):
        """Yield (frame, {camera: RGB (H, W, 3) uint8}) for the frames, in order."""
        cameras = cameras or self.cameras
        if self.kind in ("frames", "scene"):
            for f in frames:
                yield f, {c: _read_image(self.sources[c][self.source_index(c, f)]) for c in cameras}
            return
        import cv2

        readers = {c: cv2.VideoCapture(str(self.sources[c])) for c in cameras}
        try:
            for c, cap in readers.items():
                if not cap.isOpened():
                    raise InputError(f"{self.sources[c]}: unreadable video (camera {c})")
                for _ in range(self.starts.get(c, 0)):  # the frames before the common instant
                    cap.grab()
            position = 0
            for f in frames:
                while position <= f:
                    images = {}
                    for c, cap in readers.items():
                        ok, bgr = cap.read()
                        if not ok:
                            raise InputError(f"{self.sources[c]}: could not read frame {position} (camera {c}; the "
                                             f"file claims {self.frames} or more): truncated or damaged video")
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


def open_capture(folder: Path, calibrated: Calibration | Sequence[str], strict: bool = False, skip: Path | None = None,
                 cameras: Sequence[str] | None = None, starts: dict[str, int] | None = None) -> Capture:
    """The capture in ``folder``; every used camera's footage checked (see the module's docstring).

    ``calibrated``: the calibration, or just its cameras' names. Given the calibration, the
    cameras used are checked for coincident centres (``check_baselines``) before the footage,
    and the calibration's notes (a file it ignored) lead the capture's notes.
    ``skip``: a folder inside ``folder`` that is not footage (the output folder).
    ``cameras``: the cameras to use, by name (the CLI's ``--cameras``), in that order; the
    others' footage is neither checked nor counted in the common frame range. Each must have
    footage and a calibration, else an error listing the cameras that have both.
    ``starts``: each camera's first frame of the common instant (``engine.pipeline.sync``;
    videos or frame folders only): the capture's frame 0 is that frame of each."""
    calibration = calibrated if isinstance(calibrated, Calibration) else None
    names = calibration.names() if calibration is not None else list(calibrated)
    folder = Path(folder)
    _check_link(folder, "the footage folder")
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder (expected one video or one folder of frames per camera)")
    chosen = None if cameras is None else _check_chosen(cameras)
    if (folder / "scene.json").exists():
        if starts:
            raise InputError(f"--sync: {folder} is a scene (one frame per camera): nothing to synchronise")
        capture = _scene_capture(folder, names, chosen, calibration)
    else:
        capture = _footage_capture(folder, names, strict, skip, chosen, calibration, starts or {})
    if calibration is not None:
        capture.notes[:0] = [n for n in calibration.notes if n not in capture.notes]
    return capture


def _check_chosen(chosen: Sequence[str]) -> list[str]:
    chosen = [chosen] if isinstance(chosen, str) else list(chosen)
    if not chosen:
        raise InputError("--cameras: no camera chosen; name one or more cameras, separated by commas")
    twice = sorted({v for v in chosen if chosen.count(v) > 1})
    if twice:
        raise InputError(f"--cameras: {', '.join(twice)} named twice; name each camera once")
    return chosen


def _chosen(chosen: list[str], folder: Path, footage: Sequence[str], calibrated: list[str]) -> None:
    """Every chosen camera has footage and a calibration; else an error listing those that do."""
    usable = [c for c in calibrated if c in footage]
    for v in chosen:
        if v not in footage or v not in calibrated:
            why = ("is not a camera of this capture" if v not in footage and v not in calibrated else
                   f"has no footage in {folder}" if v not in footage else "has footage but no calibration")
            raise InputError(f"--cameras: {v} {why} (cameras with footage and a calibration: "
                             f"{', '.join(usable) or 'none'})")


def _footage_capture(folder: Path, calibrated: list[str], strict: bool, skip: Path | None,
                     chosen: list[str] | None, calibration: Calibration | None, starts: dict[str, int]) -> Capture:
    entries = _entries(folder, skip, chosen)
    video_files = [p for p in entries if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES]
    videos = {p.stem: p for p in video_files}
    if len(videos) < len(video_files):
        twice = sorted({p.stem for p in video_files if sum(q.stem == p.stem for q in video_files) > 1})
        raise InputError(f"{folder}: more than one video for camera(s) {', '.join(twice)} "
                         f"({', '.join(p.name for p in video_files if p.stem in twice)}); keep one per camera")
    dirs = {p.name: p for p in entries if p.is_dir() and _frame_files(p)}
    with_footage = None if chosen is None else _footage_names(folder, skip)
    if chosen is not None:
        _chosen(chosen, folder, with_footage, calibrated)
        videos = {v: videos[v] for v in chosen if v in videos}
        dirs = {v: dirs[v] for v in chosen if v in dirs}
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
    ignored = [c for c in calibrated if c not in (found if chosen is None else with_footage)]
    notes = [f"camera {c} is calibrated but has no footage: ignored" for c in ignored]
    order = chosen if chosen is not None else [c for c in calibrated if c in found]
    if calibration is not None:
        check_baselines(calibration.subset(order))
    if videos:
        counts, sizes, fps = _check_videos(folder, {c: videos[c] for c in order})
        sources = {c: videos[c] for c in order}
    else:
        sources = {c: _frame_files(dirs[c]) for c in order}
        sizes = {c: _check_frames(c, files) for c, files in sources.items()}
        counts, fps = {c: len(v) for c, v in sources.items()}, 0.0
        notes += _numbering_notes(sources)
    if starts:
        from engine.pipeline.sync import check_start_frames

        notes += check_start_frames(starts, counts, folder)
        counts = {c: n - starts[c] for c, n in counts.items()}
    if len(set(counts.values())) > 1:
        listing = ", ".join(f"{c}: {n}" for c, n in counts.items())
        if strict:
            raise InputError(f"{folder}: the cameras have different frame counts ({listing}) and --strict is set")
        notes.append(f"the cameras have different frame counts ({listing}): using the first {min(counts.values())}")
    return Capture(folder, "videos" if videos else "frames", sources, min(counts.values()), fps, notes, sizes,
                   ignored, {c: starts[c] for c in order} if starts else {})


def _entries(folder: Path, skip: Path | None, chosen: list[str] | None) -> list[Path]:
    """The folder's entries that may be footage, in name order: hidden ones, ``skip`` and, with
    ``chosen``, other cameras' left out; a symbolic link loop is an error naming it."""
    skip = Path(skip).resolve() if skip is not None else None
    entries = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or (chosen is not None and p.name not in chosen and p.stem not in chosen):
            continue
        _check_link(p, "footage")
        if p.resolve() != skip:
            entries.append(p)
    return entries


def _footage_names(folder: Path, skip: Path | None) -> list[str]:
    """The cameras with footage in ``folder`` (videos and folders of frames), nothing checked."""
    skip = Path(skip).resolve() if skip is not None else None
    names = []
    for p in sorted(folder.iterdir()):
        try:
            if p.name.startswith(".") or p.resolve() == skip:
                continue
            if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file():
                names.append(p.stem)
            elif p.is_dir() and any(q.suffix.lower() in IMAGE_SUFFIXES for q in p.iterdir()):
                names.append(p.name)
        except (OSError, RuntimeError):  # a link loop or an unreadable folder: not usable footage
            continue
    return names


def _check_link(path: Path, what: str) -> None:
    """An error naming ``path`` when it is a symbolic link that loops (or leads through one)."""
    try:
        os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            how = f"it points to {os.readlink(path)!r}" if os.path.islink(path) else "a link on the way to it"
            raise InputError(f"{path}: a symbolic link loop ({what}: {how}, and following the links never ends): "
                             f"remove or fix the link") from None


def _frame_files(folder: Path) -> list[Path]:
    """The image files in ``folder`` in name order, numbers compared as numbers (hidden files, e.g.
    macOS ``._*``, left out); an image name that is a symbolic link loop is an error naming it."""
    images = [q for q in folder.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES and not q.name.startswith(".")]
    for q in images:
        _check_link(q, f"a frame of camera {folder.name}")
    return sorted((q for q in images if q.is_file()), key=_natural)


def _natural(path: Path) -> list:
    """Name order with numbers compared as numbers: frame_2.png before frame_10.png."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _image_size(path: Path, camera: str) -> tuple[int, int]:
    """(width, height) from the file's header; a PNG is checked whole (chunk CRCs, no decoding),
    a JPEG that does not end in its end-of-image marker is decoded at 1/8 scale (a truncated one
    fails as it would when read)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            size = im.size
            if im.format == "PNG":
                im.verify()
            elif im.format == "JPEG" and not _ends_like_jpeg(path):
                im.draft("RGB", (max(1, size[0] // 8), max(1, size[1] // 8)))
                im.load()
    except (OSError, ValueError, SyntaxError) as e:  # PIL raises SyntaxError for some broken headers
        raise InputError(f"{path}: unreadable image (camera {camera}): {e}") from None
    return size


def _ends_like_jpeg(path: Path) -> bool:
    """The file ends with JPEG's end-of-image marker (FF D9), padding after it allowed."""
    with open(path, "rb") as f:
        f.seek(max(0, os.fstat(f.fileno()).st_size - 64))
        return f.read().rstrip(b"\x00\r\n ").endswith(b"\xff\xd9")


def _check_frames(camera: str, files: list[Path]) -> tuple[int, int]:
    """The camera's frame size; every frame readable and of that size."""
    size = _image_size(files[0], camera)
    for path in files[1:]:
        other = _image_size(path, camera)
        if other != size:
            raise InputError(f"{path}: image is {other[0]}x{other[1]}, while camera {camera}'s first frame "
                             f"{files[0].name} is {size[0]}x{size[1]}: a camera's frames must all have one size")
    return size


_NUMBER = re.compile(r"^(.*?)(\d+)$")


def _numbering_notes(sources: dict[str, list[Path]]) -> list[str]:
    """Frames are matched by position. Where every camera's files are numbered alike
    (``<prefix><number>``, one prefix per camera), the numbers must step evenly, by the
    smallest step any camera takes: a larger jump is a missing image, a repeat a duplicate
    (errors naming the camera and both files). Differing first numbers are a note."""
    numbered = {}
    for camera, files in sources.items():
        matches = [_NUMBER.match(p.stem) for p in files]
        if not all(matches) or len({m.group(1) for m in matches}) > 1:
            return []  # not <prefix><frame number>: nothing to check
        numbered[camera] = [int(m.group(2)) for m in matches]
    diffs = [d for n in numbered.values() for d in np.diff(n)]
    positive = [d for d in diffs if d > 0]
    if not positive:  # e.g. 0001_cam1.png, 0002_cam1.png: the trailing number names the camera
        return []
    step = int(min(positive))
    for camera, n in numbered.items():
        for i in range(len(n) - 1):
            if n[i + 1] - n[i] != step:
                a, b = sources[camera][i], sources[camera][i + 1]
                what = "a repeated frame number" if n[i + 1] == n[i] else "missing image(s)"
                raise InputError(f"{a.parent}: {what} in camera {camera}: the frame numbers go from {n[i]} "
                                 f"({a.name}) to {n[i + 1]} ({b.name}) while the frames step by {step}; frames "
                                 f"are matched across cameras by position, so every frame must be there")
    firsts = {c: n[0] for c, n in numbered.items()}
    if len(set(firsts.values())) > 1:
        listing = ", ".join(f"{c}: {n}" for c, n in firsts.items())
        return [f"the cameras' frame numbers start at different values ({listing}): frames are matched by position "
                f"(the first file of each camera is frame 0)"]
    return []


def _check_videos(folder: Path, videos: dict[str, Path]) -> tuple[dict[str, int], dict[str, tuple[int, int]], float]:
    """Frame counts, sizes and the frame rate; each video opens and decodes its first frame, and
    the rates agree (within ``RATE_TOLERANCE``): frames are combined by position, nothing is resampled."""
    import cv2

    counts, sizes, rates = {}, {}, {}
    for c, path in videos.items():
        if path.stat().st_size == 0:
            raise InputError(f"{path}: empty file (camera {c})")
        cap = cv2.VideoCapture(str(path))
        try:
            if not cap.isOpened():
                raise InputError(f"{path}: unreadable video (camera {c}): not a video OpenCV can open")
            ok, first = cap.read()
            if not ok or first is None:
                raise InputError(f"{path}: unreadable video (camera {c}): no frame could be decoded")
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            if count <= 0:  # a container that does not say: count by decoding
                count = 1
                while cap.grab():
                    count += 1
            counts[c] = count
            sizes[c] = (int(first.shape[1]), int(first.shape[0]))
            rate = float(cap.get(cv2.CAP_PROP_FPS))
            if np.isfinite(rate) and rate > 0:
                rates[c] = rate
        finally:
            cap.release()
    if rates and max(rates.values()) > min(rates.values()) * (1 + RATE_TOLERANCE):
        listing = ", ".join(f"{c}: {r:.4g} fps" for c, r in rates.items())
        raise InputError(f"{folder}: the cameras have different frame rates ({listing}): frame i of every camera "
                         f"must be the same instant, and reconstruct does not resample; convert the videos to one "
                         f"rate first, or leave cameras out (--cameras)")
    return counts, sizes, float(np.median(list(rates.values()))) if rates else 0.0


def _scene_capture(folder: Path, calibrated: list[str], chosen: list[str] | None,
                   calibration: Calibration | None) -> Capture:
    from engine.io.scene import read_scene

    scene = read_scene(folder, load_arrays=False)
    names = scene.camera_names
    if chosen is not None:
        _chosen(chosen, folder, names, calibrated)
    order = chosen if chosen is not None else [n for n in names if n in calibrated]
    sources = {n: [scene.image_path(names.index(n))] for n in order}
    if not sources:
        raise InputError(f"{folder}: none of its views {', '.join(names)} is in the calibration")
    if calibration is not None:
        check_baselines(calibration.subset(order))
    sizes = {}
    for n, (path,) in sources.items():
        if not Path(path).is_file():
            raise InputError(f"{path}: missing image (view {n} of {folder / 'scene.json'})")
        sizes[n] = _image_size(path, n)
    return Capture(folder, "scene", sources, 1, 0.0, [], sizes)

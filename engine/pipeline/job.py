"""The whole job as one library call: footage + calibration -> a fitted body per frame, in
the calibration's world frame and units (the CLI's ``reconstruct`` and ``demo``, the add-on
and a user's script all go through it).

```
import engine
result = engine.reconstruct("capture/videos", "capture/Calib.toml", frames="0:100:2",
                            options=engine.ReconstructOptions(smooth=2.0))
result.vertices            # (T, V, 3) engine frame; result.save("fit/") writes what the CLI writes
```

Steps, as in diffusers' pipelines: ``prepare`` checks every option, reads the calibration and
opens the footage (nothing detected or written yet, so bad input fails at once); ``Job.run``
detects (cached when given a cache folder), fits the frames, filters them in time and scores
them; ``Reconstruction.save`` writes the files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from engine.detect.pose_models import DEFAULT_POSE_MODEL
from engine.errors import InputError
from engine.pipeline.options import (check_count, check_device, check_nonnegative, check_positive, check_proxies,
                                     parse_frames, parse_units, parse_up)
from engine.step_progress import Progress, no_progress

PREVIEW_FRAMES = 3  # frames kept for the overlays


@dataclass(frozen=True)
class ReconstructOptions:
    """Everything but the inputs; the names are the CLI's options."""

    proxies: str = "none"  # "none": landmarks and masks; "model": add the proxy generator's dense proxies
    checkpoint: Path | None = None  # with proxies="model": a trained generator (default: the shipped one)
    samples: int = 3
    steps: int = 4
    device: str = "auto"
    body: str = "anny"
    smplx_model: Path | None = None
    keypoints: Path | None = None  # OpenPose JSON folders instead of MediaPipe
    keypoints_order: str | None = None
    strict: bool = False
    smooth: float = 1.0
    refine_cameras: bool = False
    fps: float | None = None
    units: str | None = None
    up: str | None = None
    overlay_scale: float = 1.0
    pose_model: str = DEFAULT_POSE_MODEL  # BlazePose's landmark model: "heavy" or "full" (engine.detect.pose_models)
    sync: Path | None = None  # calibrate --sync's report.json (or its folder): each camera's start_frame

    def checked(self) -> "ReconstructOptions":
        check_count("--samples", self.samples)
        check_count("--steps", self.steps)
        check_nonnegative("--smooth", self.smooth)
        check_positive("--fps", self.fps)
        check_positive("--overlay-scale", self.overlay_scale)
        if self.overlay_scale > 1:
            raise InputError(f"--overlay-scale: at most 1 (the footage's size), got {self.overlay_scale!r}")
        parse_units(self.units)
        parse_up(self.up)
        from engine.detect.pose_models import check_pose_model

        check_pose_model(self.pose_model)
        return replace(self, device=check_device(self.device),
                       checkpoint=generator_checkpoint(self.proxies, self.checkpoint))


@dataclass
class Job:
    """A checked reconstruction, ready to run."""

    folder: Path
    calibration: object  # engine.io.calibration.Calibration
    capture: object  # engine.pipeline.capture.Capture
    cameras: list[str]
    frames: list[int]
    fps: float
    notes: list[str]
    options: ReconstructOptions
    keypoints: object = None  # _KeypointSource with options.keypoints

    def run(self, reconstructor=None, cache=None, progress: Progress = no_progress):
        """-> Reconstruction. ``cache``: an ``engine.io.outdir.OutputFolder`` (or a folder) where
        detections are cached, keyed on the footage and the detector. ``progress("reconstruct",
        frames done, frames)``: once with 0 done before the models load, then after each frame."""
        from engine.pipeline.report import far_off, ground_truth, summary, world_notes
        from engine.pipeline.reconstructor import Reconstructor
        from engine.pipeline.sequence import reconstruct_frames

        t_start = time.perf_counter()
        progress("reconstruct", 0, len(self.frames))
        o = self.options
        rec = reconstructor or Reconstructor.from_pretrained(o.checkpoint, body=o.body, device=o.device,
                                                             smplx_model=o.smplx_model, samples=o.samples,
                                                             steps=o.steps, pose_model=o.pose_model)
        rec.options = replace(rec.options, refine_cameras=o.refine_cameras)
        keep = set(self.frames[:: max(1, -(-len(self.frames) // PREVIEW_FRAMES))][:PREVIEW_FRAMES])
        previews = {}

        def frames_iter():
            for f, images in self.capture.read(self.frames, self.cameras):
                if f in keep:
                    previews[f] = dict(images)
                yield f, images

        units, up = parse_units(o.units), parse_up(o.up)
        t_load = time.perf_counter() - t_start
        result = reconstruct_frames(rec, frames_iter(), self.calibration, fps=self.fps,
                                    cache=self._cache(cache, rec), keypoints=self.keypoints, smooth_sigma=o.smooth,
                                    progress=progress, total=len(self.frames), strict=o.strict,
                                    world=_given_world(units, up))
        folder_notes = list(getattr(cache, "notes", []))
        result.notes[:0] = [n for n in self.notes + folder_notes if n not in result.notes]
        result.notes += world_notes(result.world, units, up)
        result.body, result.previews, result.overlay_scale = rec.body, previews, o.overlay_scale
        result.summary = summary(result, t_start)
        result.summary["problems"] = far_off(result)
        result.summary.update(ground_truth(self.folder, result, rec))
        result.summary["seconds_load"] = t_load
        result.summary["seconds_total"] = time.perf_counter() - t_start
        return result

    def run_into(self, out, reconstructor=None, progress: Progress = no_progress) -> dict:
        """``run``, written into the folder ``out`` as ``diffproxy reconstruct --out`` writes it:
        the folder locked while it runs (a second run into it is refused), its detections cached
        there (a rerun resumes from them), the files staged and published whole, an earlier run's
        outputs replaced. -> the summary (report.json, the ``--json`` line)."""
        from engine.io.files import strict_json
        from engine.io.outdir import OutputFolder

        with OutputFolder(out, "reconstruct") as folder:
            result = self.run(reconstructor, folder, progress)
            result.save(folder)
        return strict_json(result.summary)

    def _cache(self, cache, rec):
        """Detections cached in ``cache``, keyed on the footage (or the OpenPose files) and the
        detector's settings."""
        from engine.pipeline.detection_cache import DetectionCache, footage_identity

        if cache is None:
            return None
        root, track = (cache.path, cache.track) if hasattr(cache, "track") else (Path(cache), lambda p: None)
        if self.options.keypoints:
            signature = {"detector": "openpose", "folder": str(Path(self.options.keypoints).resolve()),
                         "order": self.options.keypoints_order}
            return DetectionCache(root / "keypoints", self.keypoints.identity, signature, track)
        from engine.detect.multiview import POLICY

        signature = getattr(rec.detector, "signature", None) or {"detector": type(rec.detector).__qualname__}
        signature = {**signature, "views_policy": POLICY}
        return DetectionCache(root / "detections", footage_identity(self.capture), signature, track)


def prepare(capture, calibration=None, *, frames=None, cameras=None, options: ReconstructOptions | None = None,
            out: Path | None = None) -> Job:
    """Check everything before any work: the options, the calibration (a file or folder; None:
    the capture's scene.json), the footage (``capture``: a folder of videos, of frame folders,
    or a scene), the frames ("START:STOP[:STEP]", "N" or None for all) and the cameras (names,
    or a comma-separated string; None: every camera with footage). ``out``: a folder inside
    the capture that is not footage."""
    from engine.io.calibration import read_calibration
    from engine.pipeline.capture import open_capture

    options = (options or ReconstructOptions()).checked()
    folder = Path(capture)
    span = parse_frames(frames)
    calib_path = calibration or (folder / "scene.json" if (folder / "scene.json").exists() else None)
    if calib_path is None:
        raise InputError(f"{folder}: no --calibration given and no scene.json in the folder")
    calib = read_calibration(calib_path)
    wanted = _camera_names(cameras)
    starts = None
    if options.sync is not None:
        from engine.pipeline.sync import read_start_frames

        starts = read_start_frames(options.sync)
    footage = open_capture(folder, calib, strict=options.strict, skip=out, cameras=wanted, starts=starts)
    frame_list, range_notes = _frame_list(footage, span, options.strict)
    rate, rate_notes = _frame_rate(footage, options.fps)
    keypoints = (_KeypointSource(options.keypoints, options.keypoints_order, footage.cameras)
                 if options.keypoints else None)
    return Job(folder, calib, footage, footage.cameras, frame_list, rate, footage.notes + range_notes + rate_notes,
               options, keypoints)


def reconstruct(capture, calibration=None, *, frames=None, cameras=None, options: ReconstructOptions | None = None,
                reconstructor=None, cache=None, progress: Progress = no_progress):
    """The whole job: ``prepare`` then ``Job.run``. -> ``Reconstruction`` (``.save(folder)``).
    ``progress(stage, done, total)`` (``engine.step_progress.Progress``): frames done, as it goes."""
    job = prepare(capture, calibration, frames=frames, cameras=cameras, options=options)
    return job.run(reconstructor, cache, progress)


def reconstruct_into(out, capture, calibration=None, *, frames=None, cameras=None,
                     options: ReconstructOptions | None = None, reconstructor=None,
                     progress: Progress = no_progress) -> dict:
    """The whole job written into the folder ``out`` (``Job.run_into``); what ``diffproxy
    reconstruct`` does. -> the summary."""
    job = prepare(capture, calibration, frames=frames, cameras=cameras, options=options, out=out)
    return job.run_into(out, reconstructor, progress)


def generator_checkpoint(proxies: str, checkpoint: Path | None) -> Path | None:
    """The proxy generator ``--proxies`` asks for: None for "none", ``checkpoint`` or the shipped
    model for "model"."""
    if check_proxies(proxies, "reconstruct") == "none":
        return None
    from engine.diffusion.checkpoint import default_checkpoint

    return default_checkpoint(checkpoint)


def _camera_names(cameras) -> list[str] | None:
    if cameras is None:
        return None
    wanted = [c.strip() for c in (cameras.split(",") if isinstance(cameras, str) else cameras) if c.strip()]
    if not wanted or len(set(wanted)) != len(wanted):
        raise InputError(f"--cameras: expected distinct camera names separated by commas, got {cameras!r}")
    return wanted


def _frame_list(capture, span: tuple[int, int | None, int], strict: bool) -> tuple[list[int], list[str]]:
    """The frames asked for; a STOP past the footage's end is cut to it with a note (refused
    with --strict)."""
    start, stop, step = span
    if stop is not None and stop > capture.frames and start < capture.frames and step >= 1 and not strict:
        note = (f"--frames {start}:{stop}:{step}: the footage has {capture.frames} frame(s): using "
                f"{start}:{capture.frames}:{step}")
        return capture.frame_range(start, capture.frames, step), [note]
    return capture.frame_range(start, stop, step), []


def _frame_rate(capture, fps: float | None) -> tuple[float, list[str]]:
    """--fps, else the videos' rate, else 30 with a note (frame folders carry no rate)."""
    if fps is not None:
        if capture.fps and abs(capture.fps - fps) > 1e-3:
            return fps, [f"--fps {fps:g} used instead of the videos' {capture.fps:g} frames per second"]
        return fps, []
    if capture.fps and capture.fps > 0:
        return capture.fps, []
    return 30.0, ["the footage says no frame rate (frame folders): 30 frames per second assumed (set it with --fps)"]


def _given_world(units: tuple[float, str] | None, up: str | None):
    """The world the user gave (--units, --up), or None to find both from the person. One of
    the two alone: the other is found; see ``reconstruct_frames``."""
    from engine.pipeline.world import WorldFrame

    if units is None and up is None:
        return None
    u, name = units if units is not None else (float("nan"), "")
    return WorldFrame(u, name, up or "", 0.0, "given")


class _KeypointSource:
    """callable(frame, calibration) -> detections from OpenPose JSON: in each view the person
    most consistent with the others (triangulation). ``identity(frame, cameras)``: the files
    a frame's detections come from (the detection cache keys on them)."""

    def __init__(self, folder: Path, order: str | None, cameras: list[str]):
        from engine.detect.openpose import list_openpose_files

        self.folder, self.order, self.cameras = Path(folder), order, cameras
        self.files = list_openpose_files(folder)
        missing = [c for c in cameras if c not in self.files]
        if missing:
            raise InputError(f"--keypoints {folder}: no OpenPose files for camera(s) {', '.join(missing)} "
                             f"(found: {', '.join(self.files) or 'none'})")

    def path(self, camera: str, frame: int) -> Path:
        path = self.files[camera].get(frame)
        if path is None:
            raise InputError(f"--keypoints {self.folder}: camera {camera} has no file for frame {frame}")
        return path

    def identity(self, frame: int, cameras: list[str]) -> dict:
        from engine.pipeline.detection_cache import files_identity

        return files_identity({c: self.path(c, frame) for c in cameras})

    def __call__(self, frame: int, calib):
        from engine.detect.openpose import openpose_order, openpose_to_detection, read_openpose_json
        from engine.pipeline.keypoints import pick_consistent

        people = []
        for c in self.cameras:
            path = self.path(c, frame)
            people.append([openpose_to_detection(k, openpose_order(len(k), path.parent, self.order))
                           for k in read_openpose_json(path)])
        return pick_consistent(people, [calib[c].projection() for c in self.cameras])

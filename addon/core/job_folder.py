"""A reconstruction job as the scene holds it, written to a folder ``diffproxy reconstruct`` reads:

- ``cameras.json``: the scene's chosen cameras in the project's camera JSON
  (``engine.io.calibration``), each Blender camera turned into an OpenCV one by the one
  conversion (``blender_camera.blender_to_opencv``) and from Blender's world (Z up, metres)
  back into the world the capture was imported in (its up axis and units), so the fit comes
  back in the calibration's own frame, as from the original file;
- ``footage/``: one link per camera to its footage, named after the camera
  (``<camera>.mp4`` or ``<camera>/`` of frames), as the engine expects;
- ``job.json``: what was asked (cameras, frames, footage, notes), for the record.

Lens distortion: a Blender camera has none. An imported camera keeps the calibration's
coefficients as long as its intrinsics (fx, fy, cx, cy) are the ones it was imported with
(moving or turning it changes no lens); a camera whose focal length, sensor, shift or size
changed gets none, and a note says so.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..vendor.blender_camera import BlenderCamera, blender_to_opencv
from ..vendor.calibration import Calibration, CameraCalibration, write_calibration_json
from ..vendor.errors import InputError
from ..vendor.world import WorldFrame

CALIBRATION = "cameras.json"
FOOTAGE = "footage"
RECORD = "job.json"
JOB_KIND = "diffproxy.blender_job"  # the mark of a job folder this add-on wrote
NO_CAMERAS = ("no cameras with footage to reconstruct from: import a capture (Import Capture) or give the scene's "
              "cameras their footage as a movie clip background")
SAME_INTRINSICS_PX = 0.01  # K this close to the imported one: the imported lens distortion still holds


@dataclass
class SceneCamera:
    """One camera of the scene, as the job needs it."""

    name: str
    settings: BlenderCamera  # lens, sensor, shift, resolution, world matrix (Blender's world)
    footage: Path  # a video file, or the first file of a frame sequence
    dist: np.ndarray | None = None  # the imported calibration's coefficients, if any
    imported_K: np.ndarray | None = None  # (3, 3) K as imported (None: made in Blender)


@dataclass
class JobFiles:
    folder: Path
    calibration: Path
    footage: Path
    notes: list[str]


def opencv_camera(cam: SceneCamera, world: WorldFrame) -> tuple[CameraCalibration, str | None]:
    """-> (the calibration entry in ``world``'s frame and units, a note when distortion was dropped)."""
    K, R, t, (w, h) = blender_to_opencv(cam.settings)
    R, t = world.camera_to_user(R, t)
    dist, note = np.zeros(5), None
    if cam.dist is not None and np.any(cam.dist):
        if cam.imported_K is not None and np.abs(K - cam.imported_K).max() <= SAME_INTRINSICS_PX:
            dist = np.asarray(cam.dist, dtype=np.float64)
        else:
            note = (f"{cam.name}: focal length, sensor, shift or size changed since import: its lens distortion "
                    f"no longer applies and is left out")
    return CameraCalibration(cam.name, K, dist, R, t, w, h), note


def write_job(folder: str | Path, cameras: list[SceneCamera], world: WorldFrame, frames: str) -> JobFiles:
    """Write the job folder afresh (everything in it is the job's); -> its files and notes."""
    folder = Path(folder)
    if not cameras:
        raise InputError(NO_CAMERAS)
    names = [c.name for c in cameras]
    for name in names:
        if not name or any(ch in name for ch in '/\\:*?"<>|') or name in (".", ".."):
            raise InputError(f"camera {name!r}: its name cannot name a footage file; rename the camera")
    if len({n.lower() for n in names}) != len(names):
        raise InputError(f"camera names repeat (case aside): {', '.join(names)}")
    entries, notes = [], []
    for cam in cameras:
        if not Path(cam.footage).exists():
            raise InputError(f"camera {cam.name}: its footage {cam.footage} is missing")
        entry, note = opencv_camera(cam, world)
        entries.append(entry)
        notes += [note] if note else []
    clear_job_folder(folder)
    (folder / FOOTAGE).mkdir(parents=True)
    calibration = folder / CALIBRATION
    write_calibration_json(Calibration(entries, calibration, "json"), calibration)
    linked = {cam.name: str(_link_footage(folder / FOOTAGE, cam)) for cam in cameras}
    record = {"kind": JOB_KIND, "cameras": names, "frames": frames, "footage": linked,
              "world": world.record(), "notes": notes}
    (folder / RECORD).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return JobFiles(folder, calibration, folder / FOOTAGE, notes)


def clear_job_folder(folder: Path) -> None:
    """Remove an earlier job folder, only when it is one this add-on wrote: its ``job.json``
    carries the add-on's mark and it holds nothing but the job's own files (``footage/`` only
    links). Anything else there is the user's: refused, nothing deleted."""
    if not folder.exists() and not folder.is_symlink():
        return

    def refuse(why: str) -> InputError:
        return InputError(f"{folder}: left as it is ({why}): Reconstruct replaces only a job folder it wrote "
                          f"itself; move it away or choose another fit folder")

    if folder.is_symlink() or not folder.is_dir():
        raise refuse("not a folder of its own")
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        record = None
    if not isinstance(record, dict) or record.get("kind") != JOB_KIND:
        raise refuse(f"no {RECORD} with kind {JOB_KIND!r}")
    extra = sorted(p.name for p in folder.iterdir() if p.name not in (RECORD, CALIBRATION, FOOTAGE))
    footage = folder / FOOTAGE
    if footage.is_symlink() or (footage.exists() and not footage.is_dir()):
        extra.append(FOOTAGE)
    elif footage.is_dir():
        linked = record.get("footage") if isinstance(record.get("footage"), dict) else {}
        extra += [f"{FOOTAGE}/{p.name}" for p in footage.iterdir() if not _is_job_link(p, linked)]
    if extra:
        raise refuse(f"it also holds {', '.join(extra[:5])}")
    if footage.is_dir():
        for p in footage.iterdir():
            p.unlink()  # a link: the footage it points to stays
        footage.rmdir()
    for name in (CALIBRATION, RECORD):
        if (folder / name).is_file():
            (folder / name).unlink()
    folder.rmdir()


def _is_job_link(path: Path, linked: dict) -> bool:
    """A footage entry the add-on made: a symbolic link, or (where links cannot be made) a
    hard link to the video that job.json names for that camera."""
    if path.is_symlink():
        return True
    source = linked.get(path.stem)
    if not isinstance(source, str) or not path.is_file():
        return False
    try:
        return os.path.samefile(path, source)
    except OSError:
        return False


def _link_footage(footage: Path, cam: SceneCamera) -> Path:
    """``footage/<camera><suffix>`` -> the video; ``footage/<camera>/`` -> the frames' folder."""
    source = Path(cam.footage).resolve()
    video = source.suffix.lower() in (".mp4", ".mov", ".avi", ".mkv")
    target = source if video else source.parent
    link = footage / (cam.name + source.suffix.lower() if video else cam.name)
    try:
        os.symlink(target, link, target_is_directory=not video)
    except OSError as e:  # e.g. Windows without the right to make links: a hard link for a file
        if not video:
            raise InputError(f"camera {cam.name}: cannot link its frames {target} into {footage}: {e}") from None
        try:
            os.link(target, link)
        except OSError as e2:
            raise InputError(f"camera {cam.name}: cannot link its footage {target} into {footage}: {e2}") from None
    return target


def frames_option(frames: str, scene_start: int, scene_end: int, clip_start: int, clip_frames: int) -> str:
    """The ``--frames`` of the job: the panel's setting when given, else the scene's frame
    range turned into footage frames (scene frame ``clip_start`` shows footage frame 0), cut to
    the footage."""
    if frames.strip():
        return frames.strip()
    start, stop = max(0, scene_start - clip_start), min(clip_frames, scene_end - clip_start + 1)
    if stop <= start:
        raise InputError(f"frame range {scene_start}-{scene_end}: no footage frame in it (the footage shows at "
                         f"scene frames {clip_start}-{clip_start + clip_frames - 1})")
    return f"{start}:{stop}"

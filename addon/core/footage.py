"""A camera's footage, named as ``diffproxy reconstruct`` expects it: ``<folder>/<camera>.mp4``
(.mov, .avi, .mkv) or a folder ``<folder>/<camera>/`` of numbered frames (.png, .jpg, ...).
Blender opens an image sequence from its first file and counts on numbered file names."""

from __future__ import annotations

from pathlib import Path

from ..vendor.errors import InputError

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".exr")


def find_footage(folder: str | Path, cameras: list[str]) -> tuple[dict[str, Path], list[str]]:
    """-> ({camera: video file or first frame file}, [cameras without footage])."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"footage folder {folder}: missing or not a folder")
    files = {p.name.lower(): p for p in folder.iterdir()}
    found, missing = {}, []
    for cam in cameras:
        video = next((files[n] for n in (cam.lower() + s for s in VIDEO_SUFFIXES) if n in files and files[n].is_file()),
                     None)
        sub = files.get(cam.lower())
        frames = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if sub and sub.is_dir() else []
        if video and frames:
            raise InputError(f"footage folder {folder}: camera {cam} has both {video.name} and frames in {sub.name}/; "
                             f"keep one")
        if video or frames:
            found[cam] = video or frames[0]
        else:
            missing.append(cam)
    if not found:
        raise InputError(f"footage folder {folder}: no footage for any camera ({', '.join(cameras)}); expected "
                         f"<camera>{'|'.join(VIDEO_SUFFIXES)} or a folder <camera>/ of frames")
    return found, missing

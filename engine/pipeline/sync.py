"""Cameras started by hand: each camera's first frame of the common instant (``start_frame``,
what ``diffproxy calibrate --sync`` writes into its ``report.json``), read for ``reconstruct
--sync``. Frame 0 of the reconstruction is frame ``start_frame[camera]`` of each camera's
footage (``engine.pipeline.capture.Capture.starts``)."""

from __future__ import annotations

import json
from pathlib import Path

from engine.errors import InputError

REPORT = "report.json"


def read_start_frames(path: Path) -> dict[str, int]:
    """``start_frame`` of a report (a ``report.json`` file or the folder holding it) -> {camera: frame}."""
    path = Path(path)
    file = path / REPORT if path.is_dir() else path
    if not file.is_file():
        raise InputError(f"--sync: {file}: no such file (expected calibrate --sync's {REPORT}, or its folder)")
    try:
        report = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"--sync: {file}: not readable JSON ({e})") from None
    starts = report.get("start_frame") if isinstance(report, dict) else None
    if not isinstance(starts, dict) or not starts:
        raise InputError(f"--sync: {file}: no start_frame (a {{camera: frame}} object; run calibrate with --sync)")
    for camera, frame in starts.items():
        if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
            raise InputError(f"--sync: {file}: start_frame.{camera}: expected a frame number >= 0, got {frame!r}")
    return dict(starts)


def check_start_frames(starts: dict[str, int], counts: dict[str, int], folder: Path) -> list[str]:
    """Every camera of the footage (``counts``: its frame count) needs a start inside its footage;
    -> the note that says how they were aligned."""
    missing = [c for c in counts if c not in starts]
    if missing:
        raise InputError(f"--sync: no start_frame for camera(s) {', '.join(missing)} of {folder} "
                         f"(the report has {', '.join(starts)})")
    beyond = [f"{c}: {starts[c]} of {n}" for c, n in counts.items() if starts[c] >= n]
    if beyond:
        raise InputError(f"--sync: start_frame beyond the footage in {', '.join(beyond)} frame(s)")
    listed = ", ".join(f"{c} from frame {starts[c]}" for c in counts)
    return [f"cameras synchronised (--sync): {listed}"]

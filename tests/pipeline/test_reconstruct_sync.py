"""``reconstruct --sync``: cameras started by hand, aligned by calibrate --sync's start frames
(``engine.pipeline.sync``): frame 0 of the capture is each camera's start frame, in videos and
frame folders alike, the detection cache keyed on the footage's own frame, bad reports named."""

import json

import numpy as np
import pytest
from test_capture_inputs import CAMERAS, frames, one_line_error, write_images, write_video  # noqa: F401

from engine.errors import InputError
from engine.pipeline.capture import open_capture
from engine.pipeline.detection_cache import footage_identity
from engine.pipeline.sync import read_start_frames

STARTS = {"cam01": 2, "cam02": 0, "cam03": 1, "cam04": 3}


def _cut(frames):  # noqa: F811  (the fixture)
    """Each camera's footage as if started STARTS[cam] frames before the latest: frame
    STARTS[cam] of it is the instant of every other camera's start frame. Each image is marked
    with the instant it shows (a grey level) so the test can tell them apart."""
    base = frames["cam01"][0]
    out = {}
    for cam in CAMERAS:
        images = []
        for k in range(4 + STARTS[cam]):
            instant = k - STARTS[cam]  # negative: before the common start
            images.append(np.full_like(base, 40 + 30 * (instant + 3)))
        out[cam] = images
    return out


def _instant(image) -> int:
    return round((float(np.median(image)) - 40) / 30) - 3


def _report(tmp_path, starts=STARTS):
    path = tmp_path / "calib" / "report.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"start_frame": starts}))
    return path


@pytest.mark.parametrize("kind", ["videos", "frames"])
def test_frame_zero_is_each_cameras_start_frame(tmp_path, frames, kind):  # noqa: F811
    footage = tmp_path / "footage"
    for cam, images in _cut(frames).items():
        if kind == "videos":
            write_video(footage / f"{cam}.mp4", images)
        else:
            write_images(footage / cam, images, ".png")
    starts = read_start_frames(_report(tmp_path).parent)  # the folder works as the file
    capture = open_capture(footage, CAMERAS, starts=starts)
    assert capture.frames == 4  # every camera's frames from its start: 4 instants in common
    assert any("synchronised" in n and "cam04 from frame 3" in n for n in capture.notes)
    for f, images in capture.read([0, 1, 3]):
        assert {c: _instant(im) for c, im in images.items()} == {c: f for c in CAMERAS}
    identity = footage_identity(capture)(1, CAMERAS)
    if kind == "videos":
        assert {c: identity[c]["index"] for c in CAMERAS} == {c: 1 + STARTS[c] for c in CAMERAS}
    else:
        assert {c: identity[c]["file"][0].endswith(f"{1 + STARTS[c]:06d}.png") for c in CAMERAS} == \
            {c: True for c in CAMERAS}


def test_bad_reports_and_starts_are_named(tmp_path, frames):  # noqa: F811
    footage = tmp_path / "footage"
    for cam, images in _cut(frames).items():
        write_video(footage / f"{cam}.mp4", images)
    with pytest.raises(InputError, match="no such file"):
        read_start_frames(tmp_path / "nowhere.json")
    (tmp_path / "empty.json").write_text(json.dumps({"cameras": {}}))
    with pytest.raises(InputError, match="no start_frame"):
        read_start_frames(tmp_path / "empty.json")
    with pytest.raises(InputError, match=r"start_frame\.cam02: expected a frame number >= 0, got -1"):
        read_start_frames(_report(tmp_path, {**STARTS, "cam02": -1}))
    message = one_line_error(footage, CAMERAS, starts={c: STARTS[c] for c in CAMERAS[:3]})
    assert "no start_frame for camera(s) cam04" in message
    message = one_line_error(footage, CAMERAS, starts={**STARTS, "cam03": 9})
    assert "beyond the footage in cam03: 9 of 5" in message

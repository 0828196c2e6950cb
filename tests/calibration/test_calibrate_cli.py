"""``diffproxy calibrate``: bad input exits 2 with one line naming the camera, file or option
(fast, before any detection), and, marked slow, the whole command on the bundled capture."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from engine.cli.main import app
from tests.calibration.support import EXAMPLE, INTRINSICS


def _video(path, fps, frames=3, size=(64, 48)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), 40 * i, np.uint8))
    writer.release()


def _run(*args):
    return CliRunner().invoke(app, ["calibrate", *map(str, args)])


def test_mixed_frame_rates_are_refused_naming_the_cameras(tmp_path):
    _video(tmp_path / "left.mp4", 30)
    _video(tmp_path / "right.mp4", 25)
    result = _run(tmp_path, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "different frame rates (left: 30 fps, right: 25 fps)" in result.stderr


def test_cameras_leaves_out_the_others_footage(tmp_path):
    _video(tmp_path / "left.mp4", 30)
    _video(tmp_path / "right.mp4", 25)
    _video(tmp_path / "top.mp4", 30)
    result = _run(tmp_path, "--out", tmp_path / "out", "--cameras", "left,top")  # right's rate is not checked
    assert result.exit_code == 2, result.output
    assert "no person found in any frame of camera(s) left, top" in result.stderr
    result = _run(tmp_path, "--out", tmp_path / "out", "--cameras", "left,side")
    assert result.exit_code == 2
    assert "--cameras: side is not a camera of this capture" in result.stderr


def test_one_camera_is_not_enough(tmp_path):
    _video(tmp_path / "solo.mp4", 30)
    result = _run(tmp_path, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "footage of 1 camera(s) (solo)" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--board", "checkerboard:4x7:60"], "--board needs --board-images too"),
    (["--board-images", "photos"], "--board-images needs --board too"),
    (["--height", "175"], "--height: 175.0 is not a person's height in metres"),
    (["--board", "checkerboard:4x7", "--board-images", "photos"], "is not a board"),
])
def test_bad_options_are_refused_naming_them(tmp_path, args, message):
    _video(tmp_path / "a.mp4", 30)
    _video(tmp_path / "b.mp4", 30)
    (tmp_path / "photos").mkdir()
    args = [a if a != "photos" else tmp_path / "photos" for a in args]
    result = _run(tmp_path, "--out", tmp_path / "out", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_a_camera_whose_photos_never_show_the_board_is_named(tmp_path):
    _video(tmp_path / "a.mp4", 30)
    _video(tmp_path / "b.mp4", 30)
    photos = tmp_path / "photos" / "int_b_img"
    photos.mkdir(parents=True)
    for i in range(3):
        cv2.imwrite(str(photos / f"{i}.png"), np.full((48, 64), 128, np.uint8))
    result = _run(tmp_path, "--out", tmp_path / "out", "--board", "checkerboard:4x7:60", "--board-images",
                  tmp_path / "photos")
    assert result.exit_code == 2, result.output
    assert "camera b: the board (checkerboard 4x7 inner corners, 60 mm squares) was found in 0 of 3" in result.stderr


@pytest.mark.parametrize("kind", ["videos", "frames"])
def test_footage_where_nobody_is_found_names_the_cameras(tmp_path, kind):
    for camera in ("a", "b"):
        if kind == "videos":
            _video(tmp_path / f"{camera}.mp4", 30)
        else:
            (tmp_path / camera).mkdir()
            for i in range(2):
                cv2.imwrite(str(tmp_path / camera / f"{i:06d}.png"), np.full((48, 64, 3), 90 * i, np.uint8))
    result = _run(tmp_path, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "no person found in any frame of camera(s) a, b" in result.stderr
    assert not (tmp_path / "out" / "calibration.toml").exists()


@pytest.mark.slow
@pytest.mark.skipif(INTRINSICS is None, reason="the board photos (shared examples) are not here")
def test_the_bundled_capture_calibrates_close_to_its_calib_toml(tmp_path):
    """Board + person on the bundled capture, Calib.toml withheld (about 60 s: 400 detections)."""
    import sys

    from engine.io.calibration import read_calibration

    out = tmp_path / "calib"
    result = _run(EXAMPLE / "videos", "--out", out, "--board", "checkerboard:4x7:60", "--board-images", INTRINSICS,
                  "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == json.loads((out / "report.json").read_text())
    assert report["not_placed"] == [] and len(report["cameras"]) == 4
    assert all(c["reprojection_median_px"] < 10 for c in report["cameras"].values())
    assert (out / "cameras_top.png").stat().st_size > 1000
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from compare_calibrations import compare

    found = compare(read_calibration(out / "calibration.toml"), read_calibration(EXAMPLE / "calibration/Calib.toml"))
    for name, c in found["cameras"].items():
        assert abs(c["focal_error_pct"]) < 2 and c["centre_error_cm"] < 10 and c["orientation_error_deg"] < 2.5, name
    assert abs(found["scale_found_over_true"] - 1) < 0.06


@pytest.mark.slow
def test_sync_finds_where_cut_videos_start(tmp_path):
    """The bundled videos cut at frames 0, 5, 12 and 3 (re-encoded): --sync gives each camera's
    start frame (about 60 s). Measured exact (docs/calibrate.md), but by a 0.05 px margin for
    cam03 on this slow-moving capture: one frame is allowed here."""
    cuts = {"cam01": 0, "cam02": 5, "cam03": 12, "cam04": 3}
    footage = tmp_path / "cut"
    footage.mkdir()
    for camera, start in cuts.items():
        cap = cv2.VideoCapture(str(EXAMPLE / "videos" / f"{camera}.mp4"))
        writer, index = None, 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if index >= start:
                if writer is None:
                    writer = cv2.VideoWriter(str(footage / f"{camera}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 60.0,
                                             (frame.shape[1], frame.shape[0]))
                writer.write(frame)
            index += 1
        writer.release()
        cap.release()
    result = _run(footage, "--out", tmp_path / "calib", "--sync", "--json")
    assert result.exit_code == 0, result.output
    starts = json.loads(result.stdout.strip().splitlines()[-1])["start_frame"]
    expected = {c: max(cuts.values()) - s for c, s in cuts.items()}
    assert all(abs(starts[c] - expected[c]) <= 1 for c in cuts), (starts, expected)
    assert sum(starts[c] == expected[c] for c in cuts) >= 3, (starts, expected)


def test_board_photos_of_another_shape_than_the_footage_are_refused_before_detection(tmp_path):
    from engine.calibration.board import Board, charuco_board

    _video(tmp_path / "a.mp4", 30, size=(640, 480))
    _video(tmp_path / "b.mp4", 30, size=(640, 480))
    board = Board.parse("charuco:5x5:40:30:4X4_50")
    image = charuco_board(board).generateImage((500, 500), marginSize=0)
    photos = tmp_path / "photos" / "a"
    photos.mkdir(parents=True)
    for i, angle in enumerate((-20, -10, 10, 20)):  # square photos: the footage is 4:3
        M = cv2.getRotationMatrix2D((350, 350), angle, 0.8)
        M[:, 2] += 100
        cv2.imwrite(str(photos / f"{i}.png"), cv2.warpAffine(image, M, (700, 700), borderValue=255))
    result = _run(tmp_path, "--out", tmp_path / "out", "--board", "charuco:5x5:40:30:4X4_50", "--board-images",
                  tmp_path / "photos")
    assert result.exit_code == 2, result.output
    assert "camera a: its board photos are 700x700, its footage 640x480" in result.stderr
    assert not (tmp_path / "out" / "detections").exists()
